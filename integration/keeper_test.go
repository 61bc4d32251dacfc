package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The keeper (internal/engine/keeper.go, internal/monitor/keeper.c): once a detached container
// without a healthcheck or terminal runs, its Go monitor execs itself into a small C program,
// the same process, that copies the output into the json-file log, reaps the container and
// execs the Go monitor back to record the exit. These tests drive hako end to end and compare
// with HAKO_MONITOR_KEEPER=off, the Go monitor all along, where the behaviour must not differ.

// keeperModes are the two monitors: the keeper (the default) and the Go monitor alone.
var keeperModes = []struct {
	name string
	env  []string
}{
	{"keeper", nil},
	{"go", []string{"HAKO_MONITOR_KEEPER=off"}},
}

// keeperGoOnly is the environment that keeps the Go monitor for every container.
var keeperGoOnly = []string{"HAKO_MONITOR_KEEPER=off"}

// keeperRun runs hako on s with env added to the environment (the test's own
// HAKO_MONITOR_KEEPER, if any, removed: nil is the default, the keeper).
func keeperRun(s *store, env []string, args ...string) result {
	s.t.Helper()
	return s.runWith(keeperEnv(env), nil, args...)
}

func keeperEnv(env []string) []string {
	out := slices.DeleteFunc(os.Environ(), func(v string) bool { return strings.HasPrefix(v, "HAKO_MONITOR_KEEPER=") })
	return append(out, env...)
}

