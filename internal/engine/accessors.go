package engine

import (
	"context"

	"github.com/hako-dev/hako/internal/content"
	"github.com/hako-dev/hako/internal/image"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// What the packages above engine (the builder) need of the store that the Engine's fields do
// not give: the lock, leases, garbage collection, image records and the runtime's state.

// WithLock runs fn under the store-wide lock.
func (e *Engine) WithLock(fn func() error) error { return e.withLock(fn) }

// GCLocked collects the blobs no image or live lease owns (and, with snapshots, the unused
// snapshots and build cache entries); the caller holds the store lock (WithLock).
func (e *Engine) GCLocked(ctx context.Context, snapshots bool) (GCResult, error) {
	return e.gc(ctx, snapshots)
}

// RecordImageAs writes a config and manifest for layers already in the store (leased) and
// records the image untagged, with its parent and intermediate flag; it returns the image ID.
func (e *Engine) RecordImageAs(ctx context.Context, lease *content.Lease, cfg image.Config, layers []ocispec.Descriptor, parent digest.Digest, intermediate bool) (digest.Digest, error) {
	return e.recordImageAs(ctx, lease, cfg, layers, nil, parent, intermediate)
}

// WriteImageBlobs writes an image's config and manifest under lease without recording it.
func (e *Engine) WriteImageBlobs(ctx context.Context, lease *content.Lease, cfg image.Config, layers []ocispec.Descriptor) (image.Image, error) {
	return e.writeImageBlobs(ctx, lease, cfg, layers)
}

// ImageUsers maps an image ID to the containers that use it.
func (e *Engine) ImageUsers(ctx context.Context) map[digest.Digest][]string { return e.imageUsers(ctx) }
