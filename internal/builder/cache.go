package builder

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
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
	b, err := os.ReadFile(bd.cache().Path(key))
	if err != nil {
		return image.Image{}, false
	}
	var ce buildcache.Entry
	if json.Unmarshal(b, &ce) != nil || ce.Version != build.CacheKeyVersion || ce.Key != key {
		return image.Image{}, false
	}
	img, err := bd.e.Images.Get(ctx, ce.Image.String())
	if err != nil || img.ID != ce.Image {
		return image.Image{}, false
	}
	return img, true
}

// cacheStoreFirst records id for key unless another build recorded a live image for it first,
// and returns the image that serves the key. The first writer wins (a hard link of a complete
// temp file, which fails if the entry exists), so that builds which missed the cache at the same
// moment continue on one shared chain of step images instead of each overwriting the others'
// entries and leaving the cache pointing at a mix of chains.
func (bd *Builder) cacheStoreFirst(ctx context.Context, key, id digest.Digest) (image.Image, bool, error) {
	if err := os.MkdirAll(bd.cache().Dir, 0o700); err != nil {
		return image.Image{}, false, err
	}
	b, err := json.Marshal(buildcache.Entry{Version: build.CacheKeyVersion, Key: key, Image: id, Created: time.Now().UTC()})
	if err != nil {
		return image.Image{}, false, err
	}
	tmp, err := os.CreateTemp(bd.cache().Dir, ".entry-")
	if err != nil {
		return image.Image{}, false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return image.Image{}, false, err
	}
	if err := tmp.Close(); err != nil {
		return image.Image{}, false, err
	}
	if err := os.Link(tmp.Name(), bd.cache().Path(key)); err == nil {
		return image.Image{}, false, nil
	} else if !errors.Is(err, fs.ErrExist) {
		return image.Image{}, false, err
	}
	if img, ok := bd.cacheLookup(ctx, key); ok && img.ID != id {
		return img, true, nil // another build got there first: continue on its image
	}
	// The entry there is stale (its image was pruned) or ours: replace it.
	return image.Image{}, false, os.Rename(tmp.Name(), bd.cache().Path(key))
}
