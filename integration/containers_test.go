package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// inspectOne runs `inspect` on one container and decodes its document.
func inspectOne(t *testing.T, s *store, args ...string) map[string]any {
	t.Helper()
	var docs []map[string]any
	out := s.ok(append([]string{"inspect"}, args...)...)
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&docs); err != nil || len(docs) != 1 {
		t.Fatalf("inspect %v: %v\n%s", args, err, out)
	}
	return docs[0]
}

// path walks a decoded JSON document: path(doc, "State", "Status").
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInspectContainer: Docker's JSON shape with the run options in HostConfig and Config,
// inspect finds a container before an image, --type, container inspect, --format and -s.
func TestInspectContainer(t *testing.T) {
	s := runStore(t)
	host := t.TempDir()
	id := strings.TrimSpace(s.ok("run", "-d", "--name", "insp", "-h", "boxy", "-e", "A=1", "-l", "team=core", "-w", "/work", "-u", "nobody",
		"--memory", "64m", "--cpus", "0.5", "--pids-limit", "50", "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN",
		"--security-opt", "no-new-privileges", "--ulimit", "nofile=1024:2048", "-v", host+":/data:ro", "--tmpfs", "/scratch:size=1m",
		"--log-opt", "max-size=1m", "--stop-signal", "INT", "--stop-timeout", "3",
		"busybox", "sh", "-c", "trap 'exit 0' INT; while true; do sleep 0.1; done"))
	d := inspectOne(t, s, "insp")
	want := map[string]string{
		"Id": id, "Name": "/insp", "Path": "sh", "Driver": "overlay", "Platform": "linux",
		"State.Status": "running", "State.Running": "true", "State.OOMKilled": "false", "State.ExitCode": "0",
		"HostConfig.Memory": "67108864", "HostConfig.MemorySwap": "134217728", "HostConfig.NanoCpus": "500000000", "HostConfig.PidsLimit": "50",
		"HostConfig.NetworkMode": "none", "HostConfig.AutoRemove": "false", "HostConfig.Privileged": "false", "HostConfig.ReadonlyRootfs": "false",
		"HostConfig.LogConfig.Type": "json-file", "HostConfig.LogConfig.Config.max-size": "1m", "HostConfig.Tmpfs./scratch": "size=1m",
		"Config.Hostname": "boxy", "Config.User": "nobody", "Config.WorkingDir": "/work", "Config.Image": "busybox",
		"Config.StopSignal": "INT", "Config.StopTimeout": "3", "Config.Labels.team": "core", "GraphDriver.Name": "overlay",
	}
	for k, v := range want {
		got := path(d, strings.Split(k, ".")...)
		if fmt.Sprint(got) != v {
			t.Errorf("%s = %v, want %s", k, got, v)
		}
	}
	lists := map[string]string{
		"Args": `["-c","trap 'exit 0' INT; while true; do sleep 0.1; done"]`, "Config.Env": `["A=1"]`,
		"HostConfig.CapAdd": `["NET_ADMIN"]`, "HostConfig.CapDrop": `["CHOWN"]`, "HostConfig.SecurityOpt": `["no-new-privileges"]`,
		"HostConfig.Binds": `["` + host + `:/data:ro"]`, "HostConfig.Ulimits": `[{"Hard":2048,"Name":"nofile","Soft":1024}]`,
		"Mounts":     `[{"Destination":"/data","Mode":"ro","Propagation":"rprivate","RW":false,"Source":"` + host + `","Type":"bind"}]`,
		"Config.Cmd": `["sh","-c","trap 'exit 0' INT; while true; do sleep 0.1; done"]`,
	}
	for k, v := range lists {
		if got := jsonString(path(d, strings.Split(k, ".")...)); got != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
	if pid, _ := strconv.Atoi(fmt.Sprint(path(d, "State", "Pid"))); pid <= 0 {
		t.Errorf("State.Pid = %v", path(d, "State", "Pid"))
	}
	if img := fmt.Sprint(path(d, "Image")); !strings.HasPrefix(img, "sha256:") {
		t.Errorf("Image = %s", img)
	}
	for _, k := range []string{"LogPath", "HostnamePath", "HostsPath", "ResolvConfPath"} {
		if _, err := os.Stat(fmt.Sprint(d[k])); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if b, _ := os.ReadFile(fmt.Sprint(d["HostnamePath"])); string(b) != "boxy\n" {
		t.Errorf("hostname file: %q", b)
	}
	for _, k := range []string{"UpperDir", "LowerDir", "WorkDir", "MergedDir"} {
		if path(d, "GraphDriver", "Data", k) == nil {
			t.Errorf("GraphDriver.Data.%s missing", k)
		}
	}
	for _, k := range []string{"Created", "RestartCount", "MountLabel", "ProcessLabel", "AppArmorProfile", "NetworkSettings", "ResolvConfPath"} {
		if _, ok := d[k]; !ok {
			t.Errorf("%s missing", k)
		}
	}
	// --format, container inspect, -s, and the image still reachable by its name.
	if got := s.ok("inspect", "--format", "{{.Name}} {{.State.Status}} {{.HostConfig.Memory}}", "insp"); got != "/insp running 67108864\n" {
		t.Errorf("inspect --format: %q", got)
	}
	if got := s.ok("container", "inspect", "-f", "{{.Id}}", id[:12]); got != id+"\n" {
		t.Errorf("container inspect by short ID: %q", got)
	}
	s.ok("stop", "insp")
	if got := s.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "insp"); got != "exited 0\n" {
		t.Errorf("after stop (INT via --stop-signal): %q", got)
	}
	sz := inspectOne(t, s, "-s", "insp")
	if rw, _ := strconv.Atoi(fmt.Sprint(sz["SizeRw"])); rw < 0 || sz["SizeRootFs"] == nil {
		t.Errorf("inspect -s: SizeRw %v SizeRootFs %v", sz["SizeRw"], sz["SizeRootFs"])
	}
	if img := inspectOne(t, s, "busybox"); img["RepoTags"] == nil {
		t.Errorf("inspect of an image: %v", img)
	}
	if got := s.ok("image", "inspect", "-f", "{{.RepoTags}}", "busybox"); got != "[busybox:latest]\n" {
		t.Errorf("image inspect: %q", got)
	}
	// A container named like an image wins in `inspect`, as in Docker; --type chooses.
	s.ok("create", "--name", "busybox", "busybox")
	if got := s.ok("inspect", "-f", "{{.Name}}", "busybox"); got != "/busybox\n" {
		t.Errorf("inspect prefers the container: %q", got)
	}
	if got := s.ok("inspect", "--type", "image", "-f", "{{.RepoTags}}", "busybox"); got != "[busybox:latest]\n" {
		t.Errorf("inspect --type image: %q", got)
	}
	if got := s.ok("inspect", "-f", "{{.State.Status}} {{.Path}}", "busybox"); got != "created sh\n" {
		t.Errorf("inspect of a created container: %q", got)
	}
	if r := s.run("inspect", "nosuch"); r.code != 1 || !strings.Contains(r.stderr, "No such object: nosuch") || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("inspect nosuch: %+v", r)
	}
	if r := s.run("container", "inspect", "nosuch"); r.code != 1 || !strings.Contains(r.stderr, "No such container: nosuch") {
		t.Errorf("container inspect nosuch: %+v", r)
	}
	if r := s.run("inspect", "--type", "volume", "insp"); r.code == 0 || !strings.Contains(r.stderr, "--type") {
		t.Errorf("inspect --type volume: %+v", r)
	}
}

