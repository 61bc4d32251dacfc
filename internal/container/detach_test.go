package container

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hako-dev/hako/internal/errdefs"
)

// Detach makes a record disappear at once (Get, List, its name) and leaves its files to the
// function it returns; Sweep deletes what a reclaim that never ran left.
func TestDetachAndSweep(t *testing.T) {
	s := &Store{Root: t.TempDir()}
	mk := func(name string) *Container {
		c := &Container{ID: NewID(), Name: name, Created: time.Now().UTC(), State: State{Status: Exited}}
		if err := s.Save(c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// Names that are no ID prefix ("a" is one for a quarter of the random IDs of b and keep).
	a, b, keep := mk("xa"), mk("xb"), mk("keep")

	reclaim, err := s.Detach(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(a.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Get after Detach: %v", err)
	}
	if _, err := s.Get("xa"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Get by name after Detach: %v", err)
	}
	gone := filepath.Join(s.Root, removingPrefix+a.ID)
	if _, err := os.Stat(filepath.Join(gone, "container.json")); err != nil {
		t.Fatalf("the files went before reclaim: %v", err)
	}
	reclaim()
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Fatalf("reclaim left %s: %v", gone, err)
	}

	// A reclaim that never ran: not listed, and swept.
	if _, err := s.Detach(b.ID); err != nil {
		t.Fatal(err)
	}
	all, err := s.List()
	if err != nil || len(all) != 1 || all[0].ID != keep.ID {
		t.Fatalf("List after Detach: %v %v", all, err)
	}
	// A record whose callback fails stays for the next Sweep.
	s.Sweep(func(id string) error { return errors.New("the snapshot is still there") })
	if _, err := os.Stat(filepath.Join(s.Root, removingPrefix+b.ID)); err != nil {
		t.Fatalf("Sweep deleted a record whose callback failed: %v", err)
	}
	var swept []string
	s.Sweep(func(id string) error { swept = append(swept, id); return nil })
	if len(swept) != 1 || swept[0] != b.ID {
		t.Errorf("Sweep reported %q, want the detached %s", swept, b.ID)
	}
	ents, _ := os.ReadDir(s.Root)
	if len(ents) != 1 || ents[0].Name() != keep.ID {
		t.Fatalf("after Sweep: %v", ents)
	}
	// A record that is not there: nothing to do, no error.
	if reclaim, err := s.Detach(NewID()); err != nil {
		t.Fatal(err)
	} else {
		reclaim()
	}
}

// An exit note outlives the record for `wait`; Sweep deletes it once older than exitNoteLife.
func TestExitNote(t *testing.T) {
	s := &Store{Root: t.TempDir()}
	id := NewID()
	if _, ok := s.ExitNote(id); ok {
		t.Fatal("a note before any was written")
	}
	s.WriteExitNote(id, 3)
	if code, ok := s.ExitNote(id); !ok || code != 3 {
		t.Fatalf("ExitNote = %d, %v", code, ok)
	}
	s.Sweep(nil) // fresh: kept
	if _, ok := s.ExitNote(id); !ok {
		t.Fatal("Sweep deleted a fresh note")
	}
	old := time.Now().Add(-2 * exitNoteLife)
	os.Chtimes(filepath.Join(s.Root, exitNotePrefix+id), old, old)
	s.Sweep(nil)
	if _, ok := s.ExitNote(id); ok {
		t.Fatal("Sweep kept an old note")
	}
	if all, err := s.List(); err != nil || len(all) != 0 {
		t.Fatalf("List sees notes: %v %v", all, err)
	}
}
