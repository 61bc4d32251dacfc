package builder

import (
	"context"
	"time"

	"github.com/hako-dev/hako/internal/build"
	"github.com/hako-dev/hako/internal/buildcache"
	"github.com/hako-dev/hako/internal/image"
	digest "github.com/opencontainers/go-digest"
)

// cache is the root's build cache index (package buildcache): a step's cache key to the image
// the step made. Lookups and writes are here, since an entry is valid only for the cache key
// version of package build; an entry whose image is gone (pruned) is a miss.
func (bd *Builder) cache() buildcache.Index { return buildcache.Open(bd.e.Root) }

// cacheLookup returns the image recorded for key, if the entry and the image both exist.
func (bd *Builder) cacheLookup(ctx context.Context, key digest.Digest) (image.Image, bool) {
	ce, ok := bd.cache().Get(key, build.CacheKeyVersion)
	if !ok {
		return image.Image{}, false
	}
	return bd.entryImage(ctx, ce)
}

// entryImage is the image a cache entry records, if it still exists.
func (bd *Builder) entryImage(ctx context.Context, ce buildcache.Entry) (image.Image, bool) {
	img, err := bd.e.Images.Get(ctx, ce.Image.String())
	if err != nil || img.ID != ce.Image {
		return image.Image{}, false
	}
	return img, true
}

// cacheStore records e (for this cache key version) unless another build recorded a live image
// for its key first (buildcache.Index.Put), and returns the entry that serves the key.
func (bd *Builder) cacheStore(ctx context.Context, e buildcache.Entry) (buildcache.Entry, error) {
	e.Version, e.Created = build.CacheKeyVersion, time.Now().UTC()
	return bd.cache().Put(e, func(cur buildcache.Entry) bool {
		_, ok := bd.entryImage(ctx, cur)
		return ok
	})
}

// cacheStoreFirst records id for key unless another build recorded a live image for it first,
// and then returns that image (adopted): builds that missed the cache at the same moment
// continue on one shared chain of step images.
func (bd *Builder) cacheStoreFirst(ctx context.Context, key, id digest.Digest) (image.Image, bool, error) {
	ce, err := bd.cacheStore(ctx, buildcache.Entry{Key: key, Image: id})
	if err != nil || ce.Image == id {
		return image.Image{}, false, err
	}
	img, ok := bd.entryImage(ctx, ce)
	return img, ok, nil
}
