package engine

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

// pruneCopyUps removes from an overlay upper dir the directories that overlayfs only copied up:
// empty, not opaque, and with the same mode, owner and mtime as the directory below. A RUN
// whose mount points (/etc/hosts, /etc/resolv.conf, ...) made overlay copy /etc up, and whose
// stubs were removed afterwards, leaves exactly such a directory; without this every RUN would
// add a layer holding only "etc/", even one that changed nothing. Removing it changes nothing
// in the merged view: the directory below shows through again.
func pruneCopyUps(mounts []mount.Mount) error {
	if len(mounts) != 1 || mounts[0].Type != "overlay" {
		return nil
	}
	var upper string
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
		return nil
	}
	var dirs []string
	err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != upper {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Reverse(dirs) // children before their parents
	for _, p := range dirs {
		rel, _ := filepath.Rel(upper, p)
		if pureCopyUp(p, rel, lowers) {
			os.Remove(p)
		}
	}
	return nil
}

func pureCopyUp(p, rel string, lowers []string) bool {
	ents, err := os.ReadDir(p)
	if err != nil || len(ents) > 0 {
		return false
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
