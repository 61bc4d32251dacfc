package integration

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runStore is a store with busybox:latest imported.
func runStore(t *testing.T) *store {
	t.Helper()
	s := newStore(t)
	s.ok("import", "-c", `CMD ["sh"]`, busyboxTar(t), "busybox:latest")
	t.Cleanup(func() {
		for _, id := range strings.Fields(s.run("ps", "-aq", "--no-trunc").stdout) {
			s.run("rm", "-f", id)
		}
	})
	return s
}

// TestRunForegroundAndExitCodes: stdout and stderr reach the user apart, the exit code passes
// through, 127 and 126 as Docker's, 125 for hako's own errors.
func TestRunForegroundAndExitCodes(t *testing.T) {
	s := runStore(t)
	r := s.run("run", "--rm", "busybox", "sh", "-c", "echo to-out; echo to-err >&2; exit 3")
	if r.code != 3 || r.stdout != "to-out\n" || r.stderr != "to-err\n" {
		t.Fatalf("run: %+v", r)
	}
	if r := s.run("run", "--rm", "busybox", "nosuchcmd"); r.code != 127 || !strings.Contains(r.stderr, "nosuchcmd") {
		t.Fatalf("missing command: %+v", r)
	}
	if r := s.run("run", "--rm", "busybox", "/etc/passwd"); r.code != 126 {
		t.Fatalf("non-executable: %+v", r)
	}
	if r := s.run("run", "--rm", "nosuchimage"); r.code != 125 || !strings.Contains(r.stderr, "Unable to find image 'nosuchimage'") {
		t.Fatalf("unknown image: %+v", r)
	}
	if r := s.run("run", "--rm", "--memory", "lots", "busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, "--memory") {
		t.Fatalf("bad flag value: %+v", r)
	}
	// Below Docker's minimum the start itself would be OOM-killed, with nothing to say why.
	if r := s.run("run", "--rm", "-m", "100k", "busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, `invalid --memory "100k": Minimum memory limit allowed is 6MB`) {
		t.Fatalf("--memory below 6MB: %+v", r)
	}
	if r := s.run("run", "--rm", "-m", "6m", "busybox", "true"); r.code != 0 {
		t.Fatalf("--memory 6m: %+v", r)
	}
	if r := s.run("run", "--rm", "-u", "nosuchuser", "busybox", "true"); r.code == 0 || !strings.Contains(r.stderr, "nosuchuser") {
		t.Fatalf("unknown user: %+v", r)
	}
	// Nothing is left behind by the --rm runs, failed or not: no container, and no monitor (run
	// spawns its monitor before it creates the container; a failed creation sends it away).
	if got := s.ok("ps", "-aq"); got != "" {
		t.Fatalf("--rm left containers: %q", got)
	}
	for deadline := time.Now().Add(5 * time.Second); len(monitorPIDs(t, s.root)) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("failed runs left monitors: %v", monitorPIDs(t, s.root))
		}
	}
	// Isolation and identity: own PID namespace, hostname, user, env.
	out := s.ok("run", "--rm", "-h", "boxy", "-u", "nobody", "-e", "GREETING=hi", "busybox", "sh", "-c", "hostname; id -u; echo $GREETING; ps -o pid,comm | tail -n +2 | head -1")
	if !regexp.MustCompile(`^boxy\n65534\nhi\n\s*1 sh\n$`).MatchString(out) {
		t.Fatalf("isolation: %q", out)
	}
}

