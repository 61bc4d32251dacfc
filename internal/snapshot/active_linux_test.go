package snapshot

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// An active snapshot is recorded in metadata-active.json, not in metadata.json (no fsync); the
// next synced mutation writes it into metadata.json and drops metadata-active.json. A torn or
// stale metadata-active.json, as a power loss may leave, is ignored: the active snapshots made
// since the last metadata.json are gone, with their directories, and the store works.
func TestActiveMetadataUnsynced(t *testing.T) {
	root := t.TempDir()
	s := openOverlay(t, root)
	mustPrepareCommit(t, s, "base", "")
	md := filepath.Join(root, metadataFile)
	active := filepath.Join(root, activeFile)
	before, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(active); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a synced mutation left %s: %v", activeFile, err)
	}

	// Prepare: metadata.json as it was; metadata-active.json names the snapshot.
	if _, err := s.Prepare(bg, "ctr1", "base"); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(md); !bytes.Equal(before, after) {
		t.Error("Prepare of an active snapshot rewrote metadata.json")
	}
	if b, err := os.ReadFile(active); err != nil || !bytes.Contains(b, []byte(`"ctr1"`)) {
		t.Fatalf("%s: %q, %v", activeFile, b, err)
	}
	s2 := openOverlay(t, root)
	if _, err := s2.Stat(bg, "ctr1"); err != nil {
		t.Fatalf("reopened: %v", err)
	}
	dir1 := dirOf(t, s2, "ctr1")

	// A torn metadata-active.json: ctr1 is gone, with its directory; base stays.
	if _, err := s.Prepare(bg, "ctr2", "base"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(active)
	if err := os.WriteFile(active, b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	s3 := openOverlay(t, root)
	for _, k := range []string{"ctr1", "ctr2"} {
		if _, err := s3.Stat(bg, k); err == nil {
			t.Errorf("%s survived a torn %s", k, activeFile)
		}
	}
	if _, err := os.Stat(dir1); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the directory of a snapshot no metadata names is left: %v", err)
	}
	if _, err := s3.Stat(bg, "base"); err != nil {
		t.Fatal(err)
	}

	// A synced mutation takes the active records into metadata.json; a stale
	// metadata-active.json (of an earlier metadata.json) is ignored.
	if _, err := s3.Prepare(bg, "ctr3", "base"); err != nil {
		t.Fatal(err)
	}
	if _, err := s3.Prepare(bg, "ctr4", "base"); err != nil {
		t.Fatal(err)
	}
	stale, _ := os.ReadFile(active)
	if err := s3.Remove(bg, "ctr4"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(active); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Remove left %s: %v", activeFile, err)
	}
	if b, _ := os.ReadFile(md); !bytes.Contains(b, []byte(`"ctr3"`)) || bytes.Contains(b, []byte(`"ctr4"`)) {
		t.Errorf("metadata.json after Remove: %s", b)
	}
	if err := os.WriteFile(active, stale, 0o600); err != nil {
		t.Fatal(err)
	}
	s4 := openOverlay(t, root)
	if _, err := s4.Stat(bg, "ctr4"); err == nil {
		t.Error("a stale metadata-active.json brought back a removed snapshot")
	}
	if _, err := s4.Stat(bg, "ctr3"); err != nil {
		t.Error(err)
	}
	if _, err := s4.Prepare(bg, "ctr5", "base"); err != nil {
		t.Fatal(err)
	}
}
