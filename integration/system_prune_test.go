package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemPrune frees stopped containers, dangling images and build cache in one command, and
// keeps what is in use.
func TestSystemPrune(t *testing.T) {
	s := runStore(t)
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nRUN echo one > /one\nRUN echo two > /two\n"), 0o644)
	s.ok("build", "-q", "-t", "built:1", ctx)
	s.ok("rmi", "built:1") // its steps stay as build cache
	s.ok("run", "--name", "stopped", "busybox", "true")
	running := strings.TrimSpace(s.ok("run", "-d", "busybox", "sleep", "60"))
	out := s.ok("system", "prune", "-f")
	for _, want := range []string{"Deleted Containers:", "Deleted build cache objects:", "Total reclaimed space:"} {
		if !strings.Contains(out, want) {
			t.Errorf("system prune output lacks %q:\n%s", want, out)
		}
	}
	if got := s.ok("ps", "-aq", "--no-trunc"); strings.TrimSpace(got) != running {
		t.Fatalf("after prune, containers %q; want only the running one", got)
	}
	if got := s.ok("images", "-a", "--format", "{{.Repository}}"); got != "busybox\n" {
		t.Fatalf("after prune, images %q", got)
	}
	if r := s.runIn([]byte("n\n"), "system", "prune"); r.code != 0 || !strings.Contains(r.stdout, "Are you sure") {
		t.Fatalf("prompt: %+v", r)
	}
}