// TestOOMKilled: a container over its --memory is killed by the kernel: exit 137 and
// OOMKilled true in inspect.
func TestOOMKilled(t *testing.T) {
	s := runStore(t)
	r := s.run("run", "--name", "hog", "--memory", "8m", "busybox", "sh", "-c", "x=a; while true; do x=$x$x; done")
	if r.code != 137 {
		t.Fatalf("run over --memory: %+v", r)
	}
	if got := s.ok("inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}} {{.State.Status}} {{.HostConfig.Memory}}", "hog"); got != "true 137 exited 8388608\n" {
		t.Fatalf("inspect after an OOM kill: %q", got)
	}
	// A plain kill is not an OOM kill.
	s.ok("run", "-d", "--name", "plain", "--memory", "8m", "busybox", "sleep", "100")
	s.ok("kill", "plain")
	s.ok("wait", "plain")
	if got := s.ok("inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "plain"); got != "false 137\n" {
		t.Fatalf("inspect after kill: %q", got)
	}
}

// TestDiff: A, C and D lines like docker diff, without the mount points the runtime made
// (/etc/hostname, /proc, /dev...), on both snapshotters.
func TestDiff(t *testing.T) {
	for _, sn := range []string{"overlay", "native"} {
		t.Run(sn, func(t *testing.T) {
			s := runStore(t)
			if sn == "native" {
				s = newStore(t)
				s.ok("--snapshotter", "native", "import", "-c", `CMD ["sh"]`, busyboxTar(t), "busybox:latest")
			}
			sh := func(args ...string) string { return s.ok(append([]string{"--snapshotter", sn}, args...)...) }
			sh("create", "--name", "fresh", "busybox")
			if got := sh("diff", "fresh"); got != "" {
				t.Fatalf("diff of a created container: %q", got)
			}
			sh("run", "--name", "ch", "-v", t.TempDir()+":/mnt/vol", "busybox", "sh", "-c",
				"echo hi >/tmp/new; mkdir -p /root/a/b; echo x >/root/a/b/f; rm /bin/ls; echo more >>/etc/passwd; rm -f /etc/group")
			want := "C /bin\nD /bin/ls\nC /etc\nD /etc/group\nC /etc/passwd\nC /root\nA /root/a\nA /root/a/b\nA /root/a/b/f\nC /tmp\nA /tmp/new\n"
			got := sh("diff", "ch")
			if sn == "native" {
				// A copy has no upper dir to show which directories were copied up: a directory
				// shows as changed when its own metadata did (its mtime, here).
				got = regexp.MustCompile(`(?m)^C /(bin|etc|root|tmp)\n`).ReplaceAllString(got, "")
				want = regexp.MustCompile(`(?m)^C /(bin|etc|root|tmp)\n`).ReplaceAllString(want, "")
			}
			if got != want {
				t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
			}
			if r := s.run("--snapshotter", sn, "diff", "nosuch"); r.code != 125 || !strings.Contains(r.stderr, "No such container: nosuch") {
				t.Fatalf("diff nosuch: %+v", r)
			}
			// ps -s: the writable layer's bytes and the image's.
			size := sh("ps", "-a", "-s", "--filter", "name=ch", "--format", "{{.Size}}")
			if !regexp.MustCompile(`^\d+(\.\d+)?k?B \(virtual \d+(\.\d+)?MB\)\n$`).MatchString(size) {
				t.Fatalf("ps -s: %q", size)
			}
			if got := sh("ps", "-a", "-s", "--filter", "name=fresh", "--format", "{{.Size}}"); !strings.HasPrefix(got, "0B (virtual ") {
				t.Fatalf("ps -s of a fresh container: %q", got)
			}
		})
	}
}

