package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runTimeout runs hako and reports a hang as a test failure instead of blocking the suite.
func (s *store) runTimeout(d time.Duration, args ...string) result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, hakoBin, append([]string{"--root", s.root}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		s.t.Fatalf("hako %v: still running after %v\nstdout: %s\nstderr: %s", args, d, o.String(), e.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("hako %v: %v", args, err)
	}
	return result{o.String(), e.String(), code}
}

// importVariant imports busybox with entries replaced: every entry of the busybox tar whose name
// (without "./") is in drop, or under a dropped directory, is left out, and extra are added.
func importVariant(t *testing.T, s *store, ref string, drop []string, extra []*tar.Header) {
	t.Helper()
	in, err := os.Open(busyboxTar(t))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tr := tar.NewReader(in)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		skip := false
		for _, d := range drop {
			if name == d || strings.HasPrefix(name, d+"/") {
				skip = true
			}
		}
		if skip {
			continue
		}
		tw.WriteHeader(h)
		io.Copy(tw, tr)
	}
	for _, h := range extra {
		if h.Mode == 0 {
			h.Mode = 0o755
		}
		h.ModTime = time.Unix(1700000000, 0)
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	p := filepath.Join(t.TempDir(), "variant.tar")
	os.WriteFile(p, buf.Bytes(), 0o644)
	s.ok("import", "-c", `CMD ["sh"]`, p, ref)
}

// snapshotTree lists a host directory tree with what a write would change.
func snapshotTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			fmt.Fprintln(&b, p, err)
			return nil
		}
		fi, _ := d.Info()
		data := ""
		if fi.Mode().IsRegular() {
			c, _ := os.ReadFile(p)
			data = fmt.Sprintf("%x", sha256.Sum256(c))
		}
		fmt.Fprintln(&b, p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano(), data)
		return nil
	})
	return b.String()
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// cleanFailure: a run that fails says why in one line and exits 125, 126 or 127.
func cleanFailure(r result) bool {
	return (r.code == 125 || r.code == 126 || r.code == 127) && strings.HasPrefix(r.stderr, "Error:") && strings.Count(r.stderr, "\n") == 1
}

// TestSecurityWorkdirFD: no host file descriptor reaches the container (runc CVE-2024-21626):
// a working directory of /proc/self/fd/N never lands in a host directory. On both start paths.
func TestSecurityWorkdirFD(t *testing.T) { forEachRunPath(t, testSecurityWorkdirFD) }

func testSecurityWorkdirFD(t *testing.T) {
	s := runPathStore(t)
	var st syscall.Stat_t
	syscall.Stat("/", &st)
	hostRoot := fmt.Sprintf("%d:%d", st.Dev, st.Ino)
	for n := 3; n <= 10; n++ {
		r := s.runTimeout(time.Minute, "run", "--rm", "-w", fmt.Sprintf("/proc/self/fd/%d", n), "busybox", "sh", "-c",
			"cd ../../../../../../../..; stat -c %d:%i .; ls -a "+s.root+" 2>&1")
		runPathTook(t, r)
		if r.code == 0 {
			if strings.Contains(r.stdout, hostRoot) || strings.Contains(r.stdout, "containers") {
				t.Fatalf("-w /proc/self/fd/%d reached the host: %+v", n, r)
			}
			continue
		}
		if !cleanFailure(r) {
			t.Fatalf("-w /proc/self/fd/%d: %+v", n, r)
		}
	}
	// Nor does any descriptor but stdio reach the process.
	out := s.ok("run", "--rm", "busybox", "ls", "/proc/self/fd")
	if strings.Fields(out)[0] != "0" || len(strings.Fields(out)) != 4 { // 0 1 2 and ls's own directory fd
		t.Fatalf("descriptors in the container: %q", out)
	}
}

// TestSecurityProcSelfExe: the container cannot overwrite the hako binary (nor the monitor's,
// which the C start path executes) through /proc/self/exe or /proc/1/exe (runc CVE-2019-5736).
// On both start paths.
func TestSecurityProcSelfExe(t *testing.T) { forEachRunPath(t, testSecurityProcSelfExe) }

