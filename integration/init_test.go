package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// buildInit returns hako-init, which TestMain built next to the hako binary (scripts/build.sh),
// where hako looks for it first.
func buildInit(t *testing.T) string {
	t.Helper()
	p := filepath.Join(filepath.Dir(hakoBin), "hako-init")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("hako-init: %v", err)
	}
	return p
}

// TestRunInit: --init puts hako-init, a static binary bound read-only at /sbin/docker-init, in
// front of the command as PID 1; it reaps orphans, forwards stop's signal (so a shell that ignores
// SIGTERM as PID 1 stops at once), and passes the exit code through.
func TestRunInit(t *testing.T) {
	s := runStore(t)
	initBin := buildInit(t)
	before := sha256File(t, initBin)

	out := s.ok("run", "--rm", "--init", "busybox", "sh", "-c",
		"sleep 100 & sleep 0.2; ps -o pid,comm; (sleep 0.1 &); sleep 0.6; ps -o stat,comm | grep -c '^ *Z' || true; grep ' /sbin/docker-init ' /proc/self/mountinfo | grep -c ' ro,'")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !regexp.MustCompile(`^PID\s+COMMAND$`).MatchString(lines[0]) || !regexp.MustCompile(`^\s*1 docker-init$`).MatchString(lines[1]) ||
		!strings.Contains(out, " sh\n") || !strings.Contains(out, " sleep\n") {
		t.Fatalf("ps under --init:\n%s", out)
	}
	if n := len(lines); lines[n-2] != "0" || lines[n-1] != "1" {
		t.Fatalf("zombies and the read-only init mount: %q", lines[n-2:])
	}
	if r := s.run("run", "--rm", "--init", "busybox", "sh", "-c", "exit 7"); r.code != 7 {
		t.Fatalf("exit code through the init: %+v", r)
	}
	if r := s.run("run", "--rm", "--init", "busybox", "nosuchcmd"); r.code != 127 || !strings.Contains(r.stderr, "nosuchcmd") {
		t.Fatalf("missing command under the init: %+v", r)
	}

	// stop: TERM reaches the shell through the init; without the init, sh as PID 1 ignores it and
	// stop waits for its timeout.
	id := strings.TrimSpace(s.ok("run", "-d", "--init", "busybox", "sh", "-c", "sleep 100 & wait"))
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	s.ok("stop", "-t", "5", id)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("stop of an --init container took %v", d)
	}
	if got := s.ok("ps", "-a", "--filter", "id="+id, "--format", "{{.Status}}"); !strings.HasPrefix(got, "Exited (143)") {
		t.Fatalf("after stop: %q", got)
	}
	s.ok("rm", id)
	// kill -s forwards other signals too.
	id = strings.TrimSpace(s.ok("run", "-d", "--init", "busybox", "sh", "-c", "trap 'echo got-usr1; exit 5' USR1; while true; do sleep 0.1; done"))
	time.Sleep(300 * time.Millisecond)
	s.ok("kill", "-s", "USR1", id)
	if got := strings.TrimSpace(s.ok("wait", id)); got != "5" {
		t.Fatalf("wait after USR1: %q", got)
	}
	if got := s.ok("logs", id); got != "got-usr1\n" {
		t.Fatalf("logs: %q", got)
	}
	s.ok("rm", id)

	// The container cannot write the init binary through /proc/1/exe.
	s.run("run", "--rm", "--init", "busybox", "sh", "-c", "echo pwned >/proc/1/exe; cat /proc/1/exe >/proc/1/exe; echo pwned >/sbin/docker-init")
	if after := sha256File(t, initBin); after != before {
		t.Fatalf("hako-init changed")
	}
	// A tty works through the init: the child is the terminal's foreground group.
	if out := s.ok("run", "--rm", "--init", "-t", "busybox", "sh", "-c", "tty"); !strings.HasPrefix(out, "/dev/pts/0") {
		t.Fatalf("--init -t: %q", out)
	}
}