// TestContainerPrune: stopped containers go, running ones stay; filters; the prompt; the report.
func TestContainerPrune(t *testing.T) {
	s := runStore(t)
	keep := strings.TrimSpace(s.ok("run", "-d", "--name", "up", "busybox", "sleep", "100"))
	a := strings.TrimSpace(s.ok("create", "--name", "a", "-l", "tier=web", "busybox"))
	s.ok("run", "--name", "b", "busybox", "sh", "-c", "head -c 3000 /dev/zero >/tmp/blob")
	b := strings.TrimSpace(s.ok("inspect", "-f", "{{.Id}}", "b"))
	if r := s.runIn([]byte("n\n"), "container", "prune"); r.code != 0 || !strings.Contains(r.stdout, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ") {
		t.Fatalf("prune prompt: %+v", r)
	}
	if got := s.ok("ps", "-aq"); len(strings.Fields(got)) != 3 {
		t.Fatalf("prune answered no removed something: %q", got)
	}
	if got := s.ok("container", "prune", "-f", "--filter", "label=tier=web"); got != "Deleted Containers:\n"+a+"\n\nTotal reclaimed space: 0B\n" {
		t.Fatalf("prune --filter label: %q", got)
	}
	if got := s.ok("container", "prune", "-f", "--filter", "until=2000-01-01T00:00:00Z"); got != "Total reclaimed space: 0B\n" {
		t.Fatalf("prune --filter until: %q", got)
	}
	if got := s.ok("container", "prune", "-f", "--filter", "label!=nosuch"); got != "Deleted Containers:\n"+b+"\n\nTotal reclaimed space: 3kB\n" {
		t.Fatalf("prune: %q", got)
	}
	if got := s.ok("ps", "-aq", "--no-trunc"); got != keep+"\n" {
		t.Fatalf("after prune: %q", got)
	}
	if r := s.run("container", "prune", "-f", "--filter", "color=red"); r.code != 125 || !strings.Contains(r.stderr, "invalid filter") {
		t.Fatalf("prune with a bad filter: %+v", r)
	}
}

