package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/sys/capability"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/spec"
)

// TestMain lets the test binary be the container init, as the hako binary is: libcontainer
// re-executes /proc/self/exe with "init".
func TestMain(m *testing.M) {
	if Init() {
		return // not reached
	}
	code := m.Run()
	if baseRootfs != "" {
		os.RemoveAll(filepath.Dir(baseRootfs))
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/hako-test")
		for _, d := range dirs {
			os.Remove(d) // the parent cgroup the tests' containers shared; empty now
		}
	}
	os.Exit(code)
}

var (
	baseOnce   sync.Once
	baseRootfs string
	baseErr    error
	testRT     *Runtime
)

// setup skips without root or busybox, and returns the shared runtime.
func setup(t *testing.T) *Runtime {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("starting containers needs root")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox (apt-get install busybox-static)")
	}
	baseOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hako-runtime-test")
		if err != nil {
			baseErr = err
			return
		}
		baseRootfs = filepath.Join(dir, "rootfs")
		baseErr = makeBusybox(baseRootfs)
		if baseErr == nil {
			if testRT, baseErr = New(filepath.Join(dir, "state")); baseErr == nil {
				testRT.ExecProfiles, testRT.FastStart = true, true // as a monitor's
			}
		}
	})
	if baseErr != nil {
		t.Fatalf("test rootfs: %v", baseErr)
	}
	return testRT
}

// makeBusybox makes the 2 MB busybox rootfs that peers.sh makes.
func makeBusybox(root string) error {
	for _, d := range []string{"bin", "etc", "tmp", "root", "proc", "sys", "dev", "home"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		return err
	}
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755); err != nil {
		return err
	}
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		return err
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(
		"root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000:bob:/home/bob:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, "etc/group"), []byte(
		"root:x:0:\nbob:x:1000:\nstaff:x:50:bob\nnogroup:x:65534:\n"), 0o644)
}

var seq int

type ctr struct {
	t      *testing.T
	rt     *Runtime
	id     string
	bundle string
	rootfs string
}

// newCtr makes a bundle with a fresh copy of the busybox rootfs; prep may change the rootfs
// before the spec is generated.
func newCtr(t *testing.T, prep func(rootfs string)) *ctr {
	t.Helper()
	rt := setup(t)
	seq++
	c := &ctr{t: t, rt: rt, id: fmt.Sprintf("hako-test-%d-%d", os.Getpid(), seq), bundle: t.TempDir()}
	c.rootfs = filepath.Join(c.bundle, spec.RootfsPath)
	if out, err := exec.Command("cp", "-a", baseRootfs, c.rootfs).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v: %s", err, out)
	}
	if prep != nil {
		prep(c.rootfs)
	}
	t.Cleanup(func() {
		if err := rt.Delete(c.id, true); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("delete: %v", err)
		}
	})
	return c
}

func (c *ctr) writeSpec(opts spec.Options, args ...string) *specs.Spec {
	c.t.Helper()
	opts.ID = c.id
	opts.Rootfs = c.rootfs
	opts.CgroupParent = "/hako-test"
	if !seccompSupported && opts.Seccomp == "" {
		// Without the seccomp tag the runtime refuses any profile (TestSeccompNeedsTag);
		// run the rest of the suite unconfined rather than not at all.
		opts.Seccomp = spec.SeccompUnconfined
	}
	if opts.Cmd == nil {
		opts.Cmd = args
	}
	s, err := spec.Generate(ocispec.ImageConfig{}, opts)
	if err != nil {
		c.t.Fatalf("generate: %v", err)
	}
	c.saveSpec(s)
	return s
}

func (c *ctr) saveSpec(s *specs.Spec) {
	c.t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.bundle, "config.json"), data, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

type result struct {
	stdout, stderr string
	exit           int
}

func (c *ctr) start(stdout, stderr *bytes.Buffer) (*Process, error) {
	var stdio IO // a nil *bytes.Buffer is not a nil io.Writer
	if stdout != nil {
		stdio.Stdout = stdout
	}
	if stderr != nil {
		stdio.Stderr = stderr
	}
	return c.rt.Start(context.Background(), c.id, c.bundle, stdio)
}