// keeperOK is keeperRun that fails the test unless hako exits 0; it returns stdout.
func keeperOK(s *store, env []string, args ...string) string {
	s.t.Helper()
	r := keeperRun(s, env, args...)
	if r.code != 0 {
		s.t.Fatalf("%v hako %s: exit %d\nstdout: %s\nstderr: %s", env, strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// keeperMonitorOf finds the monitor of container id in s, a Go monitor or a keeper: the process
// that holds its monitor lock (monitorLocks), and its command line. 0 when there is none.
func keeperMonitorOf(s *store, id string) (int, []string) {
	for pid, ids := range monitorLocks(s.root) {
		if !slices.Contains(ids, id) {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(b) == 0 {
			continue
		}
		return pid, strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	}
	return 0, nil
}

func isKeeper(args []string) bool { return len(args) > 1 && args[1] == "__keep" }

// waitKeeper waits until the monitor of id has become its keeper and returns its PID and
// command line.
func waitKeeper(t *testing.T, s *store, id string) (int, []string) {
	t.Helper()
	var pid int
	var args []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if pid, args = keeperMonitorOf(s, id); isKeeper(args) {
			return pid, args
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s: no keeper within 5s; its monitor: pid %d %q", id[:12], pid, args)
		}
	}
}

// requireGoMonitor checks, for a while once container id runs (well past the 250 ms after which
// a monitor becomes the keeper), that its monitor is there and never becomes a keeper.
func requireGoMonitor(t *testing.T, s *store, id, what string) {
	t.Helper()
	seen := false
	for deadline := time.Now().Add(800 * time.Millisecond); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		pid, args := keeperMonitorOf(s, id)
		if isKeeper(args) {
			t.Errorf("%s: the monitor became a keeper: pid %d %q", what, pid, args)
			return
		}
		seen = seen || pid != 0
	}
	if !seen {
		t.Errorf("%s: no monitor found for %s", what, id[:12])
	}
}

// procStatus returns one field of /proc/PID/status ("" when absent).
func procStatus(pid int, field string) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// cgroupProcs lists the live processes whose cgroup names container id (its init, execs, and
// an orphan its dead monitor left behind).
func cgroupProcs(id string) []int {
	files, _ := filepath.Glob("/proc/[0-9]*/cgroup")
	var out []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || !bytes.Contains(b, []byte(id)) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if st := procStatus(pid, "State"); st != "" && !strings.HasPrefix(st, "Z") {
			out = append(out, pid)
		}
	}
	return out
}

// processesNaming lists the processes whose command line contains s (pgrep -f).
func processesNaming(s string) []string {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var out []string
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(s)) {
			out = append(out, filepath.Base(filepath.Dir(p))+" "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

// mountsNaming lists the lines of /proc/self/mountinfo that contain s.
func mountsNaming(s string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// jsonLogRecord is one record of Docker's json-file log, as its bytes: the log member (any
// escapes), the stream, and a time as Go's RFC3339Nano formats it in UTC (no trailing zeros in
// the fraction, no fraction when it is zero).
var jsonLogRecord = regexp.MustCompile(`^\{(?:"log":"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-f]{4})*",)?"stream":"(?:stdout|stderr)"(,"time":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d*[1-9])?Z)")\}$`)

// readJSONLog reads a json-file log: its records with the time member cut out, and the times.
// Every line must be a well-formed record.
func readJSONLog(t *testing.T, p string) (recs []string, times []time.Time) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("%s does not end with a newline: %q", p, keeperClip(string(b[max(0, len(b)-200):])))
	}
	for i, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if l == "" && len(b) == 0 {
			break
		}
		m := jsonLogRecord.FindStringSubmatchIndex(l)
		if m == nil {
			t.Errorf("%s: line %d is not a json-file record as Docker writes it: %q", p, i+1, keeperClip(l))
			continue
		}
		tm, err := time.Parse(time.RFC3339Nano, l[m[4]:m[5]])
		if err != nil {
			t.Errorf("%s: line %d: time: %v", p, i+1, err)
		}
		times = append(times, tm)
		recs = append(recs, l[:m[2]]+l[m[3]:])
	}
	return recs, times
}

// keeperStream keeps the records of one stream.
func keeperStream(recs []string, stream string) []string {
	return slices.DeleteFunc(slices.Clone(recs), func(r string) bool { return !strings.HasSuffix(r, `"stream":"`+stream+`"}`) })
}

// keeperDiffRecords reports the first differences between the keeper's records and the Go
// monitor's.
func keeperDiffRecords(t *testing.T, what string, k, g []string) {
	t.Helper()
	if len(k) != len(g) {
		t.Errorf("%s: the keeper wrote %d records, the Go monitor %d", what, len(k), len(g))
	}
	reported := 0
	for j := 0; j < max(len(k), len(g)) && reported < 3; j++ {
		var a, b string
		if j < len(k) {
			a = k[j]
		}
		if j < len(g) {
			b = g[j]
		}
		if a != b {
			t.Errorf("%s: record %d differs (time left out):\nkeeper: %q\ngo:     %q", what, j+1, keeperClip(a), keeperClip(b))
			reported++
		}
	}
}

func keeperClip(s string) string {
	if len(s) > 300 {
		return s[:150] + fmt.Sprintf("…(%d bytes)…", len(s)-300) + s[len(s)-150:]
	}
	return s
}

// keeperOutputScript writes, a tenth of a second apart so that each write is read on its own,
// what a json-file log has to get right: lines and empty lines, CRLF, every class of byte that
// needs escaping (JSON's, HTML's, control characters, NUL, DEL, invalid and truncated UTF-8,
// U+2028 and U+2029), a line split over two writes with the other stream's between them, lines
// around 16 KiB (exactly 16384 bytes, 16385, 40000, and one whose 16 KiB cut falls inside a
// three-byte character), and a last line without a newline.
const keeperOutputScript = `p() { printf "$@"; sleep 0.1; }
p 'plain one\nplain two\n'
p 'err one\n' >&2
p '\n\nafter two empty lines\r\n'
p 'quotes \042double\042 \047single\047 backslash \134 \134n \134u2028 slash / <tag> & amp\n'
p 'controls: tab\there cr\rhere bell\007 esc\033[1m nul\000byte del\177 x01\001 x1f\037 end\n'
p 'invalid utf8: \377 \376\375 \300\257 \355\240\200 truncated \342\202 end\n' >&2
p 'separators: \342\200\250 and \342\200\251 valid: \303\251\344\270\255\360\237\230\200 bom \357\273\277\n'
p 'split across writes, first half, '
p 'err partial, ' >&2
p 'second half\n'
p 'err rest\n' >&2
printf '%16384s' '' | tr ' ' a; p '\n'
printf '%16383s' '' | tr ' ' b; p 'B\n'
printf '%16385s' '' | tr ' ' c; p '\n'
printf '%40000s' '' | tr ' ' d; p '\n'
printf '%20000s' '' | tr ' ' e >&2; p '\n' >&2
p '\342\202\254%.0s' $(seq 6000); p '\n'
p 'xy\342\202\254%.0s' $(seq 4000) >&2; p '\n' >&2
p 'last line without a newline'`

// TestKeeperLogsDifferential: the keeper writes the json-file log byte for byte as the Go
// monitor does (times aside): the same records, split and escaped the same way, and `hako logs`
// prints the same. The keeper re-implements in C what package logs does in Go; a difference in
// escaping, the 16 KiB split or the partial last line would show only here.
func TestKeeperLogsDifferential(t *testing.T) {
	s := runStore(t)
	type got struct {
		id         string
		recs       []string
		stdout     string
		stderr     string
		sawKeeper  bool
		monitorCmd []string
	}
	var runs [2]got
	start := time.Now().Add(-time.Second)
	for i, m := range keeperModes {
		runs[i].id = strings.TrimSpace(keeperOK(s, m.env, "run", "-d", "busybox", "sh", "-c", keeperOutputScript))
	}
	// Watch the monitors while the containers write (about 2 s).
	for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for i := range runs {
			if _, args := keeperMonitorOf(s, runs[i].id); args != nil {
				runs[i].sawKeeper = runs[i].sawKeeper || isKeeper(args)
				runs[i].monitorCmd = args
			}
		}
	}
	if !runs[0].sawKeeper {
		t.Errorf("the default monitor never became a keeper (last seen: %q): the comparison below is Go against Go", runs[0].monitorCmd)
	}
	if runs[1].sawKeeper {
		t.Errorf("with HAKO_MONITOR_KEEPER=off the monitor became a keeper")
	}
	for i, m := range keeperModes {
		r := &runs[i]
		if got := strings.TrimSpace(keeperOK(s, m.env, "wait", r.id)); got != "0" {
			t.Errorf("%s: wait: %q", m.name, got)
		}
		logPath := strings.TrimSpace(keeperOK(s, m.env, "inspect", "-f", "{{.LogPath}}", r.id))
		var times []time.Time
		r.recs, times = readJSONLog(t, logPath)
		for j, tm := range times {
			if tm.Before(start) || tm.After(time.Now()) {
				t.Errorf("%s: record %d: time %v outside the run", m.name, j+1, tm)
			}
			if j > 0 && tm.Before(times[j-1]) {
				t.Errorf("%s: record %d: time %v before the previous record's %v", m.name, j+1, tm, times[j-1])
			}
		}
		lr := keeperRun(s, m.env, "logs", r.id)
		if lr.code != 0 {
			t.Fatalf("%s: logs: %+v", m.name, lr)
		}
		r.stdout, r.stderr = lr.stdout, lr.stderr
	}
	k, g := runs[0], runs[1]
	// The reference (the Go monitor) has what the script wrote, so that the comparison means
	// something: the 16 KiB split, the escapes and the partial last line.
	ref := strings.Join(g.recs, "\n")
	for _, want := range []string{
		`{"log":"` + strings.Repeat("a", 16384) + `\n","stream":"stdout"}`,
		`{"log":"` + strings.Repeat("c", 16384) + `","stream":"stdout"}`,
		`{"log":"c\n","stream":"stdout"}`,
		`{"log":"\n","stream":"stdout"}`,
		`\u003ctag\u003e \u0026 amp`,
		`\u2028`,
		`\ufffd`,
		`{"log":"last line without a newline","stream":"stdout"}`,
		`{"log":"split across writes, first half, second half\n","stream":"stdout"}`,
	} {
		if !strings.Contains(ref, want) {
			t.Errorf("the Go monitor's log lacks %q", keeperClip(want))
		}
	}
	// Each stream's records, then their interleaving (the writes were 0.1 s apart, so the order
	// in which the two pipes were read is not a race).
	for _, stream := range []string{"stdout", "stderr"} {
		keeperDiffRecords(t, stream, keeperStream(k.recs, stream), keeperStream(g.recs, stream))
	}
	if !t.Failed() && !slices.Equal(k.recs, g.recs) {
		keeperDiffRecords(t, "stdout and stderr interleaved", k.recs, g.recs)
	}
	if k.stdout != g.stdout {
		t.Errorf("hako logs, stdout differs:\nkeeper: %q\ngo:     %q", keeperClip(k.stdout), keeperClip(g.stdout))
	}
	if k.stderr != g.stderr {
		t.Errorf("hako logs, stderr differs:\nkeeper: %q\ngo:     %q", keeperClip(k.stderr), keeperClip(g.stderr))
	}
	if !strings.HasSuffix(g.stdout, "\nlast line without a newline") || !strings.HasPrefix(g.stderr, "err one\n") {
		t.Errorf("hako logs of the Go monitor's container: stdout %q stderr %q", keeperClip(g.stdout), keeperClip(g.stderr))
	}
}

