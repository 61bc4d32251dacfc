// Package layer joins the content store and the snapshotters: it unpacks an image's layer blobs
// into a chain of committed snapshots (keyed by chain ID) and turns a snapshot's changes back into
// a layer blob. The tar work itself is internal/archive's.
package layer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hako-dev/hako/internal/archive"
	"github.com/hako-dev/hako/internal/content"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/mount"
	"github.com/hako-dev/hako/internal/snapshot"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// LabelLease labels a temporary snapshot with the lock file of the lease of the process that made
// it, so that GC can tell an abandoned one (its owner was killed) from one in use.
const LabelLease = "hako.lease"

// MaxLayers is the deepest image hako accepts: the kernel's overlayfs limit of lower layers.
const MaxLayers = 500

// Target is where a layer can be written without mounting: the directory, and how deletions are
// recorded there. An overlay snapshot is written in its upper dir with overlay whiteouts; a bind
// (an overlay snapshot without parent, or a native one) holds the merged tree, so deletions delete.
func Target(mounts []mount.Mount) (dir string, wh archive.WhiteoutFormat, err error) {
	if len(mounts) != 1 {
		return "", 0, fmt.Errorf("layer target: want one mount, got %d", len(mounts))
	}
	m := mounts[0]
	switch m.Type {
	case "bind", "rbind":
		return m.Source, archive.OCIWhiteouts, nil
	case "overlay":
		for _, o := range m.Options {
			if v, ok := strings.CutPrefix(o, "upperdir="); ok {
				return v, archive.OverlayWhiteouts, nil
			}
		}
		return "", 0, fmt.Errorf("layer target: overlay mount without upperdir")
	}
	return "", 0, fmt.Errorf("layer target: unsupported mount type %q", m.Type)
}

// Apply extracts a layer stream (compressed or not) into an active snapshot's mounts.
func Apply(ctx context.Context, mounts []mount.Mount, r io.Reader, name string) (archive.ApplyResult, error) {
	dir, wh, err := Target(mounts)
	if err != nil {
		return archive.ApplyResult{}, err
	}
	rc, _, err := archive.DecompressStream(r)
	if err != nil {
		return archive.ApplyResult{}, errdefs.InvalidArgument(fmt.Errorf("apply layer %s: %w", name, err))
	}
	defer rc.Close()
	return archive.Apply(ctx, dir, rc, archive.ApplyOptions{Whiteouts: wh, Name: name})
}

func tempKey(what string) string {
	var b [6]byte
	rand.Read(b[:])
	return "tmp-" + hex.EncodeToString(b[:]) + "-" + what
}

// Unpacked tells whether Unpack has nothing to do: the image is one it accepts, and every
// layer's chain has its snapshot. The top one's says so for all: a snapshot that is another's
// parent cannot be removed (each Stat reads the snapshotter's metadata).
func Unpacked(ctx context.Context, sn snapshot.Snapshotter, layers []ocispec.Descriptor, diffIDs []digest.Digest) bool {
	if len(layers) != len(diffIDs) || len(layers) > MaxLayers {
		return false
	}
	chain := ChainIDs(diffIDs)
	if len(chain) == 0 {
		return true
	}
	_, err := sn.Stat(ctx, chain[len(chain)-1].String())
	return err == nil
}

// Unpack makes sure the snapshot chain of an image exists: for every layer whose chain ID has no
// committed snapshot, it applies the blob on top of its parent and commits it, checking that the
// uncompressed content has the diffID the config names.
func Unpack(ctx context.Context, sn snapshot.Snapshotter, cs *content.Store, lease *content.Lease, layers []ocispec.Descriptor, diffIDs []digest.Digest) error {
	if len(layers) != len(diffIDs) {
		return errdefs.Invalidf("unpack: manifest has %d layers but the config names %d diff IDs", len(layers), len(diffIDs))
	}
	if len(layers) > MaxLayers {
		return errdefs.Invalidf("unpack: image has %d layers, more than the %d that overlayfs can stack", len(layers), MaxLayers)
	}
	chain := ChainIDs(diffIDs)
	for i, l := range layers {
		if _, err := sn.Stat(ctx, chain[i].String()); err == nil {
			continue
		}
		parent := ""
		if i > 0 {
			parent = chain[i-1].String()
		}
		if err := unpackOne(ctx, sn, cs, lease, l, diffIDs[i], chain[i].String(), parent); err != nil {
			return err
		}
	}
	return nil
}

func unpackOne(ctx context.Context, sn snapshot.Snapshotter, cs *content.Store, lease *content.Lease, l ocispec.Descriptor, diffID digest.Digest, chainID, parent string) error {
	key := tempKey(chainID)
	mounts, err := sn.Prepare(ctx, key, parent, TempLabels(lease))
	if err != nil {
		return fmt.Errorf("unpack layer %s: %w", l.Digest, err)
	}
	ok := false
	defer func() {
		if !ok {
			sn.Remove(context.WithoutCancel(ctx), key)
		}
	}()
	f, err := cs.Open(ctx, l.Digest)
	if err != nil {
		return fmt.Errorf("unpack layer %s: %w", l.Digest, err)
	}
	defer f.Close()
	res, err := Apply(ctx, mounts, f, l.Digest.String())
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	if res.DiffID != diffID {
		return errdefs.Invalidf("unpack layer %s: content has diffID %s but the config says %s", l.Digest, res.DiffID, diffID)
	}
	if err := CommitLayer(ctx, sn, chainID, key); err != nil {
		return fmt.Errorf("unpack layer %s: %w", l.Digest, err)
	}
	ok = true
	return nil
}

// TempLabels labels a temporary snapshot with its owner's lease.
func TempLabels(lease *content.Lease) snapshot.Opt {
	if lease == nil {
		return snapshot.WithLabels(nil)
	}
	return snapshot.WithLabels(map[string]string{LabelLease: lease.LockPath()})
}

// CommitLayer commits an active snapshot as the layer chainID (the snapshotter measures and
// records its size as it commits). When another process committed the same chain first, the
// active snapshot is dropped: same content.
func CommitLayer(ctx context.Context, sn snapshot.Snapshotter, chainID, key string) error {
	err := sn.Commit(ctx, chainID, key, snapshot.WithLabels(map[string]string{LabelLease: ""}))
	if errors.Is(err, errdefs.ErrAlreadyExists) {
		sn.Remove(ctx, key)
		return nil
	}
	return err
}

// Size is the size of a committed layer snapshot, as its commit recorded it, or -1.
func Size(ctx context.Context, sn snapshot.Snapshotter, chainID string) int64 {
	u, err := sn.Usage(ctx, chainID)
	if err != nil {
		return -1
	}
	return u.Size
}

// ChainIDs computes the OCI chain ID of each layer prefix.
func ChainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		out[i] = digest.FromString(out[i-1].String() + " " + d.String())
	}
	return out
}