// run starts the container, waits for it and returns its output and exit code.
func (c *ctr) run(opts spec.Options, args ...string) (result, error) {
	c.t.Helper()
	c.writeSpec(opts, args...)
	var stdout, stderr bytes.Buffer
	p, err := c.start(&stdout, &stderr)
	if err != nil {
		return result{}, err
	}
	code, err := waitTimeout(c.t, p, 60*time.Second)
	return result{stdout.String(), stderr.String(), code}, err
}

func (c *ctr) mustRun(opts spec.Options, args ...string) result {
	c.t.Helper()
	r, err := c.run(opts, args...)
	if err != nil {
		c.t.Fatalf("run %q: %v", args, err)
	}
	return r
}

func waitTimeout(t *testing.T, p *Process, d time.Duration) (int, error) {
	t.Helper()
	ch := make(chan struct{})
	var code int
	var err error
	go func() { code, err = p.Wait(); close(ch) }()
	select {
	case <-ch:
		return code, err
	case <-time.After(d):
		_ = p.Signal(unix.SIGKILL)
		t.Fatalf("process %d still running after %v", p.Pid, d)
		return 0, nil
	}
}

func TestEchoHi(t *testing.T) {
	c := newCtr(t, nil)
	r := c.mustRun(spec.Options{}, "echo", "hi")
	if r.stdout != "hi\n" || r.exit != 0 {
		t.Errorf("got %q exit %d (stderr %q)", r.stdout, r.exit, r.stderr)
	}
}

func TestExitCode(t *testing.T) {
	c := newCtr(t, nil)
	if r := c.mustRun(spec.Options{}, "sh", "-c", "echo oops >&2; exit 3"); r.exit != 3 || r.stderr != "oops\n" {
		t.Errorf("exit %d stderr %q", r.exit, r.stderr)
	}
}

func TestStdin(t *testing.T) {
	c := newCtr(t, nil)
	c.writeSpec(spec.Options{}, "sh", "-c", "tr a-z A-Z")
	var out bytes.Buffer
	p, err := c.rt.Start(context.Background(), c.id, c.bundle, IO{Stdin: strings.NewReader("hello\n"), Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := waitTimeout(t, p, 30*time.Second); code != 0 || out.String() != "HELLO\n" {
		t.Errorf("exit %d out %q", code, out.String())
	}
}

func TestCommandErrors(t *testing.T) {
	tests := []struct {
		args []string
		want error
		code int
	}{
		{[]string{"nope-not-here"}, errdefs.ErrCommandNotFound, 127},
		{[]string{"/bin/nope"}, errdefs.ErrCommandNotFound, 127},
		{[]string{"/etc/passwd"}, errdefs.ErrCannotExecute, 126},
		{[]string{"/tmp"}, errdefs.ErrCannotExecute, 126},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			c := newCtr(t, nil)
			_, err := c.run(spec.Options{}, tt.args...)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if _, err := c.rt.State(c.id); !errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("failed start left the container behind: %v", err)
			}
		})
	}
}

func TestHostnameEnvWorkdir(t *testing.T) {
	c := newCtr(t, nil)
	r := c.mustRun(spec.Options{Hostname: "box1", Env: []string{"FOO=bar baz"}, WorkingDir: "/new/work/dir"},
		"sh", "-c", "hostname; pwd; env | sort")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) < 2 || lines[0] != "box1" || lines[1] != "/new/work/dir" {
		t.Fatalf("out %q", r.stdout)
	}
	env := lines[2:]
	for _, want := range []string{"FOO=bar baz", "HOSTNAME=box1", "HOME=/root", "PATH=" + spec.DefaultPathEnv} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %q: %q", want, env)
		}
	}
}

func TestUser(t *testing.T) {
	tests := []struct{ user, want string }{
		{"bob", "uid=1000(bob) gid=1000(bob) groups=50(staff),1000(bob)"},
		{"1234:5678", "uid=1234 gid=5678 groups=5678"},
		{"bob:staff", "uid=1000(bob) gid=50(staff) groups=50(staff)"},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			c := newCtr(t, nil)
			r := c.mustRun(spec.Options{User: tt.user}, "id")
			if got := strings.TrimSpace(r.stdout); got != tt.want {
				t.Errorf("id = %q, want %q (stderr %q)", got, tt.want, r.stderr)
			}
		})
	}
}

