package engine

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// A --rm monitor killed between its answer and its unmount leaves the root filesystem mounted
// in the detached record: the sweep unmounts it before it deletes the record, and never
// deletes through the mount.
func TestSweepUnmountsDetachedRootfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (a bind mount)")
	}
	root := t.TempDir()
	e, err := New(Config{Root: root, Snapshotter: "native"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	detached := e.Containers().DetachedDir(id)
	rootfs := filepath.Join(detached, "rootfs")
	if err := os.MkdirAll(rootfs, 0o700); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	sentinel := filepath.Join(src, "keep")
	if err := os.WriteFile(sentinel, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(src, rootfs, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(rootfs, unix.MNT_DETACH)
	e.sweepContainers()
	if _, err := os.Stat(sentinel); err != nil {
		t.Fatalf("the sweep deleted through the mount: %v", err)
	}
	if _, err := os.Stat(detached); !os.IsNotExist(err) {
		t.Errorf("the detached record is left: %v", err)
	}
}
