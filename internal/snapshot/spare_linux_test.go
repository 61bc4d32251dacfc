package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The removal of an active overlay snapshot makes a spare directory, which the next active
// snapshot takes: the same directories, modes and owner as one made without it, and no spare
// for a committed one or a view. Cleanup keeps the spare; a half-made one in tmp/ goes.
func TestSpare(t *testing.T) {
	root := t.TempDir()
	s := openOverlay(t, root)
	mustPrepareCommit(t, s, "base", "")
	baseFS := filepath.Join(dirOf(t, s, "base"), "fs")
	if err := os.Chown(baseFS, 1234, 5678); err != nil {
		t.Fatal(err)
	}
	spare := filepath.Join(root, snapshotsDir, spareName)
	if _, err := os.Stat(spare); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a spare before any removal of an active snapshot: %v", err)
	}
	if _, err := s.Prepare(bg, "ctr1", "base"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare(bg, "p-layer2", "base"); err != nil {
		t.Fatal(err)
	}
	made := shapeOf(t, dirOf(t, s, "ctr1"))
	if err := s.Remove(bg, "ctr1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(spare); err != nil {
		t.Fatalf("no spare after the removal of an active snapshot: %v", err)
	}
	// A synced mutation's cleanup keeps it.
	if err := s.Commit(bg, "layer2", "p-layer2"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(spare); err != nil {
		t.Fatalf("cleanup deleted the spare: %v", err)
	}
	if _, err := s.Prepare(bg, "ctr2", "base"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(spare); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the spare was not taken: %v", err)
	}
	if got := shapeOf(t, dirOf(t, s, "ctr2")); got != made {
		t.Errorf("a snapshot from the spare: %s, made without it: %s", got, made)
	}
	// A half-made spare (a kill while it was made) is cleaned up with tmp/.
	if err := os.MkdirAll(filepath.Join(root, tmpDir, "spare-123", "fs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(bg, "ctr2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare(bg, "ctr3", ""); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, tmpDir)); len(ents) != 0 {
		t.Errorf("tmp/ after a mutation: %v", ents)
	}
	// A spare that lost its directories (another process's cleanup emptied it while it was
	// made) is not taken whole: the snapshot is made as without it.
	if err := s.Remove(bg, "ctr3"); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(spare, "fs")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare(bg, "ctr3", ""); err != nil {
		t.Fatal(err)
	}
	// ctr3 has no parent: the spare's upper directory keeps the owner it was made with.
	if got, want := shapeOf(t, dirOf(t, s, "ctr3")), "fs drwxr-xr-x 0:0, work drwx--x--x 0:0"; got != want {
		t.Errorf("a parentless snapshot from the spare: %s, want %s", got, want)
	}
}

// shapeOf describes an active overlay snapshot's directory: its entries, modes and owners.
func shapeOf(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := ""
	for _, e := range ents {
		fi, err := os.Lstat(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if out != "" {
			out += ", "
		}
		out += fmt.Sprintf("%s %s %d:%d", e.Name(), fi.Mode(), st.Uid, st.Gid)
	}
	return out
}
