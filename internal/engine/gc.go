package engine

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/hako-dev/hako/internal/buildcache"
	"github.com/hako-dev/hako/internal/content"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/image"
	"github.com/hako-dev/hako/internal/layer"
	"github.com/hako-dev/hako/internal/lockfile"
	"github.com/hako-dev/hako/internal/snapshot"
	digest "github.com/opencontainers/go-digest"
)

// GCResult says what a collection freed.
type GCResult struct {
	Blobs     int
	Snapshots int
	Bytes     int64
}

// liveBlobs are the blobs that images own: their manifests, configs and layers.
func (e *Engine) liveBlobs(ctx context.Context, imgs []image.Image) (map[digest.Digest]bool, map[string]bool, error) {
	blobs := map[digest.Digest]bool{}
	chains := map[string]bool{}
	for _, img := range imgs {
		blobs[img.Manifest.Digest] = true
		m, err := e.Images.Manifest(ctx, img)
		if err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				continue
			}
			return nil, nil, err
		}
		blobs[m.Config.Digest] = true
		for _, l := range m.Layers {
			blobs[l.Digest] = true
		}
		cfg, _, err := e.Images.Config(ctx, img)
		if err != nil {
			continue
		}
		for _, c := range layer.ChainIDs(cfg.RootFS.DiffIDs) {
			chains[c.String()] = true
		}
	}
	return blobs, chains, nil
}

// gc removes blobs that neither an image nor a live lease owns, and committed snapshots that no
// image layer chain and no container uses. The caller holds the store lock. extraSnapshots names
// snapshots to keep (containers' and their parents are kept by the snapshotter's own rule that a
// parent with children cannot be removed).
func (e *Engine) gc(ctx context.Context, snapshots bool) (GCResult, error) {
	var res GCResult
	imgs, err := e.Images.List(ctx)
	if err != nil {
		return res, err
	}
	live, chains, err := e.liveBlobs(ctx, imgs)
	if err != nil {
		return res, err
	}
	leased, dead, err := content.LiveLeases(e.leaseDir())
	if err != nil {
		return res, err
	}
	e.Content.CleanIngest(dead)
	err = e.Content.Walk(ctx, func(i content.Info) error {
		if live[i.Digest] || leased[i.Digest] {
			return nil
		}
		if err := e.Content.Delete(ctx, i.Digest); err == nil {
			res.Blobs++
			res.Bytes += i.Size
		}
		return nil
	})
	if err != nil || !snapshots {
		return res, err
	}
	buildcache.Open(e.Root).PruneMissing(imgs)
	// A `run --rm` that has answered may still hold its writable layer on the image's
	// (detachContainer): removed here, the image's layers can go at once.
	e.sweepContainers()
	// Remove unused committed snapshots leaf first, until a pass removes nothing.
	for {
		var victims []string
		e.Snapshots.Walk(ctx, func(ctx context.Context, info snapshot.Info) error {
			if info.Kind == snapshot.KindCommitted && !chains[info.Name] {
				victims = append(victims, info.Name)
			}
			if info.Kind != snapshot.KindCommitted && strings.HasPrefix(info.Name, "tmp-") && leasedTmpDead(info) {
				victims = append(victims, info.Name)
			}
			if info.Kind == snapshot.KindActive && e.containerGone(info.Labels[containerLabel]) {
				victims = append(victims, info.Name)
			}
			return nil
		})
		removed := 0
		for _, v := range victims {
			if u, err := e.Snapshots.Usage(ctx, v); err == nil {
				res.Bytes += u.Size
			}
			if err := e.Snapshots.Remove(ctx, v); err == nil {
				removed++
				res.Snapshots++
			}
		}
		if removed == 0 {
			return res, nil
		}
	}
}

// containerGone reports whether the container that a writable layer was made for (its
// containerLabel) has no record, neither live nor detached. Create makes the layer and the record
// under the store lock, which gc holds. A layer whose container is gone is what a power loss can
// leave: the layer's record is saved unsynced at its creation and at its removal (package
// snapshot), so either may come back without the container's.
func (e *Engine) containerGone(id string) bool {
	if id == "" {
		return false
	}
	cs := e.Containers()
	for _, dir := range []string{cs.Dir(id), cs.DetachedDir(id)} {
		if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
			return false
		}
	}
	return true
}

// leasedTmpDead reports whether a temporary snapshot (a layer being unpacked, a build step being
// run) belongs to a process that is gone: its lease's lock is free.
func leasedTmpDead(info snapshot.Info) bool {
	p := info.Labels[layer.LabelLease]
	if p == "" {
		return time.Since(info.Created) > time.Hour
	}
	l, err := lockfile.TryExclusive(p)
	if err != nil {
		return false
	}
	os.Remove(p)
	l.Unlock()
	return true
}