// statusField returns a field of /proc/self/status as the container's command sees it.
func statusField(t *testing.T, opts spec.Options, field string) string {
	t.Helper()
	c := newCtr(t, nil)
	r := c.mustRun(opts, "grep", "^"+field+":", "/proc/self/status")
	_, v, _ := strings.Cut(strings.TrimSpace(r.stdout), ":")
	return strings.TrimSpace(v)
}

func capMask(names []string) string {
	var mask uint64
	for _, c := range capability.ListKnown() {
		if slices.Contains(names, "CAP_"+strings.ToUpper(c.String())) {
			mask |= 1 << uint(c)
		}
	}
	return fmt.Sprintf("%016x", mask)
}

func TestCapabilities(t *testing.T) {
	want := capMask(spec.DefaultCapabilities())
	if got := statusField(t, spec.Options{}, "CapEff"); got != want {
		t.Errorf("CapEff = %s, want Docker's default %s", got, want)
	}
	if got := statusField(t, spec.Options{}, "CapBnd"); got != want {
		t.Errorf("CapBnd = %s, want %s", got, want)
	}
	dropped := slices.DeleteFunc(spec.DefaultCapabilities(), func(c string) bool { return c == "CAP_NET_RAW" })
	if got := statusField(t, spec.Options{CapDrop: []string{"NET_RAW"}, CapAdd: []string{"SYS_PTRACE"}}, "CapEff"); got != capMask(append(dropped, "CAP_SYS_PTRACE")) {
		t.Errorf("CapEff with --cap-drop NET_RAW --cap-add SYS_PTRACE = %s", got)
	}
	if got := statusField(t, spec.Options{User: "bob"}, "CapEff"); got != "0000000000000000" {
		t.Errorf("non-root CapEff = %s, want none", got)
	}
}

func TestSeccomp(t *testing.T) {
	if !seccompSupported {
		t.Skip("SECCOMP NOT TESTED: build with -tags seccomp (needs libseccomp-dev) to run it")
	}
	if got := statusField(t, spec.Options{}, "Seccomp"); got != "2" {
		t.Errorf("default: Seccomp = %s, want 2 (filter)", got)
	}
	if got := statusField(t, spec.Options{Seccomp: spec.SeccompUnconfined}, "Seccomp"); got != "0" {
		t.Errorf("unconfined: Seccomp = %s, want 0", got)
	}
	// The default profile refuses what Docker's refuses: unshare without CAP_SYS_ADMIN.
	c := newCtr(t, nil)
	r := c.mustRun(spec.Options{}, "unshare", "-U", "true")
	if r.exit == 0 {
		t.Errorf("unshare -U allowed under the default profile")
	}
}

// A build without the seccomp tag must refuse a spec with a profile, not run it unconfined.
func TestSeccompNeedsTag(t *testing.T) {
	if seccompSupported {
		t.Skip("built with the seccomp tag")
	}
	c := newCtr(t, nil)
	s := c.writeSpec(spec.Options{Seccomp: spec.SeccompUnconfined}, "true")
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	c.saveSpec(s)
	if _, err := c.start(nil, nil); err == nil || !strings.Contains(err.Error(), "seccomp") {
		t.Errorf("spec with seccomp started in a build without the tag: %v", err)
	}
}

func TestNoNewPrivileges(t *testing.T) {
	if got := statusField(t, spec.Options{NoNewPrivileges: true}, "NoNewPrivs"); got != "1" {
		t.Errorf("NoNewPrivs = %s, want 1", got)
	}
	if got := statusField(t, spec.Options{}, "NoNewPrivs"); got != "0" {
		t.Errorf("default NoNewPrivs = %s, want 0", got)
	}
}

func TestReadOnlyRootfs(t *testing.T) {
	c := newCtr(t, nil)
	r := c.mustRun(spec.Options{ReadOnly: true}, "sh", "-c", "touch /x; echo $?; touch /dev/shm/ok && echo shm-ok")
	if !strings.Contains(r.stderr, "Read-only file system") || !strings.HasPrefix(r.stdout, "1\n") || !strings.Contains(r.stdout, "shm-ok") {
		t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(c.rootfs, "x")); err == nil {
		t.Errorf("/x was written")
	}
}