func testSecurityProcSelfExe(t *testing.T) {
	s := runPathStore(t)
	before := sha256File(t, hakoBin)
	monitorBin := filepath.Join(filepath.Dir(hakoBin), "hako-monitor")
	monitorBefore := sha256File(t, monitorBin)
	for _, script := range []string{
		"cat /proc/self/exe >/proc/self/exe",
		"echo pwned >/proc/1/exe",
		"exec 3</proc/1/exe; echo pwned >/proc/self/fd/3",
		"for p in /proc/[0-9]*; do echo pwned >$p/exe; done",
		"ls -l /proc/1/exe",
	} {
		s.runTimeout(time.Minute, "run", "--rm", "busybox", "sh", "-c", script)
	}
	// The classic attack: the container's command is the runtime's binary itself. What it
	// finds is a sealed copy of the binary that started the init: hako-monitor, the lean
	// binary that a forked run's child executes and that stays as the run's monitor. It runs,
	// in the container (without a monitor's arguments it says how it is used), and the
	// binaries on the host come out of it unchanged (below).
	for _, ep := range []string{"/proc/self/exe", "/proc/1/exe"} {
		r := s.runTimeout(time.Minute, "run", "--rm", "--entrypoint", ep, "busybox")
		if r.code != 125 || !strings.Contains(r.stderr, "usage: hako-monitor --root ROOT") {
			t.Errorf("--entrypoint %s: want the sealed hako-monitor's usage: %+v", ep, r)
		}
	}
	// A container that keeps trying while other containers start.
	id := strings.TrimSpace(s.ok("run", "-d", "busybox", "sh", "-c",
		"while true; do for p in /proc/[0-9]*; do echo pwned >$p/exe; cat $p/exe >/tmp/x; done 2>/dev/null; done"))
	for i := 0; i < 3; i++ {
		s.ok("run", "--rm", "busybox", "true")
	}
	s.ok("rm", "-f", id)
	if after := sha256File(t, hakoBin); after != before {
		t.Fatalf("the hako binary changed: %s -> %s", before, after)
	}
	if after := sha256File(t, monitorBin); after != monitorBefore {
		t.Fatalf("the hako-monitor binary changed: %s -> %s", monitorBefore, after)
	}
}

// TestSecurityHostileImages: an image whose /dev, /dev/null, /proc, /etc or /etc/passwd is a
// symlink to a host path or a FIFO cannot make hako create, open or write a host path; the run
// either works inside the container or fails cleanly, and never hangs (podman CVE-2024-9676,
// runc CVE-2025-31133 and CVE-2025-52565 classes). On both start paths.
func TestSecurityHostileImages(t *testing.T) { forEachRunPath(t, testSecurityHostileImages) }

func testSecurityHostileImages(t *testing.T) {
	s := runPathStore(t)
	canary := t.TempDir()
	os.WriteFile(filepath.Join(canary, "passwd"), []byte("evil:x:4242:4242::/:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(canary, "group"), []byte("evil:x:4242:\n"), 0o644)
	os.WriteFile(filepath.Join(canary, "null"), []byte("not a device\n"), 0o644)
	os.Mkdir(filepath.Join(canary, "pts"), 0o755)
	before := snapshotTree(t, canary)
	rel := strings.TrimPrefix(canary, "/")
	up := strings.Repeat("../", 12) + rel
	link := func(name, target string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}
	}
	fifo := func(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeFifo, Mode: 0o666} }
	dir := func(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeDir} }
	cases := []struct {
		name  string
		drop  []string
		extra []*tar.Header
		user  string
	}{
		{"dev-symlink", []string{"dev"}, []*tar.Header{link("dev", canary)}, ""},
		{"dev-symlink-relative", []string{"dev"}, []*tar.Header{link("dev", up)}, ""},
		{"dev-null-symlink", []string{"dev"}, []*tar.Header{dir("dev"), link("dev/null", filepath.Join(canary, "null"))}, ""},
		{"dev-null-fifo", []string{"dev"}, []*tar.Header{dir("dev"), fifo("dev/null")}, ""},
		{"dev-pts-symlink", []string{"dev"}, []*tar.Header{dir("dev"), link("dev/pts", filepath.Join(canary, "pts"))}, ""},
		{"proc-symlink", []string{"proc"}, []*tar.Header{link("proc", canary)}, ""},
		{"proc-fifo", []string{"proc"}, []*tar.Header{fifo("proc")}, ""},
		{"etc-symlink", []string{"etc"}, []*tar.Header{link("etc", canary)}, "evil"},
		{"passwd-symlink", []string{"etc/passwd", "etc/group"}, []*tar.Header{link("etc/passwd", filepath.Join(canary, "passwd")), link("etc/group", up+"/group")}, "evil"},
		{"passwd-fifo", []string{"etc/passwd"}, []*tar.Header{fifo("etc/passwd")}, "nobody"},
		{"hostname-symlink", []string{"etc/hostname"}, []*tar.Header{link("etc/hostname", filepath.Join(canary, "null"))}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ref := "hostile-" + tc.name
			importVariant(t, s, ref, tc.drop, tc.extra)
			args := []string{"run", "--rm"}
			if tc.user != "" {
				args = append(args, "-u", tc.user)
			}
			r := s.runTimeout(2*time.Minute, append(args, ref, "sh", "-c", "id -u; echo x >/dev/null; echo inside")...)
			t.Logf("exit %d: %s", r.code, strings.TrimSpace(r.stdout+r.stderr))
			runPathTook(t, r)
			switch {
			case r.code == 0:
				if !strings.HasSuffix(r.stdout, "inside\n") || strings.HasPrefix(r.stdout, "4242\n") {
					t.Fatalf("run: %+v", r)
				}
			case !cleanFailure(r):
				t.Fatalf("run did not fail cleanly: %+v", r)
			}
			if after := snapshotTree(t, canary); after != before {
				t.Fatalf("the host canary changed:\n%s\nwas:\n%s", after, before)
			}
			if mi, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(mi, []byte(canary)) {
				t.Fatalf("a mount on the host names the canary:\n%s", mi)
			}
			if got := s.ok("ps", "-aq"); got != "" {
				t.Fatalf("run --rm left %q", got)
			}
		})
	}
}

