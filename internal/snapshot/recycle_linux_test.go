package snapshot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/mount"
)

var recycle = WithLabels(map[string]string{RecycleLabel: "1"})

// runLike mounts snapshot key's mounts, does what a container's init does for its /etc files
// (the three mount points, made through the overlay: a copy-up of /etc), then change, and
// unmounts.
func runLike(t *testing.T, m []mount.Mount, change func(root string)) {
	t.Helper()
	target := t.TempDir()
	if err := mount.All(m, target); err != nil {
		t.Fatal(err)
	}
	defer mount.Unmount(target)
	// The kernel filesystems' mount points, where the image has none (base has no /proc).
	if err := os.Mkdir(filepath.Join(target, "proc"), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		t.Fatal(err)
	}
	for _, n := range etcMountpoints {
		fd, err := unix.Open(filepath.Join(target, "etc", n), unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY|unix.O_CLOEXEC, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
	}
	if change != nil {
		change(target)
	}
}

// A container's snapshot (RecycleLabel) that changed nothing but the init's /etc mount points is
// kept at its removal, and the next one on the same parent takes it, with those mount points;
// a build step's snapshot (no label) does not. One that changed anything is deleted as before.
func TestRecycle(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	old := unix.Umask(0o022)
	defer unix.Umask(old)
	root := t.TempDir()
	s := openOverlay(t, root)
	m := mustPrepareCommit(t, s, "base", "")
	_ = m
	baseFS := filepath.Join(dirOf(t, s, "base"), "fs")
	if err := os.Mkdir(filepath.Join(baseFS, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(baseFS, "etc", "passwd"), []byte("root:x:0:0::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustPrepareCommit(t, s, "other", "")
	if err := os.Mkdir(filepath.Join(dirOf(t, s, "other"), "fs", "etc"), 0o700); err != nil {
		t.Fatal(err)
	}
	slot := filepath.Join(root, snapshotsDir, recycledName)
	gone := func(what string) {
		t.Helper()
		if _, err := os.Lstat(slot); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s: a recycled snapshot: %v", what, err)
		}
	}
	gone("at first")

	m1, err := s.Prepare(bg, "c1", "base", recycle)
	if err != nil {
		t.Fatal(err)
	}
	runLike(t, m1, nil)
	if err := s.Remove(bg, "c1"); err != nil {
		t.Fatal(err)
	}
	if p, err := xattr(slot, recycledParentXattr); err != nil || p != "base" {
		t.Fatalf("no recycled snapshot of base after a container that changed nothing: %q, %v", p, err)
	}
	if ents, _ := os.ReadDir(filepath.Join(slot, "work")); len(ents) != 0 {
		t.Fatalf("the recycled work directory is not empty: %v", ents)
	}
	// A build step's snapshot on base does not take it; a container's on another parent
	// does not either; a container's on base does, and finds the mount points there.
	if _, err := s.Prepare(bg, "step", "base"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare(bg, "c-other", "other", recycle); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(slot); err != nil {
		t.Fatalf("taken by a snapshot it is not for: %v", err)
	}
	m2, err := s.Prepare(bg, "c2", "base", recycle)
	if err != nil {
		t.Fatal(err)
	}
	gone("taken")
	if fi, err := os.Lstat(filepath.Join(upperOf(t, m2), "etc", "hostname")); err != nil || fi.Size() != 0 {
		t.Fatalf("the recycled snapshot's mount point: %v", err)
	}
	// Mounted again, it is base with the mount points, as a fresh one with them.
	target := t.TempDir()
	if err := mount.All(m2, target); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(target, "etc", "passwd"))
	mount.Unmount(target)
	if err != nil || string(b) != "root:x:0:0::/:/bin/sh\n" {
		t.Fatalf("base's /etc/passwd through the recycled snapshot: %q, %v", b, err)
	}
	if err := s.Remove(bg, "c2"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(slot); err != nil {
		t.Fatalf("the recycled snapshot was not recycled again: %v", err)
	}

	// Anything changed: deleted, as before (and the spare made).
	changes := map[string]func(root string){
		"a file written":         func(r string) { os.WriteFile(filepath.Join(r, "new"), nil, 0o644) },
		"a file deleted":         func(r string) { os.Remove(filepath.Join(r, "etc", "passwd")) },
		"the root's mode":        func(r string) { os.Chmod(r, 0o700) },
		"an xattr":               func(r string) { unix.Setxattr(r, "user.x", []byte("1"), 0) },
		"a mount point":          func(r string) { os.WriteFile(filepath.Join(r, "etc", "hosts"), []byte("x"), 0o644) },
		"/etc's mode":            func(r string) { os.Chmod(filepath.Join(r, "etc"), 0o700) },
		"a file in /etc":         func(r string) { os.WriteFile(filepath.Join(r, "etc", "motd"), nil, 0o644) },
		"a mount's owner":        func(r string) { os.Chown(filepath.Join(r, "etc", "hostname"), 1, 1) },
		"a hard link":            func(r string) { os.Link(filepath.Join(r, "etc", "hosts"), filepath.Join(r, "etc", "hostname2")) },
		"a flag on /":            func(r string) { setFlags(r, 0x80) }, // FS_NOATIME_FL
		"in /proc's mount point": func(r string) { os.Mkdir(filepath.Join(r, "proc", "x"), 0o755) },
		"/proc's mode":           func(r string) { os.Chmod(filepath.Join(r, "proc"), 0o777) },
		"a new directory":        func(r string) { os.Mkdir(filepath.Join(r, "sys2"), 0o755) },
	}
	for what, change := range changes {
		// Empty the slot first: the recycled snapshot of base is taken.
		m, err := s.Prepare(bg, "slot", "base", recycle)
		if err != nil {
			t.Fatal(err)
		}
		_ = m
		gone(what + ", before")
		mc, err := s.Prepare(bg, "c", "base", recycle)
		if err != nil {
			t.Fatal(err)
		}
		runLike(t, mc, change)
		dir := dirOf(t, s, "c")
		if err := s.Remove(bg, "c"); err != nil {
			t.Fatal(err)
		}
		gone(what)
		if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s: the snapshot's directory was not deleted: %v", what, err)
		}
		// Back to one recycled snapshot of base.
		if err := s.Remove(bg, "slot"); err != nil {
			t.Fatal(err)
		}
	}

	// A recycled snapshot whose parent is gone goes with the next mutation's cleanup.
	mo, err := s.Prepare(bg, "c3", "other", recycle)
	if err != nil {
		t.Fatal(err)
	}
	runLike(t, mo, nil)
	if err := s.Remove(bg, "c-other"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(bg, "c3"); err != nil {
		t.Fatal(err)
	}
	if p, err := xattr(slot, recycledParentXattr); err != nil || p != "other" {
		t.Fatalf("a recycled snapshot of another parent replaces base's: %q, %v", p, err)
	}
	if err := s.Remove(bg, "other"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare(bg, "c4", "base"); err != nil {
		t.Fatal(err)
	}
	gone("its parent removed")
}

func setFlags(path string, flags int) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if f, err := unix.IoctlGetInt(fd, unix.FS_IOC_GETFLAGS); err == nil {
		unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, f|flags)
	}
}
