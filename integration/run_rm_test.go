package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunRmIsGoneOnReturn: when `run --rm` returns, the container is gone for every command
// (its name reusable at once, its image removable at once, ps empty), though its monitor
// deletes the files afterwards; a reader of the output does not wait for that deletion; and what
// a killed deletion would leave is swept by the next removal.
func TestRunRmIsGoneOnReturn(t *testing.T) {
	s := runStore(t)
	ctx := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nRUN echo layer > /x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.ok("build", "-q", "-t", "rmtest:1", ctx)

	for i := 0; i < 3; i++ {
		// The same name three times in a row, then the image's removal: nothing of the
		// container may hold either up.
		if out := s.ok("run", "--rm", "--name", "again", "rmtest:1", "cat", "/x"); out != "layer\n" {
			t.Fatalf("run %d: %q", i, out)
		}
	}
	if got := s.ok("ps", "-aq"); got != "" {
		t.Fatalf("ps -aq after run --rm: %q", got)
	}
	if r := s.run("rmi", "rmtest:1"); r.code != 0 {
		t.Fatalf("rmi right after run --rm: %+v", r)
	}

	// A pipe reader sees EOF when the command is done, not when the monitor is.
	start := time.Now()
	out, err := exec.Command("sh", "-c", hakoBin+" --root "+s.root+" run --rm busybox sh -c 'echo out; echo err >&2' 2>&1 | cat").Output()
	// (stdout and stderr are apart up to the terminal: either may come first)
	if err != nil || (string(out) != "out\nerr\n" && string(out) != "err\nout\n") {
		t.Fatalf("piped run --rm: %q %v", out, err)
	}
	t.Logf("piped run --rm: %v", time.Since(start))

	// The files go soon after: no detached record, no snapshot directory left.
	snaps := func() int { // the snapshots' directories, numbered (not the spare made ahead)
		m, _ := filepath.Glob(filepath.Join(s.root, "snapshots/*/snapshots/[0-9]*"))
		return len(m)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		left, _ := filepath.Glob(filepath.Join(s.root, "containers", ".removing-*"))
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run --rm left %v", left)
		}
	}
	base := snaps()
	s.ok("run", "--rm", "busybox", "true")
	for deadline := time.Now().Add(5 * time.Second); snaps() != base; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("run --rm left a snapshot directory: %d, before %d", snaps(), base)
		}
	}

	// What a monitor killed between the removal and the deletion leaves: swept by the next rm.
	stale := filepath.Join(s.root, "containers", ".removing-"+strings.Repeat("ab", 32))
	if err := os.MkdirAll(filepath.Join(stale, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(stale, "container.json"), []byte("{}"), 0o600)
	if got := s.ok("ps", "-aq"); got != "" {
		t.Fatalf("ps -aq shows a detached record: %q", got)
	}
	id := strings.TrimSpace(s.ok("create", "busybox", "true"))
	s.ok("rm", id)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("rm did not sweep %s: %v", stale, err)
	}

	// A monitor killed after its answer, before it removed the snapshot (the record is
	// detached first): the next removal takes the snapshot along, and so does the image
	// removal's gc.
	for _, next := range [][]string{{"rm"}, {"rmi", "rmtest:2"}} {
		s.ok("tag", "busybox", "rmtest:2")
		base := snaps()
		id = strings.TrimSpace(s.ok("create", "rmtest:2", "true"))
		if snaps() != base+1 {
			t.Fatalf("create made %d snapshot directories, want 1", snaps()-base)
		}
		if err := os.Rename(filepath.Join(s.root, "containers", id), filepath.Join(s.root, "containers", ".removing-"+id)); err != nil {
			t.Fatal(err)
		}
		if next[0] == "rm" {
			other := strings.TrimSpace(s.ok("create", "busybox", "true"))
			s.ok("rm", other)
		} else {
			s.ok(next...)
		}
		if snaps() != base {
			t.Fatalf("%s left the detached container's snapshot: %d directories, want %d", next[0], snaps(), base)
		}
		if left, _ := filepath.Glob(filepath.Join(s.root, "containers", ".removing-*")); len(left) != 0 {
			t.Fatalf("%s left %v", next[0], left)
		}
	}
}

// TestWaitRunRm: `wait` on a --rm container gives its exit code, as Docker's, though the record
// is gone by the time wait looks again (its monitor leaves the code in an exit note).
func TestWaitRunRm(t *testing.T) {
	s := runStore(t)
	for i, code := range []int{3, 0, 42} {
		id := strings.TrimSpace(s.ok("run", "-d", "--rm", "busybox", "sh", "-c", fmt.Sprintf("sleep 0.3; exit %d", code)))
		if got := strings.TrimSpace(s.ok("wait", id)); got != fmt.Sprint(code) {
			t.Fatalf("run %d: wait printed %q, want %d", i, got, code)
		}
	}
	if got := s.ok("ps", "-aq"); got != "" {
		t.Fatalf("ps -aq: %q", got)
	}
}

// TestRecycledLayer: a --rm container that changed nothing leaves its writable layer to the
// next container on the same image (package snapshot, recycle_linux.go), which starts as a
// fresh one would: its own /etc files, nothing of an earlier container's, an empty diff. One
// that wrote anything leaves nothing behind.
func TestRecycledLayer(t *testing.T) {
	s := runStore(t)
	slot := filepath.Join(s.root, "snapshots", "overlay", "snapshots", "recycled")
	s.ok("run", "--rm", "busybox", "true")
	waitFor(t, "a recycled layer", func() bool { _, err := os.Stat(slot); return err == nil })
	got := s.ok("run", "--rm", "--hostname", "second", "busybox", "sh", "-c", "cat /etc/hostname; ls /etc")
	if got != "second\ngroup\nhostname\nhosts\npasswd\nresolv.conf\n" {
		t.Fatalf("a container on a recycled layer sees:\n%s", got)
	}
	// Writes go with their container, recycled layer or not.
	s.ok("run", "--rm", "busybox", "sh", "-c", "echo secret > /etc/leak; mkdir /x; rm /etc/passwd")
	for i := 0; i < 3; i++ {
		if r := s.run("run", "--rm", "busybox", "sh", "-c", "test ! -e /etc/leak && test ! -e /x && head -c4 /etc/passwd"); r.stdout != "root" || r.code != 0 {
			t.Fatalf("a later container sees an earlier one's changes: %+v", r)
		}
	}
	id := strings.TrimSpace(s.ok("run", "-d", "busybox", "sleep", "30"))
	if got := s.ok("diff", id); got != "" {
		t.Fatalf("diff of a container on a recycled layer: %q", got)
	}
	s.ok("rm", "-f", id)
}
