package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/hako-dev/hako/internal/archive"
	"github.com/hako-dev/hako/internal/content"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/image"
	"github.com/hako-dev/hako/internal/layer"
	"github.com/hako-dev/hako/internal/reference"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImportOptions are `import`'s arguments.
type ImportOptions struct {
	Source string // "-" or the file name, for the history comment and errors
	Ref    string // optional REPOSITORY[:TAG]
	// Changes edits the image's config: --change, as commit's (nil: none).
	Changes func(*image.ContainerConfig) error
	Message string
}

// Import makes a one-layer image from a filesystem tarball (plain, gzip or zstd) in one pass: the
// stream is decompressed once, stored as the layer blob and unpacked into its snapshot together.
func (e *Engine) Import(ctx context.Context, r io.Reader, opts ImportOptions) (digest.Digest, error) {
	name, err := optionalTag(opts.Ref)
	if err != nil {
		return "", err
	}
	cfg := image.Config{}
	if opts.Changes != nil {
		if err := opts.Changes(&cfg.Config); err != nil {
			return "", err
		}
	}
	lease, endLease, err := e.WriteLease(ctx)
	if err != nil {
		return "", err
	}
	failed := true
	defer func() { endLease(!failed) }()

	rc, _, err := archive.DecompressStream(r)
	if err != nil {
		return "", errdefs.Invalidf("import %s: %v", opts.Source, err)
	}
	defer rc.Close()
	w, err := e.Content.Writer(ctx, lease)
	if err != nil {
		return "", err
	}
	defer w.Close()
	key := "tmp-import-" + lease.ID()
	mounts, err := e.Snapshots.Prepare(ctx, key, "", layer.TempLabels(lease))
	if err != nil {
		return "", err
	}
	committed := false
	defer func() {
		if !committed {
			e.Snapshots.Remove(context.WithoutCancel(ctx), key)
		}
	}()
	res, err := layer.Apply(ctx, mounts, io.TeeReader(rc, w), opts.Source)
	if err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	// Keep any bytes after the tar trailer out of the blob's digest mismatch: Apply read to EOF.
	layerDigest, err := w.Commit(ctx, -1, res.DiffID)
	if err != nil {
		return "", fmt.Errorf("import %s: %w", opts.Source, err)
	}
	if err := layer.CommitLayer(ctx, e.Snapshots, res.DiffID.String(), key); err != nil {
		return "", err
	}
	committed = true

	now := time.Now().UTC()
	comment := opts.Message
	if comment == "" {
		comment = "Imported from " + opts.Source
	}
	cfg.Created = &now
	cfg.Platform = ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	cfg.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{res.DiffID}}
	cfg.History = []ocispec.History{{Created: &now, Comment: comment}}
	cfg.Comment = comment
	id, err := e.recordImage(ctx, lease, cfg, []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayer, Digest: layerDigest, Size: res.Size}}, name, "")
	if err != nil {
		return "", err
	}
	failed = false
	return id, nil
}

// recordImage writes a config and manifest for layers already in the store and records the image
// under name (may be nil). It returns the image ID.
func (e *Engine) recordImage(ctx context.Context, lease *content.Lease, cfg image.Config, layers []ocispec.Descriptor, name *reference.Named, parent digest.Digest) (digest.Digest, error) {
	return e.recordImageAs(ctx, lease, cfg, layers, name, parent, name == nil && parent != "")
}

// writeImageBlobs writes an image's config and manifest under lease, without recording the
// image: build outputs other than the store (docker, oci) read it from there.
func (e *Engine) writeImageBlobs(ctx context.Context, lease *content.Lease, cfg image.Config, layers []ocispec.Descriptor) (image.Image, error) {
	cb, err := json.Marshal(cfg)
	if err != nil {
		return image.Image{}, err
	}
	cd, err := e.Content.WriteBlob(ctx, lease, cb)
	if err != nil {
		return image.Image{}, err
	}
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cd, Size: int64(len(cb))}, Layers: layers}
	if m.Layers == nil {
		m.Layers = []ocispec.Descriptor{}
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return image.Image{}, err
	}
	md, err := e.Content.WriteBlob(ctx, lease, mb)
	if err != nil {
		return image.Image{}, err
	}
	return image.Image{ID: cd, Manifest: ocispec.Descriptor{MediaType: m.MediaType, Digest: md, Size: int64(len(mb))}}, nil
}

// recordImageAs is recordImage with the intermediate flag chosen by the caller: a build step
// FROM scratch has no parent and is still an intermediate image.
func (e *Engine) recordImageAs(ctx context.Context, lease *content.Lease, cfg image.Config, layers []ocispec.Descriptor, name *reference.Named, parent digest.Digest, intermediate bool) (digest.Digest, error) {
	img, err := e.writeImageBlobs(ctx, lease, cfg, layers)
	if err != nil {
		return "", err
	}
	cd := img.ID
	img.Parent, img.Intermediate = parent, intermediate
	var names []reference.Named
	if name != nil {
		names = append(names, *name)
	}
	err = e.withLock(func() error {
		return e.Images.Update(ctx, func(t *image.Txn) error { t.Put(img, names...); return nil })
	})
	return cd, err
}

// optionalTag parses the REPOSITORY[:TAG] that import and commit may be given; nil for "".
func optionalTag(ref string) (*reference.Named, error) {
	if ref == "" {
		return nil, nil
	}
	n, err := reference.ParseTag(ref)
	if err != nil {
		return nil, err
	}
	return &n, nil
}
