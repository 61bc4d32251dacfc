package cp

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A FIFO that appears where MountPoint found nothing (a running container made it meanwhile) is
// opened with O_PATH, never for reading, which would block until a writer came.
func TestMountFileExisting(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	parent, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer parent.Close()
	done := make(chan error, 1)
	go func() {
		h, err := mountFile(parent, "fifo", "/fifo")
		if err == nil {
			h.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		// Unblock it so that the test binary can end.
		if f, err := os.OpenFile(filepath.Join(dir, "fifo"), os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("mountFile blocked on an existing FIFO")
	}
	h, err := mountFile(parent, "new", "/new")
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if fi, err := os.Lstat(filepath.Join(dir, "new")); err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
		t.Errorf("the mount point made: %v, %v", fi, err)
	}
}

// MountPoint creates a missing file with its parents inside the root, a directory when asked.
func TestMountPoint(t *testing.T) {
	dir := t.TempDir()
	r, err := OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, tc := range []struct {
		p   string
		dir bool
	}{{"/a/b/file", false}, {"/c/d", true}, {"/a/b/file", false}} {
		h, err := r.MountPoint(tc.p, tc.dir)
		if err != nil {
			t.Fatalf("%s: %v", tc.p, err)
		}
		h.Close()
		fi, err := os.Lstat(filepath.Join(dir, tc.p))
		if err != nil || fi.IsDir() != tc.dir {
			t.Errorf("%s: %v, %v", tc.p, fi, err)
		}
	}
}