// TestDetachedLifecycle: run -d returns at once and the container outlives the command; ps, logs,
// stop, start, wait and rm behave as Docker's; a killed monitor shows as exited.
func TestDetachedLifecycle(t *testing.T) {
	s := runStore(t)
	start := time.Now()
	id := strings.TrimSpace(s.ok("run", "-d", "--name", "web", "-l", "app=demo", "busybox", "sh", "-c", "echo started; echo warn >&2; trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done"))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q", id)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("run -d took %v", d)
	}
	ps := s.ok("ps")
	if !regexp.MustCompile(`(?m)^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$`).MatchString(ps) ||
		!regexp.MustCompile(`(?m)^`+id[:12]+`\s+busybox\s+"sh -c echo started.*"\s+.*\s+Up .*\s+web$`).MatchString(ps) {
		t.Fatalf("ps:\n%s", ps)
	}
	if got := s.ok("ps", "-q", "--filter", "label=app=demo"); strings.TrimSpace(got) != id[:12] {
		t.Fatalf("ps --filter label: %q", got)
	}
	if r := s.run("run", "-d", "--name", "web", "busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, `"/web" is already in use`) {
		t.Fatalf("name in use: %+v", r)
	}
	// logs keeps stdout and stderr apart.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(s.run("logs", "web").stdout, "started") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if r := s.run("logs", "web"); r.stdout != "started\n" || r.stderr != "warn\n" {
		t.Fatalf("logs: %+v", r)
	}
	// The image is in use: rmi refuses it.
	if r := s.run("rmi", "busybox"); r.code != 125 || !strings.Contains(r.stderr, "container "+id[:12]+" is using it") {
		t.Fatalf("rmi of an image in use: %+v", r)
	}
	// stop sends TERM, the trap exits 0.
	s.ok("stop", "web")
	if got := s.ok("ps", "-a", "--format", "{{.Status}}", "--filter", "name=web"); !strings.HasPrefix(got, "Exited (0)") {
		t.Fatalf("after stop: %q", got)
	}
	if r := s.run("logs", "--tail", "1", "web"); r.stdout != "bye\n" {
		t.Fatalf("logs --tail 1: %+v", r)
	}
	// start again, then kill the monitor: ps tells the truth, start brings it back.
	s.ok("start", "web")
	// A monitor shows its container's ID last on its command line, as ps prints it.
	exec.Command("pkill", "-9", "-f", "__monitor .*"+id+"$").Run()
	time.Sleep(200 * time.Millisecond)
	if got := s.ok("ps", "-a", "--format", "{{.Status}}", "--filter", "name=web"); !strings.HasPrefix(got, "Exited") {
		t.Fatalf("after the monitor died: %q", got)
	}
	s.ok("start", "web")
	if got := s.ok("ps", "--format", "{{.Names}}"); got != "web\n" {
		t.Fatalf("restarted: %q", got)
	}
	if r := s.run("rm", "web"); r.code != 125 || !strings.Contains(r.stderr, "stop the container before removing") {
		t.Fatalf("rm of a running container: %+v", r)
	}
	s.ok("kill", "web")
	if got := strings.TrimSpace(s.ok("wait", "web")); got != "137" {
		t.Fatalf("wait after kill: %q", got)
	}
	s.ok("rm", "web")
	if got := s.ok("ps", "-aq"); got != "" {
		t.Fatalf("rm left: %q", got)
	}
	// With no container left, rmi works.
	s.ok("rmi", "busybox")
}

// TestRunNiceValue: the container's process runs at the nice value of the command that ran it,
// though the C start path sets the container up five levels above it.
func TestRunNiceValue(t *testing.T) {
	s := runStore(t)
	probe := []string{"run", "--rm", "busybox", "sh", "-c", `set -- $(cat /proc/self/stat); echo ${19}`}
	// Twice: a store's first run of a seccomp profile takes libcontainer's path (it fills the
	// filter cache), the second the C path.
	for i := 0; i < 2; i++ {
		if got := s.ok(probe...); got != "0\n" {
			t.Fatalf("run %d: nice in the container: %q, want 0", i, got)
		}
	}
	cmd := exec.Command("nice", append([]string{"-n", "3", hakoBin, "--root", s.root}, probe...)...)
	out, err := cmd.Output()
	if err != nil || string(out) != "3\n" {
		t.Fatalf("under nice -n 3: %q %v, want 3", out, err)
	}
}

// TestRemoveForceWhileExiting: `rm -f` and `kill` of a container that ends at that moment (its
// record still says running, its runtime state already deleted, or its init gone between
// libcontainer's look and its signal) succeed for rm -f, and say "not running" for kill, as
// Docker's do.
func TestRemoveForceWhileExiting(t *testing.T) {
	s := runStore(t)
	for i := 0; i < 30; i++ {
		// Ends about when the next command looks at it (one hako start later).
		id := strings.TrimSpace(s.ok("run", "-d", "busybox", "sh", "-c", fmt.Sprintf("sleep 0.%03d; exit 3", i%6*3)))
		if i%2 == 1 {
			if r := s.run("kill", id); r.code != 0 && !strings.Contains(r.stderr, "is not running") {
				t.Errorf("kill of a container that ends: %+v", r)
			}
		}
		s.ok("rm", "-f", id)
	}
	if out := s.ok("ps", "-aq"); out != "" {
		t.Errorf("containers left: %q", out)
	}
}