func TestMaskedAndReadonlyPaths(t *testing.T) {
	// Which of Docker's masked files exist depends on the kernel's configuration.
	var files []string
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/latency_stats"} {
		if _, err := os.Stat(p); err == nil {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		t.Fatal("none of the masked /proc files exists on this host")
	}
	script := ""
	for _, f := range files {
		script += "cat " + f + " | wc -c; "
	}
	script += "ls /sys/firmware | wc -l; echo x > /proc/sys/kernel/domainname && echo wrote-sysctl"
	c := newCtr(t, nil)
	r := c.mustRun(spec.Options{}, "sh", "-c", script)
	want := slices.Repeat([]string{"0"}, len(files)+1)
	if got := strings.Fields(r.stdout); !slices.Equal(got, want) {
		t.Errorf("masked %v and /sys/firmware: %q, want all empty (stderr %q)", files, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("/proc/sys writable: stderr %q", r.stderr)
	}
}

func TestPIDNamespace(t *testing.T) {
	c := newCtr(t, nil)
	r := c.mustRun(spec.Options{}, "sh", "-c", "ps -o pid,args; true")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("ps sees %d processes, want 2 (sh and ps):\n%s", len(lines)-1, r.stdout)
	}
	if f := strings.Fields(lines[1]); f[0] != "1" || f[1] != "sh" {
		t.Errorf("PID 1 is %q, want the container's command", lines[1])
	}
}

func TestResourcesApplied(t *testing.T) {
	c := newCtr(t, nil)
	r := c.mustRun(spec.Options{Memory: 48 << 20, NanoCPUs: 500_000_000, PidsLimit: 33},
		"sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/pids/pids.max")
	if got := strings.Fields(r.stdout); !slices.Equal(got, []string{strconv.Itoa(48 << 20), "50000", "100000", "33"}) {
		t.Errorf("cgroup limits %q (stderr %q)", got, r.stderr)
	}
}

func TestOOMKill(t *testing.T) {
	c := newCtr(t, nil)
	r := c.mustRun(spec.Options{Memory: 32 << 20}, "dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1")
	if r.exit != 137 {
		t.Errorf("exit %d, want 137 (stderr %q)", r.exit, r.stderr)
	}
	st, err := c.rt.State(c.id)
	if err != nil {
		t.Fatal(err)
	}
	if !st.OOMKilled || st.Status != StatusStopped {
		t.Errorf("state %+v, want stopped and OOMKilled", st)
	}
	c2 := newCtr(t, nil)
	c2.mustRun(spec.Options{Memory: 32 << 20}, "true")
	if oom, _ := c2.rt.OOMKilled(c2.id); oom {
		t.Errorf("OOMKilled without an OOM")
	}
}

func TestPidsLimit(t *testing.T) {
	c := newCtr(t, nil)
	r := c.mustRun(spec.Options{PidsLimit: 5}, "sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait")
	if !strings.Contains(r.stderr, "can't fork") && !strings.Contains(r.stderr, "Resource temporarily unavailable") {
		t.Errorf("8 background processes under pids.max 5: stderr %q", r.stderr)
	}
}

func TestUlimits(t *testing.T) {
	c := newCtr(t, nil)
	r := c.mustRun(spec.Options{Ulimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}}},
		"sh", "-c", "ulimit -n; ulimit -Hn")
	if got := strings.Fields(r.stdout); !slices.Equal(got, []string{"100", "200"}) {
		t.Errorf("ulimit -n: %q", r.stdout)
	}
	var host unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &host)
	if host.Max == unix.RLIM_INFINITY || haveCap(unix.CAP_SYS_RESOURCE) {
		return
	}
	c2 := newCtr(t, nil)
	_, err := c2.run(spec.Options{Ulimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: host.Max + 1, Hard: host.Max + 1}}}, "true")
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "ulimit nofile") {
		t.Errorf("hard nofile above the host's: err = %v", err)
	}
}

