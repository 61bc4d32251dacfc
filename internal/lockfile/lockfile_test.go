package lockfile

import (
	"errors"
	"path/filepath"
	"testing"
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