// TestKeeperDrainsOutput: a container that writes fast up to its exit leaves its pipes full
// when its init is reaped; the keeper must copy everything that is left before it execs the Go
// monitor back, on both streams, as the Go monitor does.
func TestKeeperDrainsOutput(t *testing.T) {
	s := runStore(t)
	for _, m := range keeperModes {
		id := strings.TrimSpace(keeperOK(s, m.env, "run", "-d", "busybox", "sh", "-c", "sleep 0.5; seq 1 30000 >&2 & seq 1 60000; wait"))
		if m.env == nil {
			waitKeeper(t, s, id)
		}
		keeperOK(s, m.env, "wait", id)
		r := keeperRun(s, m.env, "logs", id)
		for _, c := range []struct {
			stream, out string
			n           int
		}{{"stdout", r.stdout, 60000}, {"stderr", r.stderr, 30000}} {
			lines := strings.Split(strings.TrimSuffix(c.out, "\n"), "\n")
			ok := len(lines) == c.n
			for i := 0; ok && i < len(lines); i++ {
				ok = lines[i] == strconv.Itoa(i+1)
			}
			if !ok {
				t.Errorf("%s: logs %s: %d lines, want 1 to %d; the last: %q", m.name, c.stream, len(lines), c.n, lines[max(0, len(lines)-3):])
			}
		}
	}
}