func TestTty(t *testing.T) {
	c := newCtr(t, nil)
	c.writeSpec(spec.Options{Tty: true}, "sh", "-c", "tty; echo $TERM")
	var out bytes.Buffer
	p, err := c.rt.Start(context.Background(), c.id, c.bundle, IO{Stdout: &out, Tty: true})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := waitTimeout(t, p, 30*time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
	if got := strings.ReplaceAll(out.String(), "\r\n", "\n"); got != "/dev/pts/0\nxterm\n" {
		t.Errorf("output %q", out.String())
	}
}

func TestPauseResumeSignal(t *testing.T) {
	c := newCtr(t, nil)
	// The marker says the trap is set: a TERM before that would meet a shell without it.
	c.writeSpec(spec.Options{}, "sh", "-c", `trap "exit 42" TERM; touch /trapped; while true; do sleep 0.05; done`)
	p, err := c.start(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(c.rootfs, "trapped")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the shell never set its trap")
		}
	}
	st, err := c.rt.State(c.id)
	if err != nil || st.Status != StatusRunning || st.Pid != p.Pid || st.Bundle != c.bundle {
		t.Fatalf("state %+v %v", st, err)
	}
	if err := c.rt.Pause(c.id); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.rt.State(c.id); st.Status != StatusPaused {
		t.Errorf("after pause: %s", st.Status)
	}
	freezer, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/freezer/hako-test", c.id, "freezer.state"))
	if strings.TrimSpace(string(freezer)) != "FROZEN" {
		t.Errorf("freezer.state %q", freezer)
	}
	if err := c.rt.Delete(c.id, false); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("delete of a paused container: %v", err)
	}
	if err := c.rt.Pause(c.id); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("second pause: %v", err)
	}
	if err := c.rt.Resume(c.id); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.rt.State(c.id); st.Status != StatusRunning {
		t.Errorf("after resume: %s", st.Status)
	}
	if err := c.rt.Signal(c.id, unix.SIGTERM, false); err != nil {
		t.Fatal(err)
	}
	if code, _ := waitTimeout(t, p, 10*time.Second); code != 42 {
		t.Errorf("exit %d after SIGTERM, want 42 from the trap", code)
	}
	if st, _ := c.rt.State(c.id); st.Status != StatusStopped || st.Pid != 0 {
		t.Errorf("after exit: %+v", st)
	}
	if err := c.rt.Signal(c.id, unix.SIGTERM, false); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("signal to a stopped container: %v", err)
	}
	if err := c.rt.Delete(c.id, false); err != nil {
		t.Errorf("delete stopped: %v", err)
	}
	if _, err := c.rt.State(c.id); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("state after delete: %v", err)
	}
}

