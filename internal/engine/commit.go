package engine

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"github.com/hako-dev/hako/internal/image"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/hako-dev/hako/internal/archive"
	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/layer"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// CommitOptions are `commit`'s arguments.
type CommitOptions struct {
	Ref     string // optional REPOSITORY[:TAG]
	Message string
	Author  string
	// Changes edits the new image's config last: `--change` Dockerfile instructions, applied by
	// the caller's dockerfile.ApplyChanges (nil: none).
	Changes func(*image.ContainerConfig) error
	Pause   bool // freeze the container while its layer is written (Docker's default)
}

// Commit makes an image of a container: the container's image plus one layer of what the
// container changed (its writable layer, without the mount points the runtime made), with the
// container's command, environment, user and working directory, the changes applied, and a
// history line. The layer is stored uncompressed (its digest is its diffID) and unpacked into a
// committed snapshot in the same pass, so a container of the new image starts without another
// unpack. It returns the image ID.
func (e *Engine) Commit(ctx context.Context, ref string, o CommitOptions) (id digest.Digest, err error) {
	c, err := e.Containers().Get(ref)
	if err != nil {
		return "", err
	}
	name, err := optionalTag(o.Ref)
	if err != nil {
		return "", err
	}
	img, cfg, err := e.ResolveImage(ctx, c.Config.ImageID.String())
	if err != nil {
		return "", fmt.Errorf("commit %s: the container's image: %w", ref, err)
	}
	m, err := e.Images.Manifest(ctx, img)
	if err != nil {
		return "", err
	}
	if o.Pause && c.State.Running && !c.State.Paused {
		if rt, rerr := e.NewRuntime(); rerr == nil && rt.Pause(c.ID) == nil {
			defer rt.Resume(c.ID)
		}
	}

	lease, endLease, err := e.WriteLease(ctx)
	if err != nil {
		return "", err
	}
	failed := true
	defer func() { endLease(!failed) }()
	w, err := e.Content.Writer(ctx, lease)
	if err != nil {
		return "", err
	}
	defer w.Close()
	chain := layer.ChainIDs(cfg.RootFS.DiffIDs)
	parent := ""
	if len(chain) > 0 {
		parent = chain[len(chain)-1].String()
	}
	key := "tmp-commit-" + lease.ID()
	mounts, err := e.Snapshots.Prepare(ctx, key, parent, layer.TempLabels(lease))
	if err != nil {
		return "", err
	}
	committed := false
	defer func() {
		if !committed {
			e.Snapshots.Remove(context.WithoutCancel(ctx), key)
		}
	}()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(e.writeContainerLayer(ctx, c, pw)) }()
	res, err := layer.Apply(ctx, mounts, io.TeeReader(pr, w), "container "+c.Name)
	pr.CloseWithError(io.ErrClosedPipe)
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", ref, err)
	}
	blob, err := w.Commit(ctx, -1, res.DiffID)
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", ref, err)
	}
	diffIDs := append(slices.Clone(cfg.RootFS.DiffIDs), res.DiffID)
	newChain := layer.ChainIDs(diffIDs)
	if err := layer.CommitLayer(ctx, e.Snapshots, newChain[len(newChain)-1].String(), key); err != nil {
		return "", err
	}
	committed = true

	// The container's run options become the image's, as docker commit records them.
	ic := &cfg.Config
	if c.Config.Options.Entrypoint != nil {
		ic.Entrypoint = slices.Clone(*c.Config.Options.Entrypoint)
		ic.Cmd = nil
	}
	if len(c.Config.Cmd) > 0 {
		ic.Cmd = slices.Clone(c.Config.Cmd)
	}
	for _, kv := range c.Config.Options.Env {
		k, v, _ := strings.Cut(kv, "=")
		ic.Env = image.SetEnv(ic.Env, k, v)
	}
	if c.Config.Options.User != "" {
		ic.User = c.Config.Options.User
	}
	if c.Config.Options.WorkingDir != "" {
		ic.WorkingDir = c.Config.Options.WorkingDir
	}
	for k, v := range c.Config.Labels {
		if ic.Labels == nil {
			ic.Labels = map[string]string{}
		}
		ic.Labels[k] = v
	}
	if o.Changes != nil {
		if err := o.Changes(ic); err != nil {
			return "", err
		}
	}
	now := time.Now().UTC()
	cfg.Created = &now
	cfg.Author = o.Author
	cfg.Comment = o.Message
	cfg.RootFS.DiffIDs = diffIDs
	createdBy := strings.Join(append([]string{c.Path}, c.Args...), " ")
	cfg.History = append(cfg.History, ocispec.History{Created: &now, CreatedBy: createdBy, Author: o.Author, Comment: o.Message})
	layers := append(slices.Clone(m.Layers), ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: blob, Size: res.Size})
	parentID := digest.Digest("")
	if name != nil {
		parentID = img.ID
	}
	id, err = e.recordImage(ctx, lease, cfg, layers, name, parentID)
	if err != nil {
		return "", err
	}
	failed = false
	return id, nil
}