// TestRestart: restart stops with the stop signal (SIGKILL after -t) and starts again, a
// stopped container just starts.
func TestRestart(t *testing.T) {
	s := runStore(t)
	s.ok("run", "-d", "--name", "r", "busybox", "sh", "-c", "echo start; trap 'echo term; exit 0' TERM; while true; do sleep 0.1; done")
	waitFor(t, "first start in the logs", func() bool { return strings.Contains(s.ok("logs", "r"), "start") })
	before := s.ok("inspect", "-f", "{{.State.StartedAt}} {{.State.Pid}}", "r")
	if got := s.ok("restart", "-t", "5", "r"); got != "r\n" {
		t.Fatalf("restart printed %q", got)
	}
	after := s.ok("inspect", "-f", "{{.State.StartedAt}} {{.State.Pid}}", "r")
	if before == after || s.ok("inspect", "-f", "{{.State.Status}}", "r") != "running\n" {
		t.Fatalf("restart: before %q after %q", before, after)
	}
	waitFor(t, "second start in the logs", func() bool { return s.ok("logs", "r") == "start\nterm\nstart\n" })
	// A command that ignores TERM is killed after -t.
	s.ok("run", "-d", "--name", "stubborn", "busybox", "sh", "-c", "trap '' TERM; while true; do sleep 0.1; done")
	start := time.Now()
	s.ok("restart", "-t", "1", "stubborn")
	if d := time.Since(start); d < time.Second || d > 8*time.Second {
		t.Fatalf("restart -t 1 of a container ignoring TERM took %v", d)
	}
	if got := s.ok("inspect", "-f", "{{.State.Status}}", "stubborn"); got != "running\n" {
		t.Fatalf("after restart: %q", got)
	}
	s.ok("create", "--name", "idle", "busybox", "sleep", "100")
	s.ok("restart", "idle")
	if got := s.ok("inspect", "-f", "{{.State.Status}}", "idle"); got != "running\n" {
		t.Fatalf("restart of a created container: %q", got)
	}
	// A --rm container survives a restart (its monitor removes it only on a real exit).
	s.ok("run", "-d", "--rm", "--name", "temp", "busybox", "sleep", "100")
	s.ok("restart", "-t", "1", "temp")
	if got := s.ok("inspect", "-f", "{{.State.Status}}", "temp"); got != "running\n" {
		t.Fatalf("--rm container after restart: %q", got)
	}
	s.ok("stop", "-t", "1", "temp")
	waitFor(t, "the --rm container to go", func() bool { return s.run("inspect", "temp").code != 0 })
	if r := s.run("restart", "nosuch"); r.code != 125 || !strings.Contains(r.stderr, "No such container") {
		t.Fatalf("restart nosuch: %+v", r)
	}
}