func TestSignalKillAll(t *testing.T) {
	c := newCtr(t, nil)
	c.writeSpec(spec.Options{}, "sh", "-c", "sleep 100 & sleep 100")
	p, err := c.start(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.rt.Signal(c.id, unix.SIGKILL, true); err != nil {
		t.Fatal(err)
	}
	if code, _ := waitTimeout(t, p, 10*time.Second); code != 137 {
		t.Errorf("exit %d, want 137", code)
	}
}

func TestExec(t *testing.T) {
	c := newCtr(t, nil)
	s := c.writeSpec(spec.Options{Hostname: "execbox"}, "sleep", "100")
	p, err := c.start(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ep := *s.Process
	ep.Args = []string{"sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; exit 5"}
	var out bytes.Buffer
	e, err := c.rt.Exec(context.Background(), c.id, ep, IO{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := waitTimeout(t, e, 30*time.Second); code != 5 {
		t.Errorf("exec exit %d, want 5", code)
	}
	if got := out.String(); got != "execbox\nsleep 100 \n" {
		t.Errorf("exec output %q", got)
	}
	// The exec'd process may not shed the container's no_new_privileges.
	c2 := newCtr(t, nil)
	c2.writeSpec(spec.Options{NoNewPrivileges: true}, "sleep", "100")
	if _, err := c2.start(nil, nil); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	nnp := specs.Process{Args: []string{"grep", "NoNewPrivs", "/proc/self/status"}, Env: ep.Env}
	e, err = c2.rt.Exec(context.Background(), c2.id, nnp, IO{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	waitTimeout(t, e, 30*time.Second)
	if got := strings.Fields(out.String()); !slices.Equal(got, []string{"NoNewPrivs:", "1"}) {
		t.Errorf("exec in a no-new-privileges container: %q", out.String())
	}

	ep.Args = []string{"no-such-cmd"}
	if _, err := c.rt.Exec(context.Background(), c.id, ep, IO{}); !errors.Is(err, errdefs.ErrCommandNotFound) {
		t.Errorf("exec of a missing command: %v", err)
	}
	if err := c.rt.Delete(c.id, false); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("delete running without force: %v", err)
	}
	if err := c.rt.Delete(c.id, true); err != nil {
		t.Fatal(err)
	}
	if code, _ := waitTimeout(t, p, 10*time.Second); code != 137 {
		t.Errorf("exit after forced delete %d", code)
	}
	if _, err := c.rt.Exec(context.Background(), c.id, ep, IO{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("exec in a deleted container: %v", err)
	}
}

// CVE-2024-21626: a process.cwd of /proc/self/fd/N must not leave the container through an fd
// that runc leaked from the host. The start must fail, or the process must be inside.
func TestCwdProcSelfFdStaysInside(t *testing.T) {
	for fd := 3; fd <= 12; fd++ {
		c := newCtr(t, nil)
		s := c.writeSpec(spec.Options{}, "sh", "-c", "pwd; ls")
		s.Process.Cwd = fmt.Sprintf("/proc/self/fd/%d", fd)
		c.saveSpec(s)
		var out, errb bytes.Buffer
		p, err := c.start(&out, &errb)
		if err != nil {
			t.Logf("fd %d refused: %v", fd, err)
			continue // what we want
		}
		waitTimeout(t, p, 30*time.Second)
		if strings.Contains(out.String(), "unreachable") || !strings.HasPrefix(out.String(), "/") {
			t.Errorf("cwd /proc/self/fd/%d escaped the container: %q", fd, out.String())
		}
	}
}

// An image whose /proc, /dev or /dev/null is a symlink to a host path must not make the
// runtime mount on or write to the host path: the links resolve inside the rootfs.
func TestSymlinkedMountTargetsStayInside(t *testing.T) {
	host := t.TempDir()
	hostFile := filepath.Join(host, "victim")
	hostDir := filepath.Join(host, "victim-dir")
	os.WriteFile(hostFile, []byte("untouched"), 0o644)
	os.Mkdir(hostDir, 0o755)

	t.Run("dev/null", func(t *testing.T) {
		c := newCtr(t, func(rootfs string) {
			os.Symlink(hostFile, filepath.Join(rootfs, "dev/null"))
		})
		r := c.mustRun(spec.Options{}, "sh", "-c", "echo overwritten > /dev/null; cat /proc/kcore | wc -c")
		if r.exit != 0 {
			t.Logf("exit %d stderr %q", r.exit, r.stderr)
		}
	})
	t.Run("dev", func(t *testing.T) {
		c := newCtr(t, func(rootfs string) {
			os.RemoveAll(filepath.Join(rootfs, "dev"))
			os.Symlink(hostDir, filepath.Join(rootfs, "dev"))
		})
		_, err := c.run(spec.Options{}, "sh", "-c", "echo x > /dev/null; ls /dev")
		checkInside(t, c, err, hostDir)
	})
	t.Run("proc", func(t *testing.T) {
		c := newCtr(t, func(rootfs string) {
			os.RemoveAll(filepath.Join(rootfs, "proc"))
			os.Symlink(hostDir, filepath.Join(rootfs, "proc"))
		})
		_, err := c.run(spec.Options{}, "sh", "-c", "echo 1 > /proc/sys/kernel/domainname; ls /proc/1")
		checkInside(t, c, err, hostDir)
	})
	if data, _ := os.ReadFile(hostFile); string(data) != "untouched" {
		t.Errorf("host file written: %q", data)
	}
	if fi, err := os.Lstat(hostFile); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("host file replaced: %v %v", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(hostDir); len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("runtime wrote into the host directory: %v", names)
	}
	if mounted(t, hostDir) {
		t.Errorf("host directory is a mount point")
	}
}

// checkInside accepts a refused start, or a link that was resolved inside the rootfs (the
// runtime then created the target there).
func checkInside(t *testing.T, c *ctr, startErr error, hostPath string) {
	t.Helper()
	if startErr != nil {
		t.Logf("refused: %v", startErr)
		return
	}
	if _, err := os.Stat(filepath.Join(c.rootfs, hostPath)); err != nil {
		t.Errorf("started, but the link target was not made inside the rootfs: %v", err)
	}
}

func mounted(t *testing.T, dir string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// TestStartLatency reports what a Start of `true` costs, from Start to Wait's return, with
// Delete after; it is a measurement, not an assertion.
func TestStartLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	c := newCtr(t, nil)
	c.writeSpec(spec.Options{}, "true")
	var runs []time.Duration
	for i := 0; i < 20; i++ {
		t0 := time.Now()
		p, err := c.start(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if code, _ := p.Wait(); code != 0 {
			t.Fatalf("exit %d", code)
		}
		runs = append(runs, time.Since(t0))
		if err := c.rt.Delete(c.id, false); err != nil {
			t.Fatal(err)
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i] < runs[j] })
	t.Logf("start+wait of `true`: median %v, min %v, max %v over %d runs", runs[len(runs)/2], runs[0], runs[len(runs)-1], len(runs))
}

// --init: tini (Debian's docker-init) runs as PID 1 and the command below it.
func TestInit(t *testing.T) {
	var bin string
	for _, p := range []string{"/usr/bin/docker-init", "/usr/bin/tini-static"} {
		if _, err := os.Stat(p); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("no docker-init or tini-static on this host")
	}
	c := newCtr(t, nil)
	r := c.mustRun(spec.Options{Init: true, InitBinary: bin}, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; exit 7")
	if r.exit != 7 || !strings.HasPrefix(r.stdout, spec.InitPath+" -- sh -c") {
		t.Errorf("exit %d, PID 1 %q (stderr %q)", r.exit, r.stdout, r.stderr)
	}
}

// A user namespace: root in the container is an unprivileged uid on the host.
func TestUserNamespace(t *testing.T) {
	const base = 200000
	c := newCtr(t, func(rootfs string) {
		if out, err := exec.Command("chown", "-R", "-h", fmt.Sprintf("%d:%d", base, base), rootfs).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v: %s", err, out)
		}
	})
	// The mapped root must be able to reach its rootfs, as under Docker's userns-remap.
	os.Chown(c.bundle, base, base)
	os.Chmod(filepath.Dir(c.bundle), 0o755)
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: base, Size: 65536}}
	c.writeSpec(spec.Options{UserNS: true, UIDMappings: m, GIDMappings: m}, "sh", "-c", "id -u; cat /proc/self/uid_map; touch /ok && echo wrote")
	var out, errb bytes.Buffer
	p, err := c.start(&out, &errb)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := waitTimeout(t, p, 30*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := strings.Fields(out.String()); !slices.Equal(got, []string{"0", "0", strconv.Itoa(base), "65536", "wrote"}) {
		t.Errorf("output %q", out.String())
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(c.rootfs, "ok"), &st); err != nil || st.Uid != base {
		t.Errorf("file made by container root: uid %d, want host uid %d (%v)", st.Uid, base, err)
	}
}

// WarmPidfd leaves no descriptor behind (the pidfd of this very process that its FindProcess
// opens is released), and the process can still start and wait for children.
func TestWarmPidfd(t *testing.T) {
	pidfds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range ents {
			if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.Contains(l, "pidfd") {
				n++
			}
		}
		return n
	}
	before := pidfds()
	WarmPidfd()
	WarmPidfd()
	if after := pidfds(); after != before {
		t.Errorf("pidfds open: %d before, %d after", before, after)
	}
	p, err := os.StartProcess("/bin/sh", []string{"sh", "-c", "exit 3"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait()
	if err != nil || st.ExitCode() != 3 {
		t.Fatalf("wait: %v, %v", st, err)
	}
}