// TestKeeperRunning: while a detached container runs, its monitor is the keeper: the same
// process as the monitor (the run's forked child), running hako-keeper, its command line saying
// __keep, the container's init PID and ID,
// the init its child; and everything that talks to a running container works with it: exec,
// ps, top, logs -f following new output. With HAKO_MONITOR_KEEPER=off the monitor stays Go.
// The resident sizes are logged, not asserted.
func TestKeeperRunning(t *testing.T) {
	s := runStore(t)
	const ticker = "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"
	id := strings.TrimSpace(keeperOK(s, nil, "run", "-d", "busybox", "sh", "-c", ticker))
	pid, args := waitKeeper(t, s, id)
	initPID := strings.TrimSpace(keeperOK(s, nil, "inspect", "-f", "{{.State.Pid}}", id))
	logPath := strings.TrimSpace(keeperOK(s, nil, "inspect", "-f", "{{.LogPath}}", id))
	if len(args) < 6 || args[2] != initPID || args[3] != logPath || !slices.Contains(args, "--exited") || args[len(args)-2] != "--" {
		t.Errorf("keeper command line %q: want __keep %s %s … __monitor --exited … -- %s", args, initPID, logPath, id)
	}
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); exe != filepath.Join(filepath.Dir(hakoBin), "hako-keeper") {
		t.Errorf("the keeper runs %q, want hako-keeper (built next to hako by scripts/build.sh)", exe)
	}
	// What it execs back once the container has exited: the monitor's binary.
	if back, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/6", pid)); back != filepath.Join(filepath.Dir(hakoBin), "hako-monitor") {
		t.Errorf("the keeper's descriptor 6 is %q, want hako-monitor, which it execs back", back)
	}
	if ppid := procStatus(atoi(initPID), "PPid"); ppid != strconv.Itoa(pid) {
		t.Errorf("the container's init %s has parent %s, want the keeper %d", initPID, ppid, pid)
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	var fdList []string
	for _, fd := range fds {
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		fdList = append(fdList, fd.Name()+"="+target)
	}
	t.Logf("keeper %d: VmRSS %s, descriptors %v", pid, procStatus(pid, "VmRSS"), fdList)

	if got := keeperOK(s, nil, "exec", id, "echo", "in"); got != "in\n" {
		t.Errorf("exec: %q", got)
	}
	if got := keeperOK(s, nil, "ps", "--filter", "id="+id, "--format", "{{.Status}}"); !strings.HasPrefix(got, "Up ") {
		t.Errorf("ps: %q", got)
	}
	if got := keeperOK(s, nil, "top", id); !strings.Contains(got, "sleep") && !strings.Contains(got, "sh -c") {
		t.Errorf("top: %q", got)
	}
	// logs -f prints what is there, then what comes: ticks in order, none missing.
	before := strings.Count(keeperOK(s, nil, "logs", id), "\n")
	cmd := exec.Command(hakoBin, "--root", s.root, "logs", "-f", id)
	cmd.Env = keeperEnv(nil)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	n := 0
	timeout := time.After(5 * time.Second)
follow:
	for n < before+4 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Errorf("logs -f ended after %d lines", n)
				break follow
			}
			n++
			if l != fmt.Sprintf("tick %d", n) {
				t.Errorf("logs -f line %d: %q", n, l)
				break follow
			}
		case <-timeout:
			t.Errorf("logs -f: %d lines after 5 s, %d were there when it started: it does not follow", n, before)
			break follow
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	readJSONLog(t, logPath) // each tick is a write of its own, with a time of its own

	// The Go monitor, for comparison.
	goID := strings.TrimSpace(keeperOK(s, keeperGoOnly, "run", "-d", "busybox", "sh", "-c", ticker))
	waitFor(t, "the Go monitor's container to print", func() bool { return strings.Contains(keeperOK(s, nil, "logs", goID), "tick 1\n") })
	requireGoMonitor(t, s, goID, "HAKO_MONITOR_KEEPER=off")
	if gpid, gargs := keeperMonitorOf(s, goID); gpid != 0 {
		t.Logf("Go monitor %d: VmRSS %s (%s)", gpid, procStatus(gpid, "VmRSS"), strings.Join(gargs, " "))
	}
	if got := keeperOK(s, keeperGoOnly, "exec", goID, "echo", "in"); got != "in\n" {
		t.Errorf("exec (Go monitor): %q", got)
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// TestKeeperExitRecording: the Go monitor the keeper execs back records what the keeper reaped:
// an exit status, SIGKILL as 137, an OOM kill as 137 with OOMKilled (read from the cgroup before
// it goes), the same as the Go monitor alone does.
func TestKeeperExitRecording(t *testing.T) {
	s := runStore(t)
	cases := []struct {
		name string
		args []string
		kill bool
		want string // wait's output, then inspect's ExitCode Status OOMKilled
	}{
		{"exit3", []string{"busybox", "sh", "-c", "sleep 0.5; exit 3"}, false, "3 | 3 exited false"},
		{"exit0", []string{"busybox", "sh", "-c", "sleep 0.5"}, false, "0 | 0 exited false"},
		{"kill", []string{"busybox", "sleep", "100"}, true, "137 | 137 exited false"},
		{"oom", []string{"--memory", "16m", "busybox", "sh", "-c", "sleep 0.5; x=a; while true; do x=$x$x; done"}, false, "137 | 137 exited true"},
	}
	for _, m := range keeperModes {
		for _, c := range cases {
			id := strings.TrimSpace(keeperOK(s, m.env, append([]string{"run", "-d"}, c.args...)...))
			if m.env == nil {
				waitKeeper(t, s, id)
			}
			if c.kill {
				keeperOK(s, m.env, "kill", id)
			}
			code := strings.TrimSpace(keeperOK(s, m.env, "wait", id))
			st := strings.TrimSpace(keeperOK(s, m.env, "inspect", "-f", "{{.State.ExitCode}} {{.State.Status}} {{.State.OOMKilled}}", id))
			if got := code + " | " + st; got != c.want {
				t.Errorf("%s, %s: wait | inspect: %q, want %q", m.name, c.name, got, c.want)
			}
			if got := keeperOK(s, m.env, "ps", "-a", "--filter", "id="+id, "--format", "{{.Status}}"); !strings.HasPrefix(got, "Exited ("+code+")") {
				t.Errorf("%s, %s: ps: %q", m.name, c.name, got)
			}
		}
	}
	// Nothing left running: no monitor, no keeper, nothing mounted.
	waitFor(t, "the monitors to exit", func() bool { return len(monitorPIDs(t, s.root)) == 0 })
	if m := mountsUnder(t, s.root); len(m) != 0 {
		t.Errorf("mounts left: %v", m)
	}
}

// TestKeeperAutoRemove: a --rm container that had a keeper is removed once it exits (the Go
// monitor exec'd back removes it, the volatile layer with it), and survives `hako restart`,
// which must not count as an exit for --rm.
func TestKeeperAutoRemove(t *testing.T) {
	s := runStore(t)
	id := strings.TrimSpace(keeperOK(s, nil, "run", "-d", "--rm", "busybox", "sh", "-c", "echo hi; sleep 0.5"))
	dir := filepath.Dir(strings.TrimSpace(keeperOK(s, nil, "inspect", "-f", "{{.LogPath}}", id)))
	waitKeeper(t, s, id)
	waitFor(t, "the --rm container to be removed", func() bool { return keeperOK(s, nil, "ps", "-aq") == "" })
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("container directory %s left", dir)
	}
	if m := mountsNaming(id); len(m) != 0 {
		t.Errorf("mounts left: %v", m)
	}
	waitFor(t, "its monitor to exit", func() bool { pid, _ := keeperMonitorOf(s, id); return pid == 0 })

	id = strings.TrimSpace(keeperOK(s, nil, "run", "-d", "--rm", "--name", "temp", "busybox", "sleep", "100"))
	waitKeeper(t, s, id)
	keeperOK(s, nil, "restart", "-t", "1", "temp")
	if got := keeperOK(s, nil, "inspect", "-f", "{{.State.Status}}", "temp"); got != "running\n" {
		t.Fatalf("a --rm container after restart: %q", got)
	}
	waitKeeper(t, s, id)
	keeperOK(s, nil, "stop", "-t", "1", "temp")
	waitFor(t, "the --rm container to go after stop", func() bool { return keeperRun(s, nil, "inspect", "temp").code != 0 })
	if m := mountsNaming(id); len(m) != 0 {
		t.Errorf("mounts left: %v", m)
	}
}