// TestSecurityIsolation: the container sees only its own processes and mounts. On both start
// paths.
func TestSecurityIsolation(t *testing.T) { forEachRunPath(t, testSecurityIsolation) }

func testSecurityIsolation(t *testing.T) {
	s := runPathStore(t)
	if out := s.ok("run", "--rm", "busybox", "ps", "-o", "pid,comm"); !regexp.MustCompile(`^PID\s+COMMAND\n\s*1 ps\n$`).MatchString(out) {
		t.Fatalf("ps: %q", out)
	}
	if out := s.ok("run", "--rm", "busybox", "ls", "/proc"); regexp.MustCompile(`(?m)^[0-9]+$`).FindAllString(out, -1)[0] != "1" || len(regexp.MustCompile(`(?m)^[0-9]+$`).FindAllString(out, -1)) != 1 {
		t.Fatalf("/proc: %q", out)
	}
	mi := s.ok("run", "--rm", "busybox", "cat", "/proc/self/mountinfo")
	// Every mount point is the container's own: the root, its pseudo filesystems, the files
	// hako binds (hostname, hosts, resolv.conf) and the masked paths. None of the host's mount
	// points (its root's other mounts, the store) is there.
	allowed := regexp.MustCompile(`^/(|proc(/.*)?|dev(/(pts|shm|mqueue))?|sys(/fs/cgroup(/.*)?|/firmware|/devices/virtual/powercap)?|etc/(hostname|hosts|resolv\.conf))$`)
	for _, l := range strings.Split(strings.TrimSpace(mi), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 || !allowed.MatchString(f[4]) {
			t.Errorf("unexpected mount point: %s", l)
		}
	}
	hostMounts, _ := os.ReadFile("/proc/self/mountinfo")
	var hostPoints []string
	for _, l := range strings.Split(strings.TrimSpace(string(hostMounts)), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] != "/" && !strings.HasPrefix(f[4], "/proc") && !strings.HasPrefix(f[4], "/sys") && !strings.HasPrefix(f[4], "/dev") {
			hostPoints = append(hostPoints, f[4])
		}
	}
	sort.Strings(hostPoints)
	for _, l := range strings.Split(mi, "\n") {
		if f := strings.Fields(l); len(f) > 4 && sort.SearchStrings(hostPoints, f[4]) < len(hostPoints) && hostPoints[sort.SearchStrings(hostPoints, f[4])] == f[4] {
			t.Errorf("a host mount point in the container: %s", l)
		}
	}
	// The store is not reachable.
	if r := s.run("run", "--rm", "busybox", "ls", s.root); r.code == 0 {
		t.Fatalf("the store root is reachable in the container: %+v", r)
	}
}

