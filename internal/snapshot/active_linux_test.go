package snapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
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

	// Remove of an active snapshot goes as Prepare did: metadata.json as it was,
	// metadata-active.json without it, its directory gone.
	if _, err := s3.Prepare(bg, "ctr3", "base"); err != nil {
		t.Fatal(err)
	}
	if _, err := s3.Prepare(bg, "ctr4", "base"); err != nil {
		t.Fatal(err)
	}
	stale, _ := os.ReadFile(active)
	before, _ = os.ReadFile(md)
	dir4 := dirOf(t, s3, "ctr4")
	if err := s3.Remove(bg, "ctr4"); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(md); !bytes.Equal(before, after) {
		t.Error("Remove of an active snapshot rewrote metadata.json")
	}
	if b, err := os.ReadFile(active); err != nil || !bytes.Contains(b, []byte(`"ctr3"`)) || bytes.Contains(b, []byte(`"ctr4"`)) {
		t.Errorf("%s after Remove: %q, %v", activeFile, b, err)
	}
	if _, err := os.Stat(dir4); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Remove left the directory: %v", err)
	}

	// A synced mutation (a commit) takes the active records into metadata.json; a stale
	// metadata-active.json (of an earlier metadata.json) is ignored.
	mustPrepareCommit(t, s3, "layer2", "base")
	if _, err := os.Stat(active); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a synced mutation left %s: %v", activeFile, err)
	}
	if b, _ := os.ReadFile(md); !bytes.Contains(b, []byte(`"ctr3"`)) || bytes.Contains(b, []byte(`"ctr4"`)) {
		t.Errorf("metadata.json after the commit: %s", b)
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

// withActive opens an overlay store with a committed snapshot "base" and an active one "ctr"
// on it.
func withActive(t *testing.T) (string, *store) {
	t.Helper()
	root := t.TempDir()
	s := openOverlay(t, root)
	mustPrepareCommit(t, s, "base", "")
	if _, err := s.Prepare(bg, "ctr", "base"); err != nil {
		t.Fatal(err)
	}
	return root, s
}

// A root of format 1 (no metadata-active.json) is migrated when it is opened: metadata.json
// first, then the version file, both in format 2, which a binary of format 1 refuses (it would
// ignore metadata-active.json, and its cleanup delete what only that file names). Its snapshots
// stay.
func TestFormat1Migrated(t *testing.T) {
	root, s := withActive(t)
	// What a binary of format 1 left: both files at 1, the active snapshot in metadata.json.
	md, err := s.load()
	if err != nil {
		t.Fatal(err)
	}
	md.Version, md.Gen = formatVersionV1, 0
	b, _ := json.Marshal(md)
	if err := os.WriteFile(filepath.Join(root, metadataFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(root, activeFile))
	if err := os.WriteFile(filepath.Join(root, versionFile), []byte(`{"version":1,"driver":"overlay"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s2 := openOverlay(t, root)
	for _, k := range []string{"base", "ctr"} {
		if _, err := s2.Stat(bg, k); err != nil {
			t.Errorf("%s after the migration: %v", k, err)
		}
	}
	for _, f := range []string{metadataFile, versionFile} {
		b, err := os.ReadFile(filepath.Join(root, f))
		var v struct{ Version int }
		if err != nil || json.Unmarshal(b, &v) != nil || v.Version != formatVersion {
			t.Errorf("%s after the migration: %s, %v", f, b, err)
		}
	}
	if _, err := s2.Prepare(bg, "ctr2", "base"); err != nil {
		t.Fatal(err)
	}
}

// An error reading metadata-active.json other than its absence or a torn content fails the
// load: taken for torn, the next mutation's cleanup would delete the directories it names.
func TestActiveMetadataUnreadable(t *testing.T) {
	root, s := withActive(t)
	dir := dirOf(t, s, "ctr")
	active := filepath.Join(root, activeFile)
	b, _ := os.ReadFile(active)
	// A directory in its place: reading it fails with EISDIR.
	os.Remove(active)
	if err := os.Mkdir(active, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare(bg, "ctr2", "base"); err == nil {
		t.Error("a mutation went on without metadata-active.json's records")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("the active snapshot's directory is gone: %v", err)
	}
	os.Remove(active)
	os.WriteFile(active, b, 0o600)
	if _, err := s.Stat(bg, "ctr"); err != nil {
		t.Error(err)
	}
}

// An unsynced mutation made when metadata.json is older than syncInterval is saved synced: a
// container's record never lives only in metadata-active.json for longer than that.
func TestActiveMetadataSyncedPeriodically(t *testing.T) {
	root, s := withActive(t)
	md := filepath.Join(root, metadataFile)
	if b, _ := os.ReadFile(md); bytes.Contains(b, []byte(`"ctr"`)) {
		t.Fatal("Prepare wrote metadata.json, which was saved just before")
	}
	old := time.Now().Add(-2 * syncInterval)
	if err := os.Chtimes(md, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare(bg, "ctr2", "base"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(md); !bytes.Contains(b, []byte(`"ctr"`)) || !bytes.Contains(b, []byte(`"ctr2"`)) {
		t.Errorf("metadata.json after a mutation %v after the last synced one: %s", 2*syncInterval, b)
	}
	if _, err := os.Stat(filepath.Join(root, activeFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a synced save left %s: %v", activeFile, err)
	}
}
