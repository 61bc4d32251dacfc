package builder

import (
	"context"
	"errors"
	"time"

	"github.com/hako-dev/hako/internal/buildcache"
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
	Images []string
	// Entries counts the cache entries -a removed; the entries of the images that went are
	// dropped, uncounted, by the garbage collection.
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
				res.Images = append(res.Images, i.ID.String())
			}
			return nil
		})
		if err != nil {
			return err
		}
		// The collection drops too the cache entries whose image is gone (those just removed
		// among them); -a then takes the others made before until.
		r, err := bd.e.GCLocked(ctx, true)
		res.Bytes = r.Bytes
		if opts.All {
			var drop func(buildcache.Entry) bool // every entry
			if !opts.Until.IsZero() {
				drop = func(ce buildcache.Entry) bool { return ce.Created.Before(opts.Until) }
			}
			n, rerr := bd.cache().Remove(drop)
			res.Entries, err = n, errors.Join(err, rerr)
		}
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