// TestPsOptions: -n, -l, the filters and --format, as Docker's.
func TestPsOptions(t *testing.T) {
	s := runStore(t)
	s.ok("import", "-c", `CMD ["sh"]`, "-c", "LABEL other=1", busyboxTar(t), "other:1")
	s.ok("run", "--name", "one", "busybox", "true")
	time.Sleep(10 * time.Millisecond)
	s.run("run", "--name", "three", "busybox", "sh", "-c", "exit 3")
	time.Sleep(10 * time.Millisecond)
	up := strings.TrimSpace(s.ok("run", "-d", "--name", "up", "other:1", "sleep", "100"))
	time.Sleep(10 * time.Millisecond)
	s.ok("create", "--name", "new", "busybox")
	names := func(args ...string) string {
		t.Helper()
		return strings.Join(strings.Fields(s.ok(append([]string{"ps", "--format", "{{.Names}}"}, args...)...)), " ")
	}
	cases := []struct {
		args []string
		want string
	}{
		{nil, "up"},
		{[]string{"-a"}, "new up three one"},
		{[]string{"-n", "2"}, "new up"},
		{[]string{"-l"}, "new"},
		{[]string{"--filter", "status=exited"}, "three one"},
		{[]string{"--filter", "status=created"}, "new"},
		{[]string{"--filter", "status=running", "--filter", "status=created"}, "new up"},
		{[]string{"--filter", "exited=3"}, "three"},
		{[]string{"--filter", "exited=0"}, "one"},
		{[]string{"--filter", "ancestor=other:1"}, "up"},
		{[]string{"--filter", "ancestor=busybox"}, "new three one"},
		{[]string{"--filter", "id=" + up[:6]}, "up"},
		{[]string{"--filter", "name=e"}, "new three one"},
		{[]string{"-n", "1", "--filter", "status=exited"}, "three"},
		{[]string{"-a", "--filter", "status=exited", "--filter", "name=one"}, "one"},
	}
	for _, c := range cases {
		if got := names(c.args...); got != c.want {
			t.Errorf("ps %v: %q, want %q", c.args, got, c.want)
		}
	}
	if got := s.ok("ps", "-a", "--filter", "name=three", "--format", "{{.ID}}|{{.Image}}|{{.Command}}|{{.State}}|{{.Status}}"); !regexp.MustCompile(`^[0-9a-f]{12}\|busybox\|"sh -c exit 3"\|exited\|Exited \(3\) .* ago\n$`).MatchString(got) {
		t.Errorf("ps --format: %q", got)
	}
	if got := s.ok("ps", "-a", "--filter", "name=up", "--format", "table {{.Names}}\t{{.State}}"); !regexp.MustCompile(`^NAMES\s+STATE\nup\s+running\n$`).MatchString(got) {
		t.Errorf("ps --format table: %q", got)
	}
	if got := s.ok("ps", "-a", "--filter", "name=up", "--format", "json"); !strings.Contains(got, `"Names":"up"`) {
		t.Errorf("ps --format json: %q", got)
	}
	if got := s.ok("ps", "-s", "--format", "table {{.Names}}\t{{.Size}}"); !regexp.MustCompile(`^NAMES\s+SIZE\nup\s+0B \(virtual \d`).MatchString(got) {
		t.Errorf("ps -s: %q", got)
	}
	if r := s.run("ps", "--filter", "colour=red"); r.code != 125 {
		t.Errorf("ps with a bad filter: %+v", r)
	}
}

