package snapshot

import (
	"errors"
	"os"
	"testing"

	"github.com/hako-dev/hako/internal/errdefs"
)

// RemoveKeepingFiles takes the snapshot out at once (it is not found, its parent can go) and
// leaves its directory to the function it returns, or, if that never runs, to the next
// mutation's clean-up.
func TestRemoveKeepingFiles(t *testing.T) {
	for name, open := range map[string]func(*testing.T, string) *store{"overlay": openOverlay, "native": openNative} {
		t.Run(name, func(t *testing.T) {
			s := open(t, t.TempDir())
			mustPrepareCommit(t, s, "base", "")
			for _, key := range []string{"c1", "c2"} {
				if _, err := s.Prepare(bg, key, "base"); err != nil {
					t.Fatal(err)
				}
			}
			dir1, dir2 := dirOf(t, s, "c1"), dirOf(t, s, "c2")

			reclaim, err := s.RemoveKeepingFiles(bg, "c1")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Stat(bg, "c1"); !errors.Is(err, errdefs.ErrNotFound) {
				t.Fatalf("Stat after RemoveKeepingFiles: %v", err)
			}
			if _, err := os.Stat(dir1); err != nil {
				t.Fatalf("the files went before reclaim: %v", err)
			}
			reclaim()
			if _, err := os.Stat(dir1); !os.IsNotExist(err) {
				t.Fatalf("reclaim left %s: %v", dir1, err)
			}

			// A reclaim that never runs (the process killed): the next mutation deletes them,
			// and the parent can be removed meanwhile.
			if _, err := s.RemoveKeepingFiles(bg, "c2"); err != nil {
				t.Fatal(err)
			}
			if err := s.Remove(bg, "base"); err != nil {
				t.Fatalf("the parent of a removed snapshot: %v", err)
			}
			if _, err := os.Stat(dir2); !os.IsNotExist(err) {
				t.Fatalf("the next mutation's clean-up left %s: %v", dir2, err)
			}

			// Bad input: a missing key, a parent with a child.
			if _, err := s.RemoveKeepingFiles(bg, "nope"); !errors.Is(err, errdefs.ErrNotFound) {
				t.Fatalf("missing key: %v", err)
			}
			mustPrepareCommit(t, s, "p", "")
			if _, err := s.Prepare(bg, "child", "p"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.RemoveKeepingFiles(bg, "p"); !errors.Is(err, errdefs.ErrConflict) {
				t.Fatalf("a parent: %v", err)
			}
		})
	}
}
