package integration

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// waitFor polls hako until out(args) satisfies ok, or fails after d.
func (s *store) waitFor(d time.Duration, what string, ok func(string) bool, args ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for {
		out := s.run(args...).stdout
		if ok(out) {
			return out
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: still %q after %s", what, out, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPauseTopStatsRenameUpdate: the verbs that operate a running container.
func TestPauseTopStatsRenameUpdate(t *testing.T) {
	s := runStore(t)
	s.ok("run", "-d", "--name", "box", "busybox", "sh", "-c", "sleep 100000")
	id := strings.TrimSpace(s.ok("ps", "-q", "--no-trunc"))

	// pause / unpause
	if got := s.ok("pause", "box"); got != "box\n" {
		t.Fatalf("pause printed %q", got)
	}
	if got := s.ok("ps", "--format", "{{.Status}} {{.State}}"); !strings.Contains(got, "(Paused) paused") {
		t.Fatalf("ps of a paused container: %q", got)
	}
	if r := s.run("exec", "box", "true"); r.code != 125 || !strings.Contains(r.stderr, "is paused, unpause the container before exec") {
		t.Fatalf("exec in a paused container: %+v", r)
	}
	if st, _ := os.ReadFile("/sys/fs/cgroup/freezer/hako/" + id + "/freezer.state"); len(st) > 0 && strings.TrimSpace(string(st)) != "FROZEN" {
		t.Fatalf("freezer.state %q", st)
	}
	if r := s.run("pause", "box"); r.code != 125 || !strings.Contains(r.stderr, "already paused") {
		t.Fatalf("pause twice: %+v", r)
	}
	s.ok("unpause", "box")
	if got := s.ok("ps", "--format", "{{.Status}}"); strings.Contains(got, "Paused") {
		t.Fatalf("ps after unpause: %q", got)
	}
	if r := s.run("unpause", "box"); r.code != 125 || !strings.Contains(r.stderr, "is not paused") {
		t.Fatalf("unpause of a running container: %+v", r)
	}

	// top: the host's ps, filtered to the container.
	top := s.ok("top", "box")
	if !strings.HasPrefix(top, "UID") || !strings.Contains(top, "sleep 100000") || strings.Count(strings.TrimSpace(top), "\n") != 1 {
		t.Fatalf("top:\n%s", top)
	}
	if top := s.ok("top", "box", "-o", "pid,comm"); !strings.HasPrefix(top, "PID") || !strings.Contains(top, "sleep") {
		t.Fatalf("top -o pid,comm:\n%s", top)
	}

	// stats
	s.ok("exec", "-d", "box", "sh", "-c", "while :; do :; done")
	st := s.ok("stats", "--no-stream")
	if !strings.HasPrefix(st, "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS") {
		t.Fatalf("stats header:\n%s", st)
	}
	f := strings.Fields(s.ok("stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}} {{.PIDs}} {{.MemUsage}}", "box"))
	if len(f) < 5 || f[0] != "box" || f[2] != "2" {
		t.Fatalf("stats --format: %q", f)
	}
	if cpu, _ := strconv.ParseFloat(strings.TrimSuffix(f[1], "%"), 64); cpu < 20 {
		t.Errorf("stats: a busy loop uses %v%% CPU", cpu)
	}

	// update, live
	s.ok("update", "--memory", "64m", "--cpus", "0.5", "--pids-limit", "50", "--restart", "on-failure:2", "box")
	for file, want := range map[string]string{"memory/hako/" + id + "/memory.limit_in_bytes": "67108864", "pids/hako/" + id + "/pids.max": "50", "cpu/hako/" + id + "/cpu.cfs_quota_us": "50000"} {
		if b, err := os.ReadFile("/sys/fs/cgroup/" + file); err == nil && strings.TrimSpace(string(b)) != want {
			t.Errorf("%s: %q, want %s", file, b, want)
		}
	}
	if got := s.ok("inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}", "box"); got != "on-failure:2\n" {
		t.Errorf("update --restart: %q", got)
	}
	// In a container of its own: the sleeps that started become zombies of a PID 1 that does
	// not reap, and keep counting.
	s.ok("run", "-d", "--name", "pl", "busybox", "sleep", "100000")
	s.ok("update", "--pids-limit", "20", "pl")
	if r := s.run("exec", "pl", "sh", "-c", "for i in $(seq 40); do sleep 1 & done; wait"); r.code == 0 {
		t.Errorf("40 processes under --pids-limit 20")
	}

	// rename
	s.ok("run", "-d", "--name", "other", "busybox", "sleep", "100000")
	s.ok("rename", "box", "renamed")
	if r := s.run("rename", "renamed", "other"); r.code != 125 || !strings.Contains(r.stderr, "already in use") {
		t.Fatalf("rename to a used name: %+v", r)
	}
	if got := s.ok("exec", "renamed", "echo", "ok"); got != "ok\n" {
		t.Fatalf("exec by the new name: %q", got)
	}

	// Bad input, on a stopped container: one line, 125.
	s.ok("stop", "-t", "0", "renamed")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pause", "renamed"}, "is not running"},
		{[]string{"top", "renamed"}, "is not running"},
		{[]string{"pause", "nosuchbox"}, "No such container: nosuchbox"},
		{[]string{"rename", "renamed", "bad/name"}, "invalid container name"},
		{[]string{"update", "--memory", "lots", "renamed"}, "--memory"},
		{[]string{"update", "--memory", "1m", "renamed"}, "Minimum memory limit allowed is 6MB"},
		{[]string{"update", "renamed"}, "one or more flags"},
		{[]string{"run", "--restart", "sometimes", "busybox"}, "invalid restart policy"},
		{[]string{"run", "--rm", "--restart", "always", "busybox"}, "--restart and --rm"},
	} {
		r := s.run(tc.args...)
		if r.code != 125 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: %+v", tc.args, r)
		}
	}
}

// TestRestartPolicies: on-failure:N stops after N restarts, always restarts until stop, and
// `system boot` starts what a machine restart stopped.
func TestRestartPolicies(t *testing.T) {
	s := runStore(t)
	s.ok("run", "-d", "--name", "fails", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 3")
	s.waitFor(20*time.Second, "on-failure:2", func(o string) bool { return o == "2 exited 3\n" },
		"inspect", "--format", "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}", "fails")
	time.Sleep(time.Second)
	if got := s.ok("inspect", "--format", "{{.RestartCount}}", "fails"); got != "2\n" {
		t.Fatalf("on-failure:2 went on: %q", got)
	}
	s.ok("run", "-d", "--name", "ok", "--restart", "on-failure", "busybox", "true")
	s.ok("wait", "ok")
	time.Sleep(500 * time.Millisecond)
	if got := s.ok("inspect", "--format", "{{.RestartCount}} {{.State.Status}}", "ok"); got != "0 exited\n" {
		t.Fatalf("on-failure after exit 0: %q", got)
	}

	s.ok("run", "-d", "--name", "always", "--restart", "always", "busybox", "sh", "-c", "sleep 0.3; exit 1")
	s.waitFor(20*time.Second, "always restarts", func(o string) bool { n, _ := strconv.Atoi(strings.TrimSpace(o)); return n >= 3 },
		"inspect", "--format", "{{.RestartCount}}", "always")
	s.ok("stop", "-t", "1", "always")
	n := s.ok("inspect", "--format", "{{.RestartCount}} {{.State.Status}}", "always")
	time.Sleep(1500 * time.Millisecond)
	if again := s.ok("inspect", "--format", "{{.RestartCount}} {{.State.Status}}", "always"); again != n || !strings.HasSuffix(n, " exited\n") {
		t.Fatalf("stop did not end the restart loop: %q then %q", n, again)
	}

	// Boot: "always" starts even after a stop; "unless-stopped" only when not stopped.
	s.ok("run", "-d", "--name", "us-stopped", "--restart", "unless-stopped", "busybox", "sleep", "100000")
	s.ok("stop", "-t", "0", "us-stopped")
	s.ok("create", "--name", "us-fresh", "--restart", "unless-stopped", "busybox", "sleep", "100000")
	s.ok("create", "--name", "plain", "busybox", "sleep", "100000")
	s.ok("update", "--restart", "always", "ok")
	s.ok("run", "-d", "--name", "a-long", "--restart", "always", "busybox", "sleep", "100000")
	s.ok("stop", "-t", "0", "a-long")
	got := strings.Fields(s.ok("system", "boot"))
	// "always" (stopped above, restarting again) is one too; "fails", "plain" and "us-stopped" are not.
	if !sameSet(got, []string{"a-long", "us-fresh", "ok", "always"}) {
		t.Fatalf("system boot started %v", got)
	}
	// rm -f ends a restart loop wherever it is.
	s.ok("rm", "-f", "always")
	if r := s.run("inspect", "always"); r.code == 0 {
		t.Fatalf("rm -f of a restarting container left it")
	}
	if r := s.run("system", "boot"); r.code != 0 || r.stdout != "" && !strings.Contains("always\n", r.stdout) {
		t.Fatalf("a second boot: %+v", r)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, x := range a {
		m[x] = true
	}
	for _, x := range b {
		if !m[x] {
			return false
		}
	}
	return true
}

// TestHealthcheck: --health-* flags and the image's HEALTHCHECK run in the container from the
// monitor; ps and inspect show starting, healthy and unhealthy with the last results.
func TestHealthcheck(t *testing.T) {
	s := runStore(t)
	s.ok("run", "-d", "--name", "hc", "--health-cmd", "cat /tmp/ok", "--health-interval", "200ms", "--health-retries", "2", "busybox", "sleep", "100000")
	if got := s.ok("ps", "--format", "{{.Status}}"); !strings.Contains(got, "(health: starting)") {
		t.Fatalf("ps right after start: %q", got)
	}
	s.waitFor(10*time.Second, "unhealthy", func(o string) bool { return strings.Contains(o, "(unhealthy)") }, "ps", "--format", "{{.Status}}")
	s.ok("exec", "hc", "sh", "-c", "echo fine >/tmp/ok")
	s.waitFor(10*time.Second, "healthy", func(o string) bool { return strings.Contains(o, "(healthy)") }, "ps", "--format", "{{.Status}}")
	out := s.ok("inspect", "--format", "{{.State.Health.Status}} {{.State.Health.FailingStreak}} {{len .State.Health.Log}} {{json .State.Health.Log}}", "hc")
	if !strings.HasPrefix(out, "healthy 0 ") || !strings.Contains(out, `"Output":"fine\n"`) || !strings.Contains(out, `"ExitCode":1`) {
		t.Fatalf("inspect State.Health: %s", out)
	}

	// --no-healthcheck.
	s.ok("run", "-d", "--name", "nohc", "--no-healthcheck", "busybox", "sleep", "100000")
	if got := s.ok("ps", "--format", "{{.Names}} {{.Status}}", "--filter", "name=nohc"); strings.Contains(got, "health") {
		t.Fatalf("--no-healthcheck: %q", got)
	}
}