// TestLimits: capabilities, read-only root, pids, cpus, ulimits, seccomp, no-new-privileges,
// privileged and the network modes, each seen from inside the container.
func TestLimits(t *testing.T) {
	s := runStore(t)
	if r := s.run("run", "--rm", "busybox", "chown", "65534", "/tmp"); r.code != 0 {
		t.Fatalf("chown with the default capabilities: %+v", r)
	}
	if r := s.run("run", "--rm", "--cap-drop", "ALL", "busybox", "chown", "65534", "/tmp"); r.code == 0 || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Fatalf("chown with --cap-drop ALL: %+v", r)
	}
	if r := s.run("run", "--rm", "--cap-drop", "ALL", "--cap-add", "CHOWN", "busybox", "chown", "65534", "/tmp"); r.code != 0 {
		t.Fatalf("chown with --cap-drop ALL --cap-add CHOWN: %+v", r)
	}
	if r := s.run("run", "--rm", "busybox", "ip", "link", "set", "lo", "mtu", "1400"); r.code == 0 {
		t.Fatalf("NET_ADMIN without --cap-add: %+v", r)
	}
	s.ok("run", "--rm", "--cap-add", "NET_ADMIN", "busybox", "ip", "link", "set", "lo", "mtu", "1400")
	if r := s.run("run", "--rm", "--read-only", "busybox", "touch", "/x"); r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
		t.Fatalf("--read-only: %+v", r)
	}
	s.ok("run", "--rm", "--read-only", "--tmpfs", "/tmp", "busybox", "touch", "/tmp/x")

	// A fork bomb stays within --pids-limit (the kernel refuses forks: pids.events counts them)
	// while PID 1 lives on, and rm -f ends it.
	id := strings.TrimSpace(s.ok("run", "-d", "--pids-limit", "10", "busybox", "sh", "-c",
		"sleep 60 & (f() { f | f & }; while true; do f; done) 2>/dev/null & wait"))
	time.Sleep(time.Second)
	cur, max := cgroupValue(t, id, "pids", "pids.current"), cgroupValue(t, id, "pids", "pids.max")
	var n, refused int
	fmt.Sscan(cur, &n)
	fmt.Sscanf(cgroupValue(t, id, "pids", "pids.events"), "max %d", &refused)
	if max != "10" || n < 1 || n > 10 || refused == 0 {
		t.Fatalf("pids.max %s, pids.current %s, forks refused %d", max, cur, refused)
	}
	if got := s.ok("ps", "-q", "--no-trunc"); !strings.Contains(got, id) {
		t.Fatalf("the container died of its fork bomb: %q", got)
	}
	start := time.Now()
	s.ok("rm", "-f", id)
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("rm -f of a fork bomb took %v", d)
	}

	if out := s.ok("run", "--rm", "--cpus", "0.5", "busybox", "sh", "-c", "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max"); strings.Join(strings.Fields(out), " ") != "50000 100000" {
		t.Fatalf("--cpus 0.5: %q", out)
	}
	if out := s.ok("run", "--rm", "--ulimit", "nofile=100:100", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn"); out != "100\n100\n" {
		t.Fatalf("--ulimit: %q", out)
	}
	status := func(args ...string) string {
		return s.ok(append(append([]string{"run", "--rm"}, args...), "busybox", "grep", "-E", "^(Seccomp|NoNewPrivs|CapEff):", "/proc/self/status")...)
	}
	field := func(out, key string) string {
		m := regexp.MustCompile(`(?m)^` + key + `:\s*(\S+)$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%s not in %q", key, out)
		}
		return m[1]
	}
	def := status()
	if field(def, "Seccomp") != "2" || field(def, "NoNewPrivs") != "0" || field(def, "CapEff") != "00000000a80425fb" {
		t.Fatalf("defaults: %q", def)
	}
	if got := status("--security-opt", "seccomp=unconfined"); field(got, "Seccomp") != "0" {
		t.Fatalf("seccomp=unconfined: %q", got)
	}
	if got := status("--security-opt", "no-new-privileges"); field(got, "NoNewPrivs") != "1" {
		t.Fatalf("no-new-privileges: %q", got)
	}
	// --privileged: every capability hako itself may hold, no seccomp filter.
	hostStatus, _ := os.ReadFile("/proc/self/status")
	priv := status("--privileged")
	if field(priv, "Seccomp") != "0" || field(priv, "CapEff") != field(string(hostStatus), "CapBnd") {
		t.Fatalf("--privileged: %q", priv)
	}
	s.ok("run", "--rm", "--privileged", "busybox", "sh", "-c", "mkdir /mnt; mount -t tmpfs none /mnt")
	if r := s.run("run", "--rm", "busybox", "sh", "-c", "mkdir /mnt; mount -t tmpfs none /mnt"); r.code == 0 {
		t.Fatalf("mount without --privileged: %+v", r)
	}

	if out := s.ok("run", "--rm", "busybox", "ls", "/sys/class/net"); out != "lo\n" {
		t.Fatalf("--network none: %q", out)
	}
	ents, _ := os.ReadDir("/sys/class/net")
	var host []string
	for _, e := range ents {
		host = append(host, e.Name())
	}
	if out := s.ok("run", "--rm", "--network", "host", "busybox", "ls", "/sys/class/net"); strings.Join(strings.Fields(out), " ") != strings.Join(host, " ") {
		t.Fatalf("--network host: %q, host has %v", out, host)
	}
}

// cgroupValue reads a file of the container's cgroup on the host (v1, else v2).
func cgroupValue(t *testing.T, id, controller, file string) string {
	t.Helper()
	for _, p := range []string{filepath.Join("/sys/fs/cgroup", controller, "hako", id, file), filepath.Join("/sys/fs/cgroup/hako", id, file)} {
		if b, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("no cgroup file %s for %s", file, id)
	return ""
}