// TestLogsFollowSinceUntil: logs -f streams until the container exits; --since, --until and -t.
func TestLogsFollowSinceUntil(t *testing.T) {
	s := runStore(t)
	s.ok("run", "-d", "--name", "talk", "busybox", "sh", "-c", "echo one; sleep 1.5; echo two >&2; sleep 0.5; echo three; exit 4")
	start := time.Now()
	r := s.run("logs", "-f", "talk")
	if d := time.Since(start); d < time.Second || d > 10*time.Second {
		t.Fatalf("logs -f returned after %v", d)
	}
	if r.code != 0 || r.stdout != "one\nthree\n" || r.stderr != "two\n" {
		t.Fatalf("logs -f: %+v", r)
	}
	if got := s.ok("inspect", "-f", "{{.State.ExitCode}}", "talk"); got != "4\n" {
		t.Fatalf("exit code: %q", got)
	}
	// -t: RFC 3339 timestamps with nanoseconds, in order.
	ts := regexp.MustCompile(`(?m)^(\S+) (one|two|three)$`)
	r = s.run("logs", "-t", "talk")
	lines := ts.FindAllStringSubmatch(r.stdout+r.stderr, -1)
	if len(lines) != 3 {
		t.Fatalf("logs -t: %+v", r)
	}
	times := map[string]time.Time{}
	for _, l := range lines {
		tm, err := time.Parse(time.RFC3339Nano, l[1])
		if err != nil {
			t.Fatalf("logs -t timestamp %q: %v", l[1], err)
		}
		times[l[2]] = tm
	}
	if !times["one"].Before(times["two"]) || !times["two"].Before(times["three"]) {
		t.Fatalf("logs -t out of order: %v", times)
	}
	since := times["two"].Add(-100 * time.Millisecond).Format(time.RFC3339Nano)
	if r := s.run("logs", "--since", since, "talk"); r.stdout != "three\n" || r.stderr != "two\n" {
		t.Fatalf("logs --since: %+v", r)
	}
	until := times["one"].Add(500 * time.Millisecond).Format(time.RFC3339Nano)
	if r := s.run("logs", "--until", until, "talk"); r.stdout != "one\n" || r.stderr != "" {
		t.Fatalf("logs --until: %+v", r)
	}
	if r := s.run("logs", "--since", "1h", "--until", strconv.FormatInt(times["three"].Add(-100*time.Millisecond).Unix()+1, 10), "talk"); !strings.HasPrefix(r.stdout, "one\n") {
		t.Fatalf("logs --since 1h --until unix: %+v", r)
	}
	// logs -f of an exited container prints and returns at once.
	start = time.Now()
	if r := s.run("logs", "-f", "--tail", "1", "talk"); r.stdout != "three\n" || time.Since(start) > 3*time.Second {
		t.Fatalf("logs -f of an exited container: %+v after %v", r, time.Since(start))
	}
}

// monitorPIDs finds the monitors of one store: the processes that hold a container's monitor
// lock (ROOT/containers/ID/monitor.lock) open, whatever their command line (the child of a
// forked run keeps the run's own). A reader (ps, exec) holds one only for a moment.
func monitorPIDs(t *testing.T, root string) []int {
	t.Helper()
	var out []int
	for pid := range monitorLocks(root) {
		out = append(out, pid)
	}
	return out
}

// monitorLocks maps each process that holds a monitor lock of the store at root to the IDs of
// those containers. A scan of /proc can miss a monitor that moves its lock to another
// descriptor meanwhile (its exec into the keeper), so it is the union of three scans.
func monitorLocks(root string) map[int][]string {
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	prefix := filepath.Join(root, "containers") + "/"
	out := map[int][]string{}
	for scan := 0; scan < 3; scan++ {
		if scan > 0 {
			time.Sleep(3 * time.Millisecond)
		}
		fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
		for _, fd := range fds {
			target, err := os.Readlink(fd)
			if err != nil || !strings.HasPrefix(target, prefix) || !strings.HasSuffix(target, "/monitor.lock") {
				continue
			}
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			id := filepath.Base(filepath.Dir(target))
			if pid != os.Getpid() && !slices.Contains(out[pid], id) {
				out[pid] = append(out[pid], id)
			}
		}
	}
	return out
}