// TestKeeperRestartPolicy: --restart on-failure:2 runs the container three times although each
// run's monitor is a keeper that execs back (the restarted run gets its keeper too); the restart
// count and the exit code are recorded and the log holds every run's output. The back-off,
// carried across the execs on the keeper's command line, still grows as Docker's: the container
// record says "restarting" for 100 ms, then 200 ms (a back-off that began again at 100 ms after
// each exec would make both 100 ms). The record is polled directly (container.json, next to the
// log), every few milliseconds, for a measure that does not depend on the machine's load; the
// run times in the log must show the same growth, loosely.
func TestKeeperRestartPolicy(t *testing.T) {
	s := runStore(t)
	id := strings.TrimSpace(keeperOK(s, nil, "run", "-d", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; sleep 0.4; exit 3"))
	record := filepath.Join(filepath.Dir(strings.TrimSpace(keeperOK(s, nil, "inspect", "-f", "{{.LogPath}}", id))), "container.json")
	var st struct {
		RestartCount int
		State        struct{ Status string }
	}
	var periods []time.Duration
	var restarting time.Time
	keeperOfSecond := false
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the restarts did not end within 15 s: %+v, restarting for %v", st, periods)
		}
		b, err := os.ReadFile(record)
		if err != nil || json.Unmarshal(b, &st) != nil {
			continue
		}
		now := time.Now()
		switch {
		case st.State.Status == "restarting" && restarting.IsZero():
			restarting = now
		case st.State.Status != "restarting" && !restarting.IsZero():
			periods = append(periods, now.Sub(restarting))
			restarting = time.Time{}
		}
		if st.RestartCount == 1 && st.State.Status == "running" && !keeperOfSecond {
			_, args := keeperMonitorOf(s, id)
			keeperOfSecond = isKeeper(args)
		}
		if st.RestartCount == 2 && st.State.Status == "exited" {
			break
		}
	}
	t.Logf("restarting for %v", periods)
	if !keeperOfSecond {
		t.Errorf("the second run had no keeper")
	}
	if len(periods) != 2 || periods[0] < 80*time.Millisecond || periods[1] < 180*time.Millisecond {
		t.Errorf("the back-off: restarting for %v, want about 100ms then 200ms", periods)
	}
	if got := keeperOK(s, nil, "inspect", "-f", "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}", id); got != "2 exited 3\n" {
		t.Errorf("after the restarts: %q", got)
	}
	// No third restart.
	time.Sleep(1200 * time.Millisecond)
	if got := keeperOK(s, nil, "inspect", "-f", "{{.RestartCount}} {{.State.Status}}", id); got != "2 exited\n" {
		t.Errorf("on-failure:2 went on: %q", got)
	}
	r := keeperRun(s, nil, "logs", "-t", id)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("logs -t: want three runs: %+v", r)
	}
	var times []time.Time
	for _, l := range lines {
		ts, rest, _ := strings.Cut(l, " ")
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || rest != "run" {
			t.Fatalf("logs -t line %q: %v", l, err)
		}
		times = append(times, tm)
	}
	g1, g2 := times[1].Sub(times[0]), times[2].Sub(times[1])
	t.Logf("the runs started %v then %v apart", g1, g2)
	// 0.4 s of run, then 100 ms and 200 ms of back-off; a loaded machine adds to either gap.
	if g1 < 500*time.Millisecond || g2 < g1-100*time.Millisecond {
		t.Errorf("the runs started %v then %v apart: want at least 500ms, then about 100ms more", g1, g2)
	}
	waitFor(t, "the monitor to exit", func() bool { pid, _ := keeperMonitorOf(s, id); return pid == 0 })
}

