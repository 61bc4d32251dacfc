package lockfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestExclusiveExcludes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	l, err := Exclusive(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TryExclusive(p); !errors.Is(err, ErrLocked) {
		t.Fatalf("second exclusive lock: %v, want ErrLocked", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := TryExclusive(p)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	l2.Unlock()
}

// TestAdopt: a lock handed over on a descriptor is adopted only if the descriptor is the named
// file and holds its lock; the adopted descriptor is close-on-exec.
func TestAdopt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "monitor.lock")
	l, err := Exclusive(path)
	if err != nil {
		t.Fatal(err)
	}
	// What an exec hands over: the same open file, on a descriptor without close-on-exec.
	fd, err := unix.Dup(int(l.File().Fd()))
	if err != nil {
		t.Fatal(err)
	}
	adopted, err := Adopt(os.NewFile(uintptr(fd), "inherited"), path)
	if err != nil {
		t.Fatalf("adopt the held lock: %v", err)
	}
	if flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); flags&unix.FD_CLOEXEC == 0 {
		t.Fatal("the adopted descriptor is not close-on-exec")
	}
	l.f.Close() // the lock lives on through the adopted descriptor alone now
	l.f = nil
	if _, err := TryExclusive(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("another taker: %v, want ErrLocked", err)
	}

	// Another file.
	other, err := os.Create(filepath.Join(dir, "other"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Adopt(other, path); err == nil || !strings.Contains(err.Error(), "another file") {
		t.Fatalf("adopt another file: %v", err)
	}
	// The right file, but the lock is someone else's (another open file description).
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Adopt(f, path); !errors.Is(err, ErrLocked) {
		t.Fatalf("adopt a lock held elsewhere: %v, want ErrLocked", err)
	}
	f.Close()
	adopted.Unlock()
	if l2, err := TryExclusive(path); err != nil {
		t.Fatalf("after the adopter's unlock: %v", err)
	} else {
		l2.Unlock()
	}
}

// TestTryShared: readers' shared locks coexist; an exclusive holder excludes them and they
// exclude it; the file is created if missing, but not its directory.
func TestTryShared(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "monitor.lock")
	r1, err := TryShared(p)
	if err != nil {
		t.Fatalf("shared lock on a missing file: %v", err)
	}
	r2, err := TryShared(p)
	if err != nil {
		t.Fatalf("a second shared lock: %v", err)
	}
	if _, err := TryExclusive(p); !errors.Is(err, ErrLocked) {
		t.Fatalf("exclusive lock while readers hold it: %v, want ErrLocked", err)
	}
	r1.Unlock()
	r2.Unlock()
	w, err := TryExclusive(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TryShared(p); !errors.Is(err, ErrLocked) {
		t.Fatalf("shared lock while held exclusively: %v, want ErrLocked", err)
	}
	w.Unlock()
	gone := filepath.Join(dir, "removed", "lock")
	if _, err := TryShared(gone); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("TryShared in a missing directory: %v", err)
	}
	if _, err := TryExclusiveNoMkdir(gone); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("TryExclusiveNoMkdir in a missing directory: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(gone)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the directory was made: %v", err)
	}
}
