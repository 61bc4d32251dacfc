//go:build !hakolean

package engine

import (
	"context"
	"fmt"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hako-dev/hako/internal/layer"
)

// unpackImage unpacks the layers of an image whose snapshots are gone (a cache of its blobs,
// which GC may take), under a lease that keeps GC off them meanwhile.
func (e *Engine) unpackImage(ctx context.Context, _ digest.Digest, layers []ocispec.Descriptor, diffIDs []digest.Digest) error {
	lease, err := e.newLease()
	if err != nil {
		return err
	}
	defer lease.Release()
	return layer.Unpack(ctx, e.Snapshots, e.Content, lease, layers, diffIDs)
}

// UnpackImage makes sure that the layers of the image ref are unpacked: hako's hidden
// `__unpack`, which the lean hako-monitor runs (unpack_lean.go).
func (e *Engine) UnpackImage(ctx context.Context, ref string) error {
	img, cfg, err := e.ResolveImage(ctx, ref)
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	m, err := e.Images.Manifest(ctx, img)
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	if layer.Unpacked(ctx, e.Snapshots, m.Layers, cfg.RootFS.DiffIDs) {
		return nil
	}
	return e.unpackImage(ctx, img.ID, m.Layers, cfg.RootFS.DiffIDs)
}
