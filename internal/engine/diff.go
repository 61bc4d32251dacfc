package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hako-dev/hako/internal/archive"
	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Diff is `diff`: what the container changed in its filesystem, as docker diff lists it.
func (e *Engine) Diff(ctx context.Context, ref string) ([]archive.Change, error) {
	c, err := e.Containers().Get(ref)
	if err != nil {
		return nil, err
	}
	changes, _, err := e.containerChanges(ctx, c)
	return changes, err
}

// containerChanges lists the changes of the container's writable layer and returns the
// directory that holds their content. The mount points that the runtime made in the layer (the
// /etc files, /proc, /dev, /sys, volumes) are left out, as Docker keeps them in an init layer
// that docker diff does not show.
func (e *Engine) containerChanges(ctx context.Context, c *container.Container) ([]archive.Change, string, error) {
	fail := func(err error) ([]archive.Change, string, error) {
		return nil, "", fmt.Errorf("diff container %s: %w", c.Name, err)
	}
	ms, err := e.Snapshots.Mounts(ctx, c.ID)
	if err != nil {
		return fail(err)
	}
	if len(ms) != 1 {
		return fail(errdefs.Invalidf("snapshot has %d mounts", len(ms)))
	}
	m := ms[0]
	var upper string
	var changes []archive.Change
	switch {
	case m.Type == "overlay":
		var lowers []string
		for _, o := range m.Options {
			if k, v, ok := cutOpt(o); ok {
				switch k {
				case "upperdir":
					upper = v
				case "lowerdir":
					lowers = strings.Split(v, ":")
				}
			}
		}
		if upper == "" {
			return fail(errdefs.Invalidf("overlay snapshot without an upper dir"))
		}
		changes, err = archive.OverlayChanges(upper, lowers)
	case e.Snapshotter == "overlay":
		// A container of an image without layers: its upper dir is the whole tree.
		upper = m.Source
		changes, err = archive.OverlayChanges(upper, nil)
	default:
		// The native snapshotter copies the image into the container's tree: compare with a view
		// of the image (itself a copy, made and dropped here).
		upper = m.Source
		info, serr := e.Snapshots.Stat(ctx, c.ID)
		if serr != nil {
			return fail(serr)
		}
		lower := ""
		if info.Parent != "" {
			key := "diff-" + c.ID + "-" + container.NewID()[:8]
			vm, verr := e.Snapshots.View(ctx, key, info.Parent)
			if verr != nil {
				return fail(verr)
			}
			defer e.Snapshots.Remove(context.WithoutCancel(ctx), key)
			lower = vm[0].Source
		}
		changes, err = archive.Changes(lower, upper)
	}
	if err != nil {
		return fail(err)
	}
	return dropMountPoints(changes, e.mountPoints(c)), upper, nil
}

// mountPoints are the destinations the runtime mounts on in the container: from the bundle of
// its last start, or Docker's defaults and the run options for one never started.
func (e *Engine) mountPoints(c *container.Container) map[string]bool {
	out := map[string]bool{"/etc/hostname": true, "/etc/hosts": true, "/etc/resolv.conf": true, "/proc": true, "/sys": true, "/dev": true}
	for _, m := range c.Config.Options.Mounts {
		out[filepath.Clean(m.Destination)] = true
	}
	if b, err := os.ReadFile(filepath.Join(e.Containers().Dir(c.ID), "bundle", "config.json")); err == nil {
		var s struct{ Mounts []specs.Mount }
		if json.Unmarshal(b, &s) == nil {
			for _, m := range s.Mounts {
				out[filepath.Clean(m.Destination)] = true
			}
		}
	}
	return out
}

// dropMountPoints removes the mount points, and the directories that show as added or changed
// only because the runtime made a mount point in them (/etc for /etc/hostname, /mnt for a volume
// on /mnt/vol). A directory with other changes below it keeps its line; one without any
// (a chmod) too.
func dropMountPoints(changes []archive.Change, points map[string]bool) []archive.Change {
	dropped := make([]bool, len(changes))
	some := false
	for i, ch := range changes {
		if points[ch.Path] {
			dropped[i], some = true, true
		}
	}
	if !some {
		return changes
	}
	// changes is sorted by path, so the paths below a directory form one run after it (but not
	// necessarily right after it: "/etc-x" sorts between "/etc" and "/etc/x"). Walking backwards
	// decides the deeper entries first.
	for i := len(changes) - 1; i >= 0; i-- {
		if dropped[i] || changes[i].Kind == archive.ChangeDelete {
			continue
		}
		prefix := strings.TrimSuffix(changes[i].Path, "/") + "/"
		onlyMounts, found := true, false
		for j := i + 1; j < len(changes); j++ {
			if !strings.HasPrefix(changes[j].Path, prefix) {
				if changes[j].Path > prefix {
					break
				}
				continue
			}
			found = true
			if !dropped[j] {
				onlyMounts = false
				break
			}
		}
		dropped[i] = found && onlyMounts
	}
	out := make([]archive.Change, 0, len(changes))
	for i, ch := range changes {
		if !dropped[i] {
			out = append(out, ch)
		}
	}
	return out
}

// containerSize is Docker's SizeRw: the apparent size of the files the container added or
// changed, each hard-linked inode counted once.
func (e *Engine) containerSize(ctx context.Context, c *container.Container) (int64, error) {
	changes, upper, err := e.containerChanges(ctx, c)
	if err != nil {
		return 0, err
	}
	var total int64
	seen := map[uint64]bool{}
	for _, ch := range changes {
		if ch.Kind == archive.ChangeDelete {
			continue
		}
		fi, err := os.Lstat(filepath.Join(upper, ch.Path))
		if err != nil || fi.IsDir() {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			if seen[st.Ino] {
				continue
			}
			seen[st.Ino] = true
		}
		total += fi.Size()
	}
	return total, nil
}

// ContainerSize is ps -s's SIZE: the writable layer's size (SizeRw) and, with the image's, the
// size of the whole filesystem (SizeRootFs, Docker's "virtual").
func (e *Engine) ContainerSize(ctx context.Context, c *container.Container) (rw, rootfs int64, err error) {
	rw, err = e.containerSize(ctx, c)
	if err != nil {
		return 0, 0, err
	}
	if _, cfg, err := e.ResolveImage(ctx, c.Config.ImageID.String()); err == nil {
		rootfs = e.imageSize(ctx, cfg)
	}
	return rw, rw + rootfs, nil
}