// countProcs counts the processes whose command line is cmdline (NUL-separated).
func countProcs(cmdline string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	n := 0
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && string(b) == cmdline {
			n++
		}
	}
	return n
}

// killProcs kills with SIGKILL the processes whose command line is cmdline (NUL-separated)
// and waits until they are gone.
func killProcs(t *testing.T, cmdline string) {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && string(b) == cmdline {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	waitFor(t, "the processes to die", func() bool { return countProcs(cmdline) == 0 })
}

// mountsUnder lists the mount points below dir, deepest first.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			out = append([]string{fields[4]}, out...)
		}
	}
	return out
}

// TestStateSurvivesMachineRestart: a reboot, simulated by killing every monitor with -9 and
// unmounting the containers' root filesystems, leaves records that ps shows as exited and that
// start brings back; a container stopped before the reboot keeps its own exit code.
func TestStateSurvivesMachineRestart(t *testing.T) {
	s := runStore(t)
	s.ok("run", "-d", "--name", "web", "busybox", "sh", "-c", "echo up; trap 'exit 0' TERM; while true; do sleep 0.1; done")
	s.ok("run", "-d", "--name", "sleeper", "busybox", "sleep", "987654")
	s.run("run", "--name", "done", "busybox", "sh", "-c", "exit 7")
	s.ok("create", "--name", "fresh", "busybox")
	// Two --rm containers running at the reboot: their layers are mounted volatile, and the
	// crash leaves overlayfs's marker that refuses the next mount.
	s.ok("run", "-d", "--rm", "--name", "temp", "busybox", "sleep", "987655")
	s.ok("run", "-d", "--rm", "--name", "temp2", "busybox", "sleep", "987656")
	waitFor(t, "web's log", func() bool { return s.ok("logs", "web") == "up\n" })
	// Four monitors (a reading of /proc can miss one in the middle of its exec into the
	// keeper: read again).
	var pids []int
	waitFor(t, "4 monitors", func() bool { pids = monitorPIDs(t, s.root); return len(pids) == 4 })
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	waitFor(t, "the monitors to die", func() bool { return len(monitorPIDs(t, s.root)) == 0 })
	for _, m := range mountsUnder(t, s.root) {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			t.Fatalf("unmount %s: %v", m, err)
		}
	}
	// A reboot kills the container processes too, and empties the tmpfs that holds the
	// runtime's state (which a start would otherwise find, and end the old processes by).
	for _, p := range []string{"sleep\x00987655\x00", "sleep\x00987656\x00", "sleep\x00987654\x00"} {
		killProcs(t, p)
	}
	killProcs(t, "sh\x00-c\x00echo up; trap 'exit 0' TERM; while true; do sleep 0.1; done\x00")
	rtDir, err := filepath.EvalSymlinks(filepath.Join(s.root, "runtime"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(rtDir); err != nil {
		t.Fatal(err)
	}
	// start of a --rm container whose layer the crash left half-written: a clear error, and
	// it is removed; the boot removes the other, as dockerd does.
	r := s.run("start", "temp")
	if r.code != 125 || !strings.Contains(r.stderr, "was running with --rm when the machine stopped") {
		t.Fatalf("start of a --rm container after the crash: %+v", r)
	}
	if r := s.run("inspect", "temp"); r.code == 0 {
		t.Fatalf("temp was not removed after its failed start")
	}
	if got := s.ok("system", "boot"); got != "" {
		t.Fatalf("system boot started %q", got)
	}
	if r := s.run("inspect", "temp2"); r.code == 0 {
		t.Fatalf("system boot did not remove the --rm container temp2")
	}
	got := s.ok("ps", "-a", "--format", "{{.Names}} {{.State}} {{.Status}}")
	for _, want := range []string{`(?m)^web exited Exited \(255\) `, `(?m)^sleeper exited Exited \(255\) `, `(?m)^done exited Exited \(7\) `, `(?m)^fresh created Created$`} {
		if !regexp.MustCompile(want).MatchString(got) {
			t.Fatalf("ps -a after the restart, want %s:\n%s", want, got)
		}
	}
	if got := s.ok("ps", "-q"); got != "" {
		t.Fatalf("ps after the restart shows running containers: %q", got)
	}
	if got := s.ok("inspect", "-f", "{{.State.Error}}", "web"); !strings.Contains(got, "monitor died") {
		t.Fatalf("State.Error: %q", got)
	}
	s.ok("start", "web", "sleeper", "done", "fresh")
	// done and fresh exit at once (exit 7; sh without input); web and sleeper keep running.
	waitFor(t, "only web and sleeper to run", func() bool {
		got := strings.Fields(s.ok("ps", "--format", "{{.Names}}"))
		return len(got) == 2 && got[0] == "sleeper" && got[1] == "web"
	})
	waitFor(t, "web's second log line", func() bool { return s.ok("logs", "web") == "up\nup\n" })
	// One container process, not the one the dead monitor left beside the new one.
	if n := countProcs("sleep\x00987654\x00"); n != 1 {
		t.Fatalf("%d sleeper processes after start", n)
	}
	s.ok("stop", "-t", "2", "web")
	if got := s.ok("inspect", "-f", "{{.State.ExitCode}} {{.State.Error}}", "web"); got != "0 \n" {
		t.Fatalf("web after stop: %q", got)
	}
	s.ok("rm", "-f", "sleeper", "web", "done", "fresh")
	if m := mountsUnder(t, s.root); len(m) != 0 {
		t.Fatalf("mounts left: %v", m)
	}
}

// TestConcurrentCommands: many hako commands at once on one store: 10 run -d, ps and rm -f.
func TestConcurrentCommands(t *testing.T) {
	s := runStore(t)
	const n = 10
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan string, 3*n)
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			r := s.run("run", "-d", "busybox", "sleep", "100")
			if r.code != 0 {
				errs <- fmt.Sprintf("run -d: %+v", r)
				return
			}
			ids[i] = strings.TrimSpace(r.stdout)
		}(i)
		go func() {
			defer wg.Done()
			if r := s.run("ps", "-a"); r.code != 0 {
				errs <- fmt.Sprintf("ps: %+v", r)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if t.Failed() {
		return
	}
	names := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(s.ok("ps", "--no-trunc", "--format", "{{.ID}} {{.Names}}")), "\n") {
		id, name, _ := strings.Cut(line, " ")
		if names[name] {
			t.Errorf("name %s given twice", name)
		}
		names[name] = true
		_ = id
	}
	if len(names) != n {
		t.Fatalf("want %d running containers, ps shows %d", n, len(names))
	}
	errs = make(chan string, 2*n)
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func(id string) {
			defer wg.Done()
			if r := s.run("rm", "-f", id); r.code != 0 {
				errs <- fmt.Sprintf("rm -f: %+v", r)
			}
		}(ids[i])
		go func() {
			defer wg.Done()
			if r := s.run("ps", "-a"); r.code != 0 {
				errs <- fmt.Sprintf("ps: %+v", r)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := s.ok("ps", "-aq"); got != "" {
		t.Fatalf("left after rm -f: %q", got)
	}
	if m := mountsUnder(t, s.root); len(m) != 0 {
		t.Fatalf("mounts left: %v", m)
	}
	snaps, _ := filepath.Glob(filepath.Join(s.root, "snapshots/overlay/snapshots/[0-9]*"))
	if len(snaps) != 1 {
		t.Fatalf("snapshots left: %v", snaps)
	}
}
