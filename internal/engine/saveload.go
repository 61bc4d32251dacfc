package engine

import (
	"context"
	"fmt"
	"io"

	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/image"
	"github.com/hako-dev/hako/internal/layer"
	"github.com/hako-dev/hako/internal/reference"
)

// Save writes the images refs name to w as one docker-archive + OCI layout. A ref that is a name
// saves the image under that name; an ID saves it under all its names.
func (e *Engine) Save(ctx context.Context, refs []string, w io.Writer) error {
	imgs, err := e.Images.List(ctx)
	if err != nil {
		return err
	}
	var items []image.SaveItem
	pos := map[string]int{}
	for _, ref := range refs {
		img, err := image.Resolve(imgs, ref)
		if err != nil {
			return err
		}
		names := img.Names
		if n, err := reference.ParseDefaultTag(ref); err == nil {
			for _, have := range img.Names {
				if have == n {
					names = []reference.Named{n}
				}
			}
		}
		if i, ok := pos[img.Manifest.Digest.String()]; ok {
			items[i].Names = append(items[i].Names, names...)
			continue
		}
		pos[img.Manifest.Digest.String()] = len(items)
		items = append(items, image.SaveItem{Image: img, Names: names})
	}
	return image.Save(ctx, e.Content, items, w)
}

// LoadResult is a line of `load` output.
type LoadResult struct {
	Names []reference.Named
	ID    string
}

// Load reads a docker-archive or OCI archive. Either every image in it is recorded, or none is and
// the store is as before: blobs it added are collected at once, snapshots it unpacked are removed.
func (e *Engine) Load(ctx context.Context, r io.Reader, name string) ([]LoadResult, error) {
	lease, err := e.newLease()
	if err != nil {
		return nil, err
	}
	defer lease.Release()
	ok := false
	var unpacked []string
	defer func() {
		if ok {
			return
		}
		bg := context.WithoutCancel(ctx)
		for i := len(unpacked) - 1; i >= 0; i-- {
			e.Snapshots.Remove(bg, unpacked[i])
		}
		lease.Release()
		e.withLock(func() error { _, err := e.gc(bg, false); return err })
	}()
	loaded, err := image.ReadArchive(ctx, e.Content, lease, r, name)
	if err != nil {
		return nil, err
	}
	for _, l := range loaded {
		if len(l.Layers) > layer.MaxLayers {
			return nil, errdefs.Invalidf("load %s: image %s has %d layers, more than the %d that overlayfs can stack", name, l.Manifest.Digest, len(l.Layers), layer.MaxLayers)
		}
		before := map[string]bool{}
		for _, c := range layer.ChainIDs(l.Config.RootFS.DiffIDs) {
			if _, err := e.Snapshots.Stat(ctx, c.String()); err == nil {
				before[c.String()] = true
			}
		}
		err := layer.Unpack(ctx, e.Snapshots, e.Content, lease, l.Layers, l.Config.RootFS.DiffIDs)
		for _, c := range layer.ChainIDs(l.Config.RootFS.DiffIDs) {
			if _, serr := e.Snapshots.Stat(ctx, c.String()); serr == nil && !before[c.String()] {
				unpacked = append(unpacked, c.String())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", name, err)
		}
	}
	var out []LoadResult
	err = e.withLock(func() error {
		return e.Images.Update(ctx, func(t *image.Txn) error {
			for _, l := range loaded {
				img := image.Image{ID: l.Manifest.Digest, Manifest: l.Manifest}
				m, err := e.Images.Manifest(ctx, img)
				if err != nil {
					return err
				}
				img.ID = m.Config.Digest
				t.Put(img, l.Names...)
				out = append(out, LoadResult{Names: l.Names, ID: img.ID.String()})
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	ok = true
	return out, nil
}
