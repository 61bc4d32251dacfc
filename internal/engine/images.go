package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/image"
	"github.com/hako-dev/hako/internal/layer"
	"github.com/hako-dev/hako/internal/reference"
	digest "github.com/opencontainers/go-digest"
)

// ImageSummary is one row of `images`: an image under one of its names (or none).
type ImageSummary struct {
	Image      image.Image
	Name       reference.Named // zero for a dangling image
	Created    time.Time       // the config's creation time
	Size       int64
	Labels     map[string]string
	Containers int
}

// ImageFilter is `images --filter` and -a.
type ImageFilter struct {
	All       bool
	Dangling  *bool
	Reference []string
	Before    string
	Since     string
	Label     []string
}

// ParseImageFilters turns --filter key=value strings into an ImageFilter.
func ParseImageFilters(all bool, filters []string) (ImageFilter, error) {
	f := ImageFilter{All: all}
	for _, s := range filters {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return f, errdefs.Invalidf("bad format of filter %q (expected name=value)", s)
		}
		switch k {
		case "dangling":
			switch strings.ToLower(v) {
			case "true", "1":
				t := true
				f.Dangling = &t
			case "false", "0":
				t := false
				f.Dangling = &t
			default:
				return f, errdefs.Invalidf("invalid filter 'dangling=%s': expected true or false", v)
			}
		case "reference":
			f.Reference = append(f.Reference, v)
		case "before":
			f.Before = v
		case "since":
			f.Since = v
		case "label":
			f.Label = append(f.Label, v)
		default:
			return f, errdefs.Invalidf("invalid filter %q (dangling, reference, before, since, label)", k)
		}
	}
	return f, nil
}

