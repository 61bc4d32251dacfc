// Package buildcache is the build cache index of a hako root: it maps a build step's cache key
// to the image the step made. It is one small JSON file per key under root/buildcache/.
//
// Put writes an entry whole into a temp file and hard-links it into place, which fails when the
// key has an entry already: the first writer wins, so builds that missed the cache at the same
// moment continue on one shared chain of step images rather than each overwriting the others'
// entries. An entry whose image is gone (pruned) is a miss, and Put replaces it (a rename).
// Entries are not fsynced: a machine crash may lose one or leave it unreadable, which is a miss
// too, and a cache can afford that rather than an fsync per build step.
//
// The package holds the index's files and what both of its users need: the builder
// (internal/builder), which looks entries up and writes them, and the engine's garbage
// collection, which drops the entries whose image it removed. It imports nothing of the builder,
// so that the engine does not link it.
package buildcache

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/hako-dev/hako/internal/image"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Entry is one key's file.
type Entry struct {
	Version string        `json:"version"`
	Key     digest.Digest `json:"key"`
	Image   digest.Digest `json:"image"`
	Created time.Time     `json:"created"`
	// Link is set for a --link step: the layer it made, reusable on any parent.
	Link *Link `json:"link,omitempty"`
}

// Link is the layer a --link step made; nil Layer says it copied nothing.
type Link struct {
	Layer  *ocispec.Descriptor `json:"layer,omitempty"`
	DiffID digest.Digest       `json:"diffID,omitempty"`
}

// Index is the index directory of a root.
type Index struct{ Dir string }

// Open is the index of the hako root at root (the directory is made by the first write).
func Open(root string) Index { return Index{Dir: filepath.Join(root, "buildcache")} }

// Path is the file of key's entry.
func (x Index) Path(key digest.Digest) string {
	return filepath.Join(x.Dir, key.Encoded()+".json")
}

// Get reads key's entry; ok is false when there is none, when it cannot be read, or when it was
// written for another cache key version.
func (x Index) Get(key digest.Digest, version string) (e Entry, ok bool) {
	b, err := os.ReadFile(x.Path(key))
	if err != nil || json.Unmarshal(b, &e) != nil || e.Version != version || e.Key != key {
		return Entry{}, false
	}
	return e, true
}

// Put records e under e.Key unless the key has an entry that live accepts (its image is still
// there): the first writer wins. It returns the entry that serves the key, e or the one found.
func (x Index) Put(e Entry, live func(Entry) bool) (Entry, error) {
	if err := os.MkdirAll(x.Dir, 0o700); err != nil {
		return Entry{}, err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return Entry{}, err
	}
	tmp, err := os.CreateTemp(x.Dir, ".entry-")
	if err != nil {
		return Entry{}, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return Entry{}, err
	}
	if err := tmp.Close(); err != nil {
		return Entry{}, err
	}
	p := x.Path(e.Key)
	if err := os.Link(tmp.Name(), p); err == nil {
		return e, nil
	} else if !errors.Is(err, fs.ErrExist) {
		return Entry{}, err
	}
	if cur, ok := x.Get(e.Key, e.Version); ok && live(cur) {
		return cur, nil // another build got there first
	}
	// The entry there is stale (its image was pruned) or unreadable: replace it.
	return e, os.Rename(tmp.Name(), p)
}

// Entries lists the index; unreadable entries come back with an empty Image. paths are the
// entries' files, in the same order.
func (x Index) Entries() (entries []Entry, paths []string, err error) {
	paths, err = x.paths()
	for _, p := range paths {
		var ce Entry
		if b, err := os.ReadFile(p); err == nil {
			json.Unmarshal(b, &ce)
		}
		entries = append(entries, ce)
	}
	return entries, paths, err
}

// paths lists the entries' files.
func (x Index) paths() ([]string, error) {
	ents, err := os.ReadDir(x.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var paths []string
	for _, de := range ents {
		if filepath.Ext(de.Name()) == ".json" {
			paths = append(paths, filepath.Join(x.Dir, de.Name()))
		}
	}
	return paths, nil
}

// PruneMissing drops the entries whose image is not among imgs; the engine's GC calls it when it
// collects snapshots (rmi, image prune, builder prune), so the index does not grow with dead
// entries.
func (x Index) PruneMissing(imgs []image.Image) {
	present := map[digest.Digest]bool{}
	for _, i := range imgs {
		present[i.ID] = true
	}
	x.Remove(func(e Entry) bool { return !present[e.Image] })
}

// Remove drops the entries drop selects (each entry file is read once) and returns how many went;
// a nil drop selects every entry without reading any.
func (x Index) Remove(drop func(Entry) bool) (int, error) {
	var entries []Entry
	var paths []string
	var err error
	if drop == nil {
		paths, err = x.paths()
	} else {
		entries, paths, err = x.Entries()
	}
	n := 0
	for i, p := range paths {
		if (drop == nil || drop(entries[i])) && os.Remove(p) == nil {
			n++
		}
	}
	return n, err
}
