package engine

import (
	"context"
	"os"
	"path/filepath"

	"github.com/hako-dev/hako/internal/build"
)

// fetchRemote fetches an ADD's URL and git sources into the build's scratch directory; URL
// downloads are kept under buildcache/http with their ETag and Last-Modified, so that the next
// build asks the server with a conditional request and, when nothing changed, hits the cache.
func (b *builder) fetchRemote(ctx context.Context, spec *build.CopySpec, v *build.Vertex) ([]build.Match, error) {
	dir, err := os.MkdirTemp(b.tmp, "fetch-")
	if err != nil {
		return nil, err
	}
	return spec.Fetch(ctx, build.FetchOptions{
		Dir:      dir,
		CacheDir: filepath.Join(b.e.cacheDir(), "http"),
		Log:      &vertexLog{p: b.progress, v: v},
	})
}