func matchLabels(want []string, have map[string]string) bool {
	for _, w := range want {
		k, v, hasV := strings.Cut(w, "=")
		got, ok := have[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	return true
}

// ListImages returns `images` rows, newest first.
func (e *Engine) ListImages(ctx context.Context, f ImageFilter) ([]ImageSummary, error) {
	imgs, err := e.Images.List(ctx)
	if err != nil {
		return nil, err
	}
	var before, since time.Time
	for _, b := range []struct {
		ref string
		t   *time.Time
	}{{f.Before, &before}, {f.Since, &since}} {
		if b.ref == "" {
			continue
		}
		img, err := image.Resolve(imgs, b.ref)
		if err != nil {
			return nil, err
		}
		cfg, _, err := e.Images.Config(ctx, img)
		if err != nil {
			return nil, err
		}
		*b.t = created(cfg)
	}
	users := e.imageUsers(ctx)
	var out []ImageSummary
	for _, img := range imgs {
		if img.Intermediate && !f.All {
			continue
		}
		if f.Dangling != nil && *f.Dangling != img.Dangling() {
			continue
		}
		cfg, _, err := e.Images.Config(ctx, img)
		if err != nil {
			continue // a record whose config is gone is shown by nothing; GC will drop it
		}
		c := created(cfg)
		if (!before.IsZero() && !c.Before(before)) || (!since.IsZero() && !c.After(since)) {
			continue
		}
		if !matchLabels(f.Label, cfg.Config.Labels) {
			continue
		}
		base := ImageSummary{Image: img, Created: c, Size: e.imageSize(ctx, cfg), Labels: cfg.Config.Labels, Containers: len(users[img.ID])}
		if img.Dangling() {
			if len(f.Reference) == 0 {
				out = append(out, base)
			}
			continue
		}
		for _, n := range img.Names {
			if len(f.Reference) > 0 {
				ok := false
				for _, p := range f.Reference {
					if m, _ := reference.MatchFamiliar(p, n); m {
						ok = true
					}
				}
				if !ok {
					continue
				}
			}
			s := base
			s.Name = n
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

func created(cfg image.Config) time.Time {
	if cfg.Created != nil {
		return *cfg.Created
	}
	return time.Time{}
}

// imageSize is the sum of the image's layer sizes as unpacked.
func (e *Engine) imageSize(ctx context.Context, cfg image.Config) int64 {
	var total int64
	for _, c := range layer.ChainIDs(cfg.RootFS.DiffIDs) {
		if n := layer.Size(ctx, e.Snapshots, c.String()); n > 0 {
			total += n
		}
	}
	return total
}

// Tag points target at the image src resolves to.
func (e *Engine) Tag(ctx context.Context, src, target string) error {
	n, err := reference.ParseTag(target)
	if err != nil {
		return err
	}
	return e.withLock(func() error {
		return e.Images.Update(ctx, func(t *image.Txn) error {
			img, err := image.Resolve(t.Images(), src)
			if err != nil {
				return err
			}
			t.Put(img, n)
			return nil
		})
	})
}

// RemoveResult is one line of `rmi` output.
type RemoveResult struct{ Untagged, Deleted string }

// RemoveImages is `rmi`: by name it untags, and deletes the image when no name is left; by ID it
// deletes (refusing an image with several names unless force). An image that a container uses is
// refused unless force, and then only untagged, so the container keeps its filesystem.
func (e *Engine) RemoveImages(ctx context.Context, refs []string, force, noPrune bool) ([]RemoveResult, error) {
	var out []RemoveResult
	var errs []error
	err := e.withLock(func() error {
		users := e.imageUsers(ctx)
		for _, ref := range refs {
			err := e.Images.Update(ctx, func(t *image.Txn) error {
				img, err := image.Resolve(t.Images(), ref)
				if err != nil {
					return err
				}
				byName := false
				var name reference.Named
				if n, err := reference.ParseDefaultTag(ref); err == nil {
					for _, have := range img.Names {
						if have == n {
							byName, name = true, n
						}
					}
				}
				if u := users[img.ID]; len(u) > 0 && !force {
					if byName && len(img.Names) > 1 {
						t.Untag(name)
						out = append(out, RemoveResult{Untagged: name.Familiar()})
						return nil
					}
					return errdefs.Conflictf("conflict: unable to remove image %s (must force) - container %s is using it", ref, reference.ShortID(u[0]))
				}
				if byName {
					t.Untag(name)
					out = append(out, RemoveResult{Untagged: name.Familiar()})
					if len(img.Names) > 1 {
						return nil
					}
				} else {
					if len(img.Names) > 1 && !force {
						return errdefs.Conflictf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", reference.ShortID(img.ID.String()))
					}
					for _, n := range img.Names {
						t.Untag(n)
						out = append(out, RemoveResult{Untagged: n.Familiar()})
					}
				}
				if len(users[img.ID]) > 0 {
					return nil // forced: untagged, kept for the container
				}
				for _, other := range append([]image.Image(nil), t.Images()...) {
					if other.ID == img.ID && other.Manifest.Digest != img.Manifest.Digest {
						t.Delete(other.Manifest.Digest)
					}
				}
				t.Delete(img.Manifest.Digest)
				out = append(out, RemoveResult{Deleted: img.ID.String()})
				return nil
			})
			if err != nil {
				errs = append(errs, err)
			}
		}
		_, err := e.gc(ctx, !noPrune)
		return err
	})
	if err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// HistoryEntry is one row of `history`.
type HistoryEntry struct {
	ID        string // image ID of the step, or "<missing>"
	Created   time.Time
	CreatedBy string
	Size      int64
	Comment   string
	Empty     bool
}

// History lists how an image was made, newest step first. A step's ID is shown when an image in
// the store is exactly the image after that step (its parent chain, as builds record it).
func (e *Engine) History(ctx context.Context, ref string) ([]HistoryEntry, error) {
	imgs, err := e.Images.List(ctx)
	if err != nil {
		return nil, err
	}
	img, err := image.Resolve(imgs, ref)
	if err != nil {
		return nil, err
	}
	cfg, _, err := e.Images.Config(ctx, img)
	if err != nil {
		return nil, err
	}
	// Which history length each known ancestor ends at.
	ids := map[int]string{}
	byID := map[digest.Digest]image.Image{}
	for _, i := range imgs {
		byID[i.ID] = i
	}
	cur, seen := img, map[digest.Digest]bool{}
	for cur.ID != "" && !seen[cur.ID] {
		seen[cur.ID] = true
		c, _, err := e.Images.Config(ctx, cur)
		if err != nil {
			break
		}
		if _, ok := ids[len(c.History)]; !ok {
			ids[len(c.History)] = cur.ID.String()
		}
		if cur.Parent == "" {
			break
		}
		cur = byID[cur.Parent]
	}
	chain := layer.ChainIDs(cfg.RootFS.DiffIDs)
	var out []HistoryEntry
	li := 0
	for i, h := range cfg.History {
		he := HistoryEntry{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment, Empty: h.EmptyLayer}
		if h.Created != nil {
			he.Created = *h.Created
		}
		if id, ok := ids[i+1]; ok {
			he.ID = id
		}
		if !h.EmptyLayer && li < len(chain) {
			if n := layer.Size(ctx, e.Snapshots, chain[li].String()); n > 0 {
				he.Size = n
			}
			li++
		}
		out = append(out, he)
	}
	if len(cfg.History) == 0 {
		out = append(out, HistoryEntry{ID: img.ID.String(), Created: created(cfg), Size: e.imageSize(ctx, cfg)})
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// PruneImages removes dangling images (all unused images with all), then collects blobs and
// snapshots.
func (e *Engine) PruneImages(ctx context.Context, all bool) ([]string, int64, error) {
	var deleted []string
	var freed int64
	err := e.withLock(func() error {
		users := e.imageUsers(ctx)
		err := e.Images.Update(ctx, func(t *image.Txn) error {
			// Delete changes the list: iterate over a copy.
			for _, img := range append([]image.Image(nil), t.Images()...) {
				// Build steps are build cache, not dangling images: `builder prune` frees them,
				// and `image prune -a` with every other unused image.
				if len(users[img.ID]) > 0 || (!all && (!img.Dangling() || img.Intermediate)) {
					continue
				}
				t.Delete(img.Manifest.Digest)
				for _, n := range img.Names {
					deleted = append(deleted, "untagged: "+n.Familiar())
				}
				deleted = append(deleted, "deleted: "+img.ID.String())
			}
			return nil
		})
		if err != nil {
			return err
		}
		r, err := e.gc(ctx, true)
		freed = r.Bytes
		return err
	})
	return deleted, freed, err
}

// imageUsers maps image IDs to the containers that use them. Containers arrive with the runtime;
// until then no image is in use.
func (e *Engine) imageUsers(ctx context.Context) map[digest.Digest][]string {
	return containerImageUsers(ctx, e)
}

var containerImageUsers = func(ctx context.Context, e *Engine) map[digest.Digest][]string { return nil }

// ResolveImage finds one image.
func (e *Engine) ResolveImage(ctx context.Context, ref string) (image.Image, image.Config, error) {
	img, err := e.Images.Get(ctx, ref)
	if err != nil {
		return img, image.Config{}, err
	}
	cfg, _, err := e.Images.Config(ctx, img)
	if err != nil {
		return img, cfg, fmt.Errorf("image %s: %w", ref, err)
	}
	return img, cfg, nil
}
