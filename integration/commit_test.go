package integration

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommitAndExport: commit makes a layer of the container's changes (a new file, a deletion)
// with the container's env, the -c changes, a history line with -m and -a, and the image runs;
// export writes the whole merged filesystem.
func TestCommitAndExport(t *testing.T) {
	s := runStore(t)
	s.ok("run", "-d", "--name", "box", "-e", "FOO=bar", "busybox", "sh", "-c", "echo hi >/hello; rm /bin/vi; sleep 100000")
	for s.run("exec", "box", "test", "-f", "/hello").code != 0 {
	}
	id := strings.TrimSpace(s.ok("commit", "-m", "my message", "-a", "Ann <ann@example.com>", "-c", `CMD ["cat", "/hello"]`, "box", "mine:v1"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("commit printed %q", id)
	}
	if got := s.ok("run", "--rm", "mine:v1"); got != "hi\n" {
		t.Fatalf("the committed image's CMD: %q", got)
	}
	if got := s.ok("run", "--rm", "mine:v1", "sh", "-c", "echo $FOO; test -e /bin/vi || echo gone"); got != "bar\ngone\n" {
		t.Fatalf("the committed image's env and deletion: %q", got)
	}
	hist := s.ok("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", "mine:v1")
	if first := strings.Split(hist, "\n")[0]; !strings.Contains(first, "sleep 100000") || !strings.HasSuffix(first, "|my message") {
		t.Fatalf("history: %q", hist)
	}
	if got := s.ok("inspect", "--format", "{{.Author}} {{len .RootFS.Layers}}", "mine:v1"); got != "Ann <ann@example.com> 2\n" {
		t.Fatalf("inspect: %q", got)
	}
	// The container kept running, unpaused.
	if got := s.ok("ps", "--format", "{{.Status}}"); !strings.HasPrefix(got, "Up ") || strings.Contains(got, "Paused") {
		t.Fatalf("after commit: %q", got)
	}
	// A commit without a name is a dangling image that runs by ID; --pause=false works too.
	id2 := strings.TrimSpace(s.ok("commit", "--pause=false", "box"))
	if got := s.ok("run", "--rm", id2, "cat", "/hello"); got != "hi\n" {
		t.Fatalf("run by ID: %q", got)
	}

	// export, to a file and to stdout, running and stopped.
	out := filepath.Join(t.TempDir(), "box.tar")
	s.ok("export", "-o", out, "box")
	names := exportNames(t, out)
	for _, want := range []string{"hello", "bin/busybox", "etc/passwd"} {
		if !names[want] {
			t.Errorf("export misses %s", want)
		}
	}
	if names["bin/vi"] {
		t.Errorf("export has the deleted bin/vi")
	}
	s.ok("stop", "-t", "0", "box")
	if r := s.run("export", "box"); r.code != 0 || !strings.Contains(r.stdout, "hi\n") {
		t.Fatalf("export of a stopped container to stdout: code %d %s", r.code, r.stderr)
	}

	// Bad input: nothing recorded.
	before := s.state()
	for _, args := range [][]string{{"commit", "nosuchbox"}, {"commit", "box", "Bad:Name::"}, {"commit", "-c", "RUN true", "box"}, {"export", "nosuchbox"}} {
		if r := s.run(args...); r.code != 125 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: %+v", args, r)
		}
	}
	if after := s.state(); after != before {
		t.Errorf("a failed commit changed the store:\n%s\n---\n%s", before, after)
	}
}

func exportNames(t *testing.T, p string) map[string]bool {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	out := map[string]bool{}
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		out[strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = true
	}
	return out
}
