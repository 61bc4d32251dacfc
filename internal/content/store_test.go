package content

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hako-dev/hako/internal/errdefs"
	digest "github.com/opencontainers/go-digest"
)

func TestWriteVerifyCommit(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("hello blob")
	want := digest.FromBytes(data)

	w, _ := s.Writer(ctx, nil)
	w.Write(data)
	if _, err := w.Commit(ctx, -1, digest.FromString("other")); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("commit with wrong digest: %v", err)
	}
	if _, err := s.Info(ctx, want); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("a rejected blob is visible: %v", err)
	}
	got, err := s.WriteBlob(ctx, nil, data)
	if err != nil || got != want {
		t.Fatalf("WriteBlob = %s, %v", got, err)
	}
	b, err := s.ReadBlob(ctx, want)
	if err != nil || string(b) != string(data) {
		t.Fatalf("ReadBlob = %q, %v", b, err)
	}
	n := 0
	s.Walk(ctx, func(Info) error { n++; return nil })
	if n != 1 {
		t.Fatalf("walk saw %d blobs", n)
	}
}

func TestLeaseOfDeadProcessIsCollectable(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, _ := Open(root)
	dir := filepath.Join(root, "leases")
	l, err := NewLease(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := s.WriteBlob(ctx, l, []byte("leased"))
	live, _, _ := LiveLeases(dir)
	if !live[d] {
		t.Fatal("a live lease does not protect its blob")
	}
	l.Release()
	live, _, _ = LiveLeases(dir)
	if live[d] {
		t.Fatal("a released lease still protects its blob")
	}

	// A lease held by a process that is then killed stops protecting at once.
	cmd := exec.Command("sh", "-c", "exec 9>"+filepath.Join(dir, "dead.lock")+"; flock 9; echo "+d.String()+" > "+filepath.Join(dir, "dead.list")+"; kill -9 $$")
	cmd.Run()
	live, _, _ = LiveLeases(dir)
	if live[d] {
		t.Fatal("a dead process's lease protects its blob")
	}
}