// TestKeeperStopStart: stop kills a keeper's container and the exit is recorded; start brings
// it back with a keeper again, the log keeps both runs; rm -f leaves no monitor, no process
// and no mount.
func TestKeeperStopStart(t *testing.T) {
	s := runStore(t)
	id := strings.TrimSpace(keeperOK(s, nil, "run", "-d", "busybox", "sh", "-c", "echo started; exec sleep 1006"))
	pid1, _ := waitKeeper(t, s, id)
	waitFor(t, "the first run's output", func() bool { return keeperOK(s, nil, "logs", id) == "started\n" })
	start := time.Now()
	keeperOK(s, nil, "stop", "-t", "1", id)
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("stop -t 1 took %v", d)
	}
	if got := keeperOK(s, nil, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id); got != "exited 137\n" && got != "exited 143\n" {
		t.Errorf("after stop: %q", got)
	}
	waitFor(t, "the first keeper to exit", func() bool { pid, _ := keeperMonitorOf(s, id); return pid == 0 })
	keeperOK(s, nil, "start", id)
	pid2, _ := waitKeeper(t, s, id)
	if pid2 == pid1 {
		t.Errorf("the second run has the first run's keeper %d", pid1)
	}
	if got := keeperOK(s, nil, "ps", "--filter", "id="+id, "--format", "{{.Status}}"); !strings.HasPrefix(got, "Up ") {
		t.Errorf("ps after start: %q", got)
	}
	waitFor(t, "both runs in the log", func() bool { return keeperOK(s, nil, "logs", id) == "started\nstarted\n" })
	keeperOK(s, nil, "rm", "-f", id)
	waitFor(t, "every process naming the container to go", func() bool { return len(processesNaming(id)) == 0 })
	if p := cgroupProcs(id); len(p) != 0 {
		t.Errorf("processes left in the container's cgroup: %v", p)
	}
	if m := mountsNaming(id); len(m) != 0 {
		t.Errorf("mounts left: %v", m)
	}
}

