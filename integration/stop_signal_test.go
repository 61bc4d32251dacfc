package integration

import (
	"strings"
	"testing"
)

// TestStopSignalFlag: `stop --signal` replaces the stop signal for that stop; a bad one is
// refused before anything is sent.
func TestStopSignalFlag(t *testing.T) {
	s := runStore(t)
	s.ok("run", "-d", "--name", "usr", "busybox", "sh", "-c", "trap 'echo got USR1; exit 3' USR1; echo ready; while true; do sleep 0.1; done")
	waitFor(t, "the container to trap", func() bool { return s.ok("logs", "usr") == "ready\n" })
	if r := s.run("stop", "--signal", "NOPE", "usr"); r.code != 125 || !strings.Contains(r.stderr, "invalid signal: NOPE") {
		t.Fatalf("bad signal: %+v", r)
	}
	s.ok("stop", "--signal", "USR1", "-t", "20", "usr")
	if got := strings.TrimSpace(s.ok("inspect", "--format", "{{.State.ExitCode}}", "usr")); got != "3" {
		t.Fatalf("exit code %s, want 3 from the USR1 trap", got)
	}
	if got := s.ok("logs", "usr"); got != "ready\ngot USR1\n" {
		t.Fatalf("logs %q", got)
	}
}
