package builder

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hako-dev/hako/internal/build"
	"github.com/hako-dev/hako/internal/lockfile"
)

// fetchRemote fetches an ADD's URL and git sources into the build's scratch directory; URL
// downloads are kept under buildcache/http with their ETag and Last-Modified, so that the next
// build asks the server with a conditional request and, when nothing changed, hits the cache.
func (b *job) fetchRemote(ctx context.Context, spec *build.CopySpec, v *build.Vertex) ([]build.Match, error) {
	dir, err := os.MkdirTemp(b.tmp, "fetch-")
	if err != nil {
		return nil, err
	}
	if err := b.holdHTTPCache(); err != nil {
		return nil, err
	}
	return spec.Fetch(ctx, build.FetchOptions{
		Dir:      dir,
		CacheDir: b.bd.httpCacheDir(),
		Log:      &vertexLog{p: b.progress, v: v},
	})
}

func (bd *Builder) httpCacheDir() string { return filepath.Join(bd.cache().Dir, "http") }

// holdHTTPCache takes, once per build, a shared lock on the download cache, held until the
// build ends: `builder prune` removes downloads only when it gets the lock exclusively, so a
// file a build fetched stays until its COPY has read it.
func (b *job) holdHTTPCache() error {
	b.httpMu.Lock()
	defer b.httpMu.Unlock()
	if b.httpLock != nil {
		return nil
	}
	if err := os.MkdirAll(b.bd.httpCacheDir(), 0o700); err != nil {
		return err
	}
	l, err := lockfile.Shared(b.bd.httpCacheDir() + ".lock")
	if err != nil {
		return err
	}
	b.httpLock = l
	return nil
}

// pruneHTTPCache removes the downloads of ADD <url> that were fetched before until (all of
// them when until is zero), unless a build holds the cache. It returns how many and their bytes.
func (bd *Builder) pruneHTTPCache(until time.Time) (int, int64) {
	l, err := lockfile.TryExclusive(bd.httpCacheDir() + ".lock")
	if err != nil {
		return 0, 0 // missing (nothing was ever downloaded) or held by a build
	}
	defer l.Unlock()
	ents, _ := os.ReadDir(bd.httpCacheDir())
	n, bytes := 0, int64(0)
	for _, d := range ents {
		name := d.Name()
		key, ok := strings.CutSuffix(name, ".json")
		if !ok {
			if strings.Contains(name, ".tmp-") {
				os.Remove(filepath.Join(bd.httpCacheDir(), name)) // a killed download's leftover
			}
			continue
		}
		meta := filepath.Join(bd.httpCacheDir(), name)
		if fi, err := os.Stat(meta); err != nil || (!until.IsZero() && fi.ModTime().After(until)) {
			continue
		}
		data := filepath.Join(bd.httpCacheDir(), key+".data")
		if fi, err := os.Stat(data); err == nil {
			bytes += fi.Size()
		}
		// The data goes first: an entry whose data is missing is a cache miss, never a
		// wrong hit.
		if err := os.Remove(data); err == nil || errors.Is(err, fs.ErrNotExist) {
			if os.Remove(meta) == nil {
				n++
			}
		}
	}
	return n, bytes
}