// TestKeeperKilled: a keeper killed with SIGKILL is a dead monitor, as a killed Go monitor is:
// ps shows the container exited (255, "the container's monitor died") at once, the orphaned
// container process is killed by the next start (which starts it afresh, with a keeper) or by
// rm -f, and nothing stays mounted. Both monitors must behave the same.
func TestKeeperKilled(t *testing.T) {
	s := runStore(t)
	var outcome [2]string
	for i, m := range keeperModes {
		id := strings.TrimSpace(keeperOK(s, m.env, "run", "-d", "busybox", "sh", "-c", "echo up; exec sleep 1007"))
		var pid int
		if m.env == nil {
			pid, _ = waitKeeper(t, s, id)
		} else {
			waitFor(t, "the monitor", func() bool { pid, _ = keeperMonitorOf(s, id); return pid != 0 })
		}
		waitFor(t, "the output", func() bool { return keeperOK(s, m.env, "logs", id) == "up\n" })
		init1 := atoi(strings.TrimSpace(keeperOK(s, m.env, "inspect", "-f", "{{.State.Pid}}", id)))
		if err := syscallKill(pid); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(3 * time.Second)
		for !strings.HasPrefix(keeperOK(s, m.env, "ps", "-a", "--filter", "id="+id, "--format", "{{.Status}}"), "Exited") {
			if time.Now().After(deadline) {
				t.Fatalf("%s: ps 3 s after the monitor was killed: %q", m.name, keeperOK(s, m.env, "ps", "-a", "--filter", "id="+id, "--format", "{{.Status}}"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		st := keeperOK(s, m.env, "inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}} {{.State.Error}}", id)
		outcome[i] = st
		t.Logf("%s: after kill -9 of the monitor: %q; the container's processes: %v (init was %d)", m.name, st, cgroupProcs(id), init1)
		if st != "exited false 255 the container's monitor died\n" {
			t.Errorf("%s: inspect after the monitor died: %q", m.name, st)
		}
		// start runs it again, and the orphan of the first run is gone.
		keeperOK(s, m.env, "start", id)
		if m.env == nil {
			waitKeeper(t, s, id)
		} else {
			requireGoMonitor(t, s, id, "the second run with HAKO_MONITOR_KEEPER=off")
		}
		waitFor(t, "the second run's output", func() bool { return keeperOK(s, m.env, "logs", id) == "up\nup\n" })
		init2 := atoi(strings.TrimSpace(keeperOK(s, m.env, "inspect", "-f", "{{.State.Pid}}", id)))
		if procs := cgroupProcs(id); init2 == init1 || !slices.Equal(procs, []int{init2}) {
			t.Errorf("%s: after start, the container's processes are %v; init was %d, is %d", m.name, procs, init1, init2)
		}
		if st := procStatus(init1, "State"); st != "" && !strings.HasPrefix(st, "Z") {
			t.Errorf("%s: the first run's init %d still runs after start (%s)", m.name, init1, st)
		}
		// Killed again, then removed: nothing left.
		waitFor(t, "the second run's monitor", func() bool { pid, _ = keeperMonitorOf(s, id); return pid != 0 })
		syscallKill(pid)
		waitFor(t, "ps to show it exited", func() bool {
			return strings.HasPrefix(keeperOK(s, m.env, "ps", "-a", "--filter", "id="+id, "--format", "{{.Status}}"), "Exited")
		})
		keeperOK(s, m.env, "rm", "-f", id)
		waitFor(t, "the container's processes to go", func() bool { return len(cgroupProcs(id)) == 0 && len(processesNaming(id)) == 0 })
		if mi := mountsNaming(id); len(mi) != 0 {
			t.Errorf("%s: mounts left after rm -f: %v", m.name, mi)
		}
	}
	if outcome[0] != outcome[1] {
		t.Errorf("a killed keeper reads %q, a killed Go monitor %q", outcome[0], outcome[1])
	}
}

func syscallKill(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("no monitor to kill")
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// TestKeeperLogRotation: with --log-opt max-size=1k max-file=3 the keeper rotates as the Go
// monitor does: exactly path, path.1 and path.2, none over 1 KiB, whole records only, and logs
// shows the newest lines in order without a gap up to the last one. Lines written one per
// write, and all in one write (the rotation falls inside a read).
func TestKeeperLogRotation(t *testing.T) {
	s := runStore(t)
	scripts := map[string]string{
		"one write per line": `i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo "line $i"; done`,
		"one write":          `seq 200 | sed 's/^/line /' >/tmp/all; cat /tmp/all`,
	}
	for _, m := range keeperModes {
		for what, script := range scripts {
			id := strings.TrimSpace(keeperOK(s, m.env, "run", "-d", "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "busybox", "sh", "-c", "sleep 0.5; "+script))
			if m.env == nil {
				waitKeeper(t, s, id)
			}
			keeperOK(s, m.env, "wait", id)
			p := strings.TrimSpace(keeperOK(s, m.env, "inspect", "-f", "{{.LogPath}}", id))
			files, _ := filepath.Glob(p + "*")
			want := []string{p, p + ".1", p + ".2"}
			if !slices.Equal(files, want) {
				t.Errorf("%s, %s: log files %v, want %v", m.name, what, files, want)
			}
			for _, f := range files {
				fi, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Size() > 1024 || fi.Size() == 0 {
					t.Errorf("%s, %s: %s: size %d", m.name, what, filepath.Base(f), fi.Size())
				}
				readJSONLog(t, f)
				// A rotated file was full: the next record (at most 81 bytes) did not fit.
				if f != p && fi.Size() < 1024-100 {
					t.Errorf("%s, %s: %s rotated at %d bytes", m.name, what, filepath.Base(f), fi.Size())
				}
			}
			r := keeperRun(s, m.env, "logs", id)
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if r.code != 0 || r.stderr != "" || len(lines) < 20 {
				t.Errorf("%s, %s: logs: %d lines: %+v", m.name, what, len(lines), r)
				continue
			}
			first := 200 - len(lines) + 1
			for i, l := range lines {
				if l != fmt.Sprintf("line %d", first+i) {
					t.Errorf("%s, %s: logs line %d is %q, want line %d (a gap or disorder):\n%s", m.name, what, i+1, l, first+i, r.stdout)
					break
				}
			}
			t.Logf("%s, %s: %d lines kept", m.name, what, len(lines))
		}
	}
}

// TestKeeperNotForAttached: only a detached container without a terminal and without a
// healthcheck gets a keeper: a foreground run, start -a, run -i (their output is teed to the
// command, stdin served), run -d -t (a terminal), a --health-cmd and an image HEALTHCHECK (the
// checks run in Go) keep the Go monitor; --no-healthcheck on that image gets the keeper.
func TestKeeperNotForAttached(t *testing.T) {
	s := runStore(t)
	s.mustBuild("-t", "healthy:1", buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nHEALTHCHECK --interval=1s CMD true\n"}))

	// Foreground, start -a and run -i: the command is attached while the check runs.
	fg := func(what string, stdin bool, args ...string) {
		t.Helper()
		cmd := exec.Command(hakoBin, append([]string{"--root", s.root}, args...)...)
		cmd.Env = keeperEnv(nil)
		var in interface{ Close() error }
		if stdin {
			w, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			in = w
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if line != "up\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("%s: first line %q", what, line)
		}
		id := strings.TrimSpace(keeperOK(s, nil, "ps", "-q", "--no-trunc", "--filter", "name="+what))
		if len(id) != 64 {
			t.Fatalf("%s: ps: %q", what, id)
		}
		requireGoMonitor(t, s, id, what)
		if in != nil {
			in.Close()
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	fg("fg", false, "run", "--name", "fg", "busybox", "sh", "-c", "echo up; sleep 1")
	s.ok("create", "--name", "sa", "busybox", "sh", "-c", "echo up; sleep 1")
	fg("sa", false, "start", "-a", "sa")
	fg("ri", true, "run", "-i", "--name", "ri", "busybox", "sh", "-c", "echo up; cat >/dev/null")

	// Detached, but with a terminal or a healthcheck.
	for _, c := range []struct {
		what string
		args []string
	}{
		{"run -d -t", []string{"-t", "busybox", "sleep", "100"}},
		{"run -d --health-cmd", []string{"--health-cmd", "true", "--health-interval", "1s", "busybox", "sleep", "100"}},
		{"image HEALTHCHECK", []string{"healthy:1", "sleep", "100"}},
	} {
		id := strings.TrimSpace(keeperOK(s, nil, append([]string{"run", "-d"}, c.args...)...))
		requireGoMonitor(t, s, id, c.what)
		keeperOK(s, nil, "rm", "-f", id)
	}
	// Positive controls: the same image without its healthcheck, and busybox plainly.
	for _, args := range [][]string{{"--no-healthcheck", "healthy:1", "sleep", "100"}, {"busybox", "sleep", "100"}} {
		id := strings.TrimSpace(keeperOK(s, nil, append([]string{"run", "-d"}, args...)...))
		waitKeeper(t, s, id)
		keeperOK(s, nil, "rm", "-f", id)
	}
}

// TestKeeperMonitorBinaryReplaced: the keeper execs the Go monitor back from /proc/self/exe,
// the file it was started from; an upgrade that removes or replaces hako-monitor while a
// container runs must not leave that container's exit unrecorded.
func TestKeeperMonitorBinaryReplaced(t *testing.T) {
	s := runStore(t)
	dir := t.TempDir()
	for _, b := range []string{"hako", "hako-monitor"} {
		if out, err := exec.Command("cp", filepath.Join(filepath.Dir(hakoBin), b), dir).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
	}
	cmd := exec.Command(filepath.Join(dir, "hako"), "--root", s.root, "run", "-d", "busybox", "sh", "-c", "echo a; sleep 1; echo b; exit 5")
	cmd.Env = keeperEnv(nil)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run: %v %s", err, out)
	}
	id := strings.TrimSpace(string(out))
	waitKeeper(t, s, id)
	// Replaced as a package manager does: a new file renamed over the old one.
	mon := filepath.Join(dir, "hako-monitor")
	if err := os.WriteFile(mon+".new", []byte("#!/bin/sh\nexit 99\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(mon+".new", mon); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(keeperOK(s, nil, "wait", id)); got != "5" {
		t.Errorf("wait: %q", got)
	}
	if got := keeperOK(s, nil, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}", id); got != "exited 5 \n" {
		t.Errorf("inspect: %q", got)
	}
	if got := keeperOK(s, nil, "logs", id); got != "a\nb\n" {
		t.Errorf("logs: %q", got)
	}
	waitFor(t, "the monitor to exit", func() bool { pid, _ := keeperMonitorOf(s, id); return pid == 0 })
	if m := mountsNaming(id); len(m) != 0 {
		t.Errorf("mounts left: %v", m)
	}
}

// TestKeeperHugeMaxFile: a --log-opt max-file that the keeper does not take (more than 2^31-1
// files) keeps the Go monitor, which the container runs under as before. The keeper used to die
// on its arguments and leave the container without a monitor.
func TestKeeperHugeMaxFile(t *testing.T) {
	s := runStore(t)
	id := strings.TrimSpace(s.ok("run", "-d", "--log-opt", "max-size=1k", "--log-opt", "max-file=2147483648", "busybox", "sh", "-c", "echo up; sleep 1; exit 7"))
	requireGoMonitor(t, s, id, "max-file=2147483648")
	if out := strings.TrimSpace(s.ok("wait", id)); out != "7" {
		t.Fatalf("wait: %q, want 7", out)
	}
	if out := s.ok("logs", id); out != "up\n" {
		t.Fatalf("logs: %q", out)
	}
}

// TestKeeperWithoutKeeperBinary: where there is no hako-keeper next to hako (an older install),
// the monitor becomes the keeper in its own binary, as before hako-keeper existed, and the exit
// is recorded all the same.
func TestKeeperWithoutKeeperBinary(t *testing.T) {
	s := runStore(t)
	dir := t.TempDir()
	for _, b := range []string{"hako", "hako-monitor", "hako-init"} {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(hakoBin), b))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, b), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hako := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(dir, "hako"), append([]string{"--root", s.root}, args...)...)
		cmd.Env = keeperEnv(nil)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("hako %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	id := hako("run", "-d", "busybox", "sh", "-c", "echo kept; sleep 1; exit 4")
	pid, _ := waitKeeper(t, s, id)
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); exe != filepath.Join(dir, "hako-monitor") {
		t.Errorf("without hako-keeper the keeper runs %q, want %s/hako-monitor", exe, dir)
	}
	if code := hako("wait", id); code != "4" {
		t.Errorf("wait: %q, want 4", code)
	}
	if got := hako("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id); got != "exited 4" {
		t.Errorf("inspect: %q", got)
	}
	if got := hako("logs", id); got != "kept" {
		t.Errorf("logs: %q", got)
	}
}
