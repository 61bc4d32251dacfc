package builder

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/hako-dev/hako/internal/mount"
	"golang.org/x/sys/unix"
)

// copyUps finds in an overlay upper dir the directories that overlayfs only copied up: empty
// (but for such directories), not opaque, and with the same mode, owner and mtime as the
// directory below. A RUN whose mount points (/etc/hosts, /etc/resolv.conf, ...) made overlay
// copy /etc up, and whose stubs were removed afterwards, leaves exactly such a directory;
// without this every RUN would add a layer holding only "etc/", even one that changed nothing.
// It only reads, so it runs while the overlay is still mounted: the layer leaves the
// directories out (archive.DiffOptions.Skip) and removeCopyUps deletes them once the overlay is
// unmounted, which changes nothing in the merged view (the directory below shows through).
// The paths are relative to upper, children before their parents.
func copyUps(mounts []mount.Mount) (upper string, rels []string, err error) {
	if len(mounts) != 1 || mounts[0].Type != "overlay" {
		return "", nil, nil
	}
	var lowers []string
	for _, o := range mounts[0].Options {
		if v, ok := strings.CutPrefix(o, "upperdir="); ok {
			upper = v
		}
		if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
			lowers = strings.Split(v, ":")
		}
	}
	if upper == "" || len(lowers) == 0 {
		return upper, nil, nil
	}
	var dirs []string
	err = filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != upper {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	slices.Reverse(dirs) // children before their parents
	pruned := map[string]bool{}
	for _, p := range dirs {
		rel, _ := filepath.Rel(upper, p)
		if pureCopyUp(p, rel, lowers, pruned) {
			pruned[rel] = true
			rels = append(rels, rel)
		}
	}
	return upper, rels, nil
}

// removeCopyUps deletes what copyUps found, once the overlay is unmounted.
func removeCopyUps(upper string, rels []string) {
	for _, rel := range rels {
		os.Remove(filepath.Join(upper, rel))
	}
}

func pureCopyUp(p, rel string, lowers []string, pruned map[string]bool) bool {
	ents, err := os.ReadDir(p)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if !pruned[filepath.Join(rel, e.Name())] {
			return false
		}
	}
	for _, name := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if _, err := unix.Lgetxattr(p, name, nil); err == nil {
			return false
		}
	}
	up, err := os.Lstat(p)
	if err != nil {
		return false
	}
	for _, l := range lowers {
		lo, err := os.Lstat(filepath.Join(l, rel))
		if err != nil {
			continue // not in this layer: look further down
		}
		a, b := up.Sys().(*syscall.Stat_t), lo.Sys().(*syscall.Stat_t)
		return lo.IsDir() && up.Mode() == lo.Mode() && a.Uid == b.Uid && a.Gid == b.Gid && up.ModTime().Equal(lo.ModTime())
	}
	return false // a new directory, not a copy-up
}
