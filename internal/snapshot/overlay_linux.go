package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/mount"
)

// Supported reports whether an overlay snapshotter can work at root, by doing what it will do: it
// mounts a small overlay of two lower layers and an upper one in a scratch directory under root,
// writes a file and deletes a lower one (a whiteout, which needs the upper filesystem's xattrs
// and device nodes), and unmounts it. A root on overlayfs is refused without trying: overlayfs
// cannot be an upper layer. It needs the privilege to mount.
func Supported(root string) error {
	fail := func(err error) error {
		return errdefs.NotImplemented(fmt.Errorf("overlay snapshots at %s: %w", root, err))
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fail(err)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(root, &sfs); err != nil {
		return fail(err)
	}
	if sfs.Type == unix.OVERLAYFS_SUPER_MAGIC {
		return fail(errors.New("the directory is on overlayfs, which cannot hold an upper layer; use a directory on a real filesystem or the native snapshotter"))
	}
	removeStaleChecks(root)
	dir, err := os.MkdirTemp(root, checkPrefix)
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	// The test mount is made in a private mount namespace, so that a hako killed with the
	// overlay mounted leaves no mount behind: the namespace dies with the process.
	if err := mount.InPrivateNamespace(func() error { return checkOverlay(dir) }); err != nil {
		return fail(err)
	}
	return nil
}

const checkPrefix = ".overlay-check-"

// removeStaleChecks removes the scratch directories of checks that a killed hako left (plain
// directories: their mounts died with it), once they are a minute old: a younger one may be a
// concurrent check at work.
func removeStaleChecks(root string) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), checkPrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Minute {
			os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
}

// checkOverlay mounts, writes through, unmounts and inspects a small overlay in dir.
func checkOverlay(dir string) error {
	p := func(name string) string { return filepath.Join(dir, name) }
	for _, d := range []string{"lower1", "lower2", "upper", "work", "merged"} {
		if err := os.Mkdir(p(d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(p("lower1/gone"), nil, 0o644); err != nil {
		return err
	}
	m := mount.Mount{Type: "overlay", Source: "overlay", Options: []string{
		"workdir=" + p("work"), "upperdir=" + p("upper"), "lowerdir=" + p("lower2") + ":" + p("lower1"),
	}}
	if err := m.Mount(p("merged")); err != nil {
		return err
	}
	err := os.WriteFile(p("merged/new"), []byte("x"), 0o644)
	if err == nil {
		err = os.Remove(p("merged/gone"))
	}
	if uerr := mount.Unmount(p("merged")); err == nil {
		err = uerr
	}
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(p("upper/gone"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		return fmt.Errorf("deleting a lower file left no whiteout in the upper dir (%v)", err)
	}
	return nil
}

// chownLike gives dst the owner of src.
func chownLike(dst, src string) error {
	var st unix.Stat_t
	if err := unix.Stat(src, &st); err != nil {
		return &os.PathError{Op: "stat", Path: src, Err: err}
	}
	return os.Lchown(dst, int(st.Uid), int(st.Gid))
}
