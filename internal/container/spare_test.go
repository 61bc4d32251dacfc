package container

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// MakeSpare makes one spare record directory with what every run makes in it, List never shows
// it, TakeSpare moves it to a new ID once, and Sweep deletes a half-made one that a kill left.
func TestSpare(t *testing.T) {
	s := &Store{Root: t.TempDir()}
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	if s.TakeSpare(id) {
		t.Fatal("a spare taken before any was made")
	}
	s.MakeSpare()
	s.MakeSpare() // one is enough
	ents, _ := os.ReadDir(s.Root)
	if len(ents) != 1 || ents[0].Name() != spareName {
		t.Fatalf("after MakeSpare: %v", ents)
	}
	if l, err := s.List(); err != nil || len(l) != 0 {
		t.Fatalf("List shows the spare: %v %v", l, err)
	}
	if !s.TakeSpare(id) {
		t.Fatal("the spare not taken")
	}
	if s.TakeSpare(id[:63] + "0") {
		t.Error("one spare taken twice")
	}
	var got []string
	for _, name := range []string{".", "rootfs", "etc", "bundle", "lock", "monitor.lock"} {
		fi, err := os.Stat(filepath.Join(s.Dir(id), name))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, name+" "+fi.Mode().String())
	}
	// What the engine makes without a spare, under this process's umask as the spare.
	ref := t.TempDir()
	var want []string
	for _, m := range []struct {
		name, path string
		mode       os.FileMode
	}{{".", "d", 0o700}, {"rootfs", "rootfs", 0o755}, {"etc", "etc", 0o755}, {"bundle", "bundle", 0o700}} {
		if err := os.Mkdir(filepath.Join(ref, m.path), m.mode); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(filepath.Join(ref, m.path))
		want = append(want, m.name+" "+fi.Mode().String())
	}
	want = append(want, "lock -rw-------", "monitor.lock -rw-------")
	if !slices.Equal(got, want) {
		t.Errorf("the spare: %v, want %v", got, want)
	}
	// A record saved into it.
	if err := s.SaveEncoded(id, []byte(`{"ID":"`+id+`"}`)); err != nil {
		t.Fatal(err)
	}
	// What a kill while making a spare leaves: deleted by the sweep once it is old.
	half := filepath.Join(s.Root, spareTmpPrefix+"123")
	if err := os.MkdirAll(filepath.Join(half, "rootfs"), 0o700); err != nil {
		t.Fatal(err)
	}
	s.Sweep(nil)
	if _, err := os.Stat(half); err != nil {
		t.Fatalf("a spare being made was swept: %v", err)
	}
	old := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(half, old, old); err != nil {
		t.Fatal(err)
	}
	s.Sweep(nil)
	if _, err := os.Stat(half); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a half-made spare left by a kill stays: %v", err)
	}
}
