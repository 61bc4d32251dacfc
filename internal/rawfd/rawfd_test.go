package rawfd

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestWriteThenRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	w, err := Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("hako "), 300_000) // 1.5 MB: several reads
	if n, err := w.Write(data); err != nil || n != len(data) {
		t.Fatalf("write: %d, %v", n, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(p, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (want %d), err %v", len(got), len(data), err)
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("read at the end: %d, %v; want 0, EOF", n, err)
	}
	flags, err := unix.FcntlInt(uintptr(r), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("descriptor is not close-on-exec: %v %v", flags, err)
	}
}

func TestOpenErrorNamesThePath(t *testing.T) {
	p := filepath.Join(t.TempDir(), "missing")
	_, err := Open(p, unix.O_RDONLY, 0)
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != p || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want a PathError naming %s that is ErrNotExist", err, p)
	}
	// O_EXCL on an existing file fails too.
	f := filepath.Join(t.TempDir(), "f")
	os.WriteFile(f, nil, 0o600)
	if _, err := Open(f, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600); !errors.Is(err, os.ErrExist) {
		t.Fatalf("O_EXCL on an existing file: %v", err)
	}
}
