package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestReplaceLeavesOnlyTheTarget(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "rec.json")
	for _, write := range []func(string, []byte, os.FileMode) error{WriteFile, Replace} {
		if err := write(p, []byte("one"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := write(p, []byte("two"), 0o640); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		fi, _ := os.Stat(p)
		if string(b) != "two" || fi.Mode().Perm() != 0o640 {
			t.Fatalf("content %q mode %v", b, fi.Mode())
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Fatalf("%d files in the directory, want only the target", len(ents))
		}
	}
	if err := Replace(filepath.Join(dir, "missing", "x"), nil, 0o600); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}

func TestWriteStream(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.tar")
	if err := WriteStream(p, 0o644, func(w io.Writer) error {
		_, err := io.WriteString(w, "archive")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// A failed write leaves what was there, and no temporary file.
	boom := errors.New("boom")
	if err := WriteStream(p, 0o644, func(w io.Writer) error {
		io.WriteString(w, "half")
		return boom
	}); err != boom {
		t.Fatalf("error %v, want write's own", err)
	}
	b, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(b) != "archive" || fi.Mode().Perm() != 0o644 {
		t.Fatalf("content %q mode %v", b, fi.Mode())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("%d files in the directory, want only the target", len(ents))
	}
}

// A rename that fails (the target is a directory with files) leaves no temporary file either.
func TestReplaceFailedRename(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "taken")
	if err := os.MkdirAll(filepath.Join(target, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Replace(target, []byte("data"), 0o644); err == nil {
		t.Fatal("Replace over a directory: no error")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("%d entries in the directory, want only the target", len(ents))
	}
}

// Swap puts the new file in place of an existing one, or where there is none, and leaves no
// other file.
func TestSwap(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "metadata.json")
	for i, content := range []string{"first", "second"} { // none there, then one
		tmp := filepath.Join(dir, "tmp")
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Swap(tmp, target); err != nil {
			t.Fatalf("swap %d: %v", i, err)
		}
		if b, _ := os.ReadFile(target); string(b) != content {
			t.Fatalf("swap %d: content %q, want %q", i, b, content)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Fatalf("swap %d: %d files in the directory, want only the target", i, len(ents))
		}
	}
	if err := Swap(filepath.Join(dir, "missing"), target); err == nil {
		t.Fatal("swap of a missing file: no error")
	}
}
