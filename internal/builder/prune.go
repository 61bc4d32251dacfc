package builder

import (
	"context"
	"os"
	"time"

	"github.com/hako-dev/hako/internal/image"
	digest "github.com/opencontainers/go-digest"
)

// PruneOptions are `builder prune`'s.
type PruneOptions struct {
	// All removes every build step image and cache entry; otherwise only the steps that no
	// named image descends from (failed, interrupted or superseded builds).
	All bool
	// Until keeps what was made after it (zero: no limit).
	Until time.Time
}

// PruneResult says what went.
type PruneResult struct {
	Images  []string
	Entries int
	// CacheMounts are the RUN --mount=type=cache directories removed (those no build holds).
	CacheMounts int
	// Downloads are the cached files of ADD <url> removed.
	Downloads int
	Bytes     int64
}

// PruneCache removes build step images (intermediate images) and their cache entries, then
// collects the blobs and snapshots they held. Images that containers use are kept.
func (bd *Builder) PruneCache(ctx context.Context, opts PruneOptions) (PruneResult, error) {
	var res PruneResult
	err := bd.e.WithLock(func() error {
		users := bd.e.ImageUsers(ctx)
		removed := map[digest.Digest]bool{}
		err := bd.e.Images.Update(ctx, func(t *image.Txn) error {
			imgs := t.Images()
			byID := map[digest.Digest]image.Image{}
			for _, i := range imgs {
				byID[i.ID] = i
			}
			// Steps that a named image (or a container's image) descends from are in use.
			used := map[digest.Digest]bool{}
			for _, i := range imgs {
				if len(i.Names) == 0 && len(users[i.ID]) == 0 {
					continue
				}
				for cur, n := i, 0; cur.ID != "" && n < 10000; n++ {
					used[cur.ID] = true
					if cur.Parent == "" {
						break
					}
					cur = byID[cur.Parent]
				}
			}
			for _, i := range imgs {
				if !i.Intermediate || len(users[i.ID]) > 0 {
					continue
				}
				if !opts.All && used[i.ID] {
					continue
				}
				if !opts.Until.IsZero() && i.Created.After(opts.Until) {
					continue
				}
				t.Delete(i.Manifest.Digest)
				removed[i.ID] = true
				res.Images = append(res.Images, i.ID.String())
			}
			return nil
		})
		if err != nil {
			return err
		}
		entries, paths, err := bd.cache().Entries()
		if err != nil {
			return err
		}
		present := map[digest.Digest]bool{}
		if imgs, err := bd.e.Images.List(ctx); err == nil {
			for _, i := range imgs {
				present[i.ID] = true
			}
		}
		for i, ce := range entries {
			if removed[ce.Image] || !present[ce.Image] || (opts.All && (opts.Until.IsZero() || ce.Created.Before(opts.Until))) {
				if os.Remove(paths[i]) == nil {
					res.Entries++
				}
			}
		}
		r, err := bd.e.GCLocked(ctx, true)
		res.Bytes = r.Bytes
		n, bytes := bd.pruneCacheMounts(opts.Until)
		res.CacheMounts, res.Bytes = n, res.Bytes+bytes
		if opts.All || !opts.Until.IsZero() {
			// Downloads are what the next ADD <url> asks the server about: only -a, or an
			// until filter, takes them.
			n, bytes := bd.pruneHTTPCache(opts.Until)
			res.Downloads, res.Bytes = n, res.Bytes+bytes
		}
		return err
	})
	return res, err
}
