package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildLayersOnlyForChanges: RUN steps that change no file add no layer (the runtime's own
// mount points under /etc must not leave a copied-up /etc behind), and metadata steps add none.
func TestBuildLayersOnlyForChanges(t *testing.T) {
	s := runStore(t)
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nRUN true\nENV A=1\nRUN cat /etc/passwd >/dev/null\nRUN echo hi > /hi\nUSER nobody\n"), 0o644)
	s.ok("build", "-q", "-t", "layers:1", ctx)
	if got := strings.TrimSpace(s.ok("inspect", "--format", "{{len .RootFS.Layers}}", "layers:1")); got != "2" {
		t.Fatalf("layers: %s, want 2 (busybox and the one RUN that wrote /hi)", got)
	}
	if got := strings.Count(s.ok("history", "-q", "layers:1"), "\n"); got != 6 {
		t.Fatalf("history has %d lines, want 6 (one per step and the base)", got)
	}
}
