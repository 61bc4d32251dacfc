package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/hako-dev/hako/internal/build"
	"github.com/hako-dev/hako/internal/image"
	digest "github.com/opencontainers/go-digest"
)

// The build cache index maps a step's cache key to the image the step made. It is one small
// JSON file per key under root/buildcache/, written atomically (temp file and rename), so
// concurrent builds never see half an entry; two builds that make the same step race to write
// equivalent entries, and either one is right. An entry whose image is gone (pruned) is a miss.
type cacheEntry struct {
	Version string        `json:"version"`
	Key     digest.Digest `json:"key"`
	Image   digest.Digest `json:"image"`
	Created time.Time     `json:"created"`
	// Link is set for a --link step: the layer it made, reusable on any parent.
	Link *linkLayer `json:"link,omitempty"`
}

func (e *Engine) cacheDir() string { return filepath.Join(e.Root, "buildcache") }

func (e *Engine) cachePath(key digest.Digest) string {
	return filepath.Join(e.cacheDir(), key.Encoded()+".json")
}

// cacheLookup returns the image recorded for key, if the entry and the image both exist.
func (e *Engine) cacheLookup(ctx context.Context, key digest.Digest) (image.Image, bool) {
	b, err := os.ReadFile(e.cachePath(key))
	if err != nil {
		return image.Image{}, false
	}
	var ce cacheEntry
	if json.Unmarshal(b, &ce) != nil || ce.Version != build.CacheKeyVersion || ce.Key != key {
		return image.Image{}, false
	}
	img, err := e.Images.Get(ctx, ce.Image.String())
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
func (e *Engine) cacheStoreFirst(ctx context.Context, key, id digest.Digest) (image.Image, bool, error) {
	if err := os.MkdirAll(e.cacheDir(), 0o700); err != nil {
		return image.Image{}, false, err
	}
	b, err := json.Marshal(cacheEntry{Version: build.CacheKeyVersion, Key: key, Image: id, Created: time.Now().UTC()})
	if err != nil {
		return image.Image{}, false, err
	}
	tmp, err := os.CreateTemp(e.cacheDir(), ".entry-")
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
	if err := os.Link(tmp.Name(), e.cachePath(key)); err == nil {
		return image.Image{}, false, nil
	} else if !errors.Is(err, fs.ErrExist) {
		return image.Image{}, false, err
	}
	if img, ok := e.cacheLookup(ctx, key); ok && img.ID != id {
		return img, true, nil // another build got there first: continue on its image
	}
	// The entry there is stale (its image was pruned) or ours: replace it.
	return image.Image{}, false, os.Rename(tmp.Name(), e.cachePath(key))
}

// cacheEntries lists the index; unreadable entries come back with an empty Image.
func (e *Engine) cacheEntries() ([]cacheEntry, []string, error) {
	ents, err := os.ReadDir(e.cacheDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	var out []cacheEntry
	var paths []string
	for _, de := range ents {
		if filepath.Ext(de.Name()) != ".json" {
			continue
		}
		p := filepath.Join(e.cacheDir(), de.Name())
		var ce cacheEntry
		if b, err := os.ReadFile(p); err == nil {
			json.Unmarshal(b, &ce)
		}
		out = append(out, ce)
		paths = append(paths, p)
	}
	return out, paths, nil
}