// writeContainerLayer writes the container's writable layer as a layer tar: the overlay upper
// dir (whiteouts as .wh. entries), or for the native snapshotter the difference from the image.
// The mount points that the runtime made (/proc, /dev, /sys, the /etc files, volumes) are left
// out, as Docker keeps them in an init layer that commit does not see.
func (e *Engine) writeContainerLayer(ctx context.Context, c *container.Container, w io.Writer) error {
	ms, err := e.Snapshots.Mounts(ctx, c.ID)
	if err != nil {
		return err
	}
	if len(ms) != 1 {
		return errdefs.Invalidf("snapshot of %s has %d mounts", c.Name, len(ms))
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := dropMountPointEntries(pr, w, e.mountPoints(c))
		if err == nil {
			_, err = io.Copy(io.Discard, pr) // what follows the tar trailer
		}
		pr.CloseWithError(err) // a failed filter fails the writer too, rather than blocking it
		done <- err
	}()
	// In a user namespace, an overlay's upper dir holds the host IDs the container runs as (only
	// its lower layers are idmapped, userns.go): the layer gets the container's. The other
	// writable layers are binds, idmapped as a whole, which hold the container's IDs on disk.
	var werr error
	switch m := ms[0]; {
	case m.Type == "overlay":
		upper := ""
		for _, opt := range m.Options {
			if k, v, ok := cutOpt(opt); ok && k == "upperdir" {
				upper = v
			}
		}
		if upper == "" {
			werr = errdefs.Invalidf("overlay snapshot of %s without an upper dir", c.Name)
			break
		}
		werr = archive.WriteOverlayDiff(ctx, pw, upper, archive.DiffOptions{Owner: userNSToContainer(c.Config.Options)})
	case e.Snapshotter == "overlay":
		werr = archive.WriteOverlayDiff(ctx, pw, m.Source, archive.DiffOptions{}) // an image without layers
	default:
		info, serr := e.Snapshots.Stat(ctx, c.ID)
		if serr != nil {
			werr = serr
			break
		}
		lower := ""
		if info.Parent != "" {
			key := "commit-view-" + container.NewID()[:12]
			vm, verr := e.Snapshots.View(ctx, key, info.Parent)
			if verr != nil {
				werr = verr
				break
			}
			defer e.Snapshots.Remove(context.WithoutCancel(ctx), key)
			lower = vm[0].Source
		}
		werr = archive.WriteDiff(ctx, pw, lower, m.Source, archive.DiffOptions{})
	}
	pw.CloseWithError(werr)
	if err := <-done; err != nil && werr == nil {
		return err
	}
	return werr
}

// dropMountPointEntries copies a tar, leaving out the entries at or under the mount points.
func dropMountPointEntries(r io.Reader, w io.Writer, points map[string]bool) error {
	tr, tw := tar.NewReader(r), tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		p := path.Clean("/" + hdr.Name)
		skip := false
		for q := p; q != "/"; q = path.Dir(q) {
			if points[q] {
				skip = true
				break
			}
		}
		if skip {
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}
