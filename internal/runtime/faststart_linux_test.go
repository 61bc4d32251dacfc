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
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/spec"
)

// withRunPath sets HAKO_RUN_PATH's variable for the test.
func withRunPath(t *testing.T, v string) {
	old := runPath
	runPath = v
	t.Cleanup(func() { runPath = old })
}

// warmSeccomp starts one container with opts on libcontainer's path, which fills the
// seccomp cache for its configuration.
func warmSeccomp(t *testing.T, opts spec.Options) {
	t.Helper()
	old := runPath
	runPath = "go"
	defer func() { runPath = old }()
	c := newCtr(t, nil)
	if r := c.mustRun(opts, "true"); r.exit != 0 {
		t.Fatalf("warm-up: %+v", r)
	}
}

// ctrCgroupDirs are the container's cgroup directories on the host, of any version.
func ctrCgroupDirs(id string) []string {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/hako-test/" + id)
	more, _ := filepath.Glob("/sys/fs/cgroup/hako-test/" + id)
	return append(dirs, more...)
}

// The same probe on both paths gives the same output: the C path makes the container that
// libcontainer makes (the integration tests compare many more kinds of container).
func TestFastStartSameContainer(t *testing.T) {
	probe := `cat /proc/self/status | grep -E '^(Uid|Gid|Groups|Cap|NoNewPrivs|Seccomp|SigBlk|SigIgn)'; ` +
		`cat /proc/self/limits; hostname; pwd; umask; cat /proc/self/oom_score_adj; ` +
		`ls -la /dev /dev/pts /sys/fs/cgroup | sed 's/ [A-Z][a-z][a-z] [ 0-9]* [0-9:]* / DATE /'; ` +
		`sed -E 's/^[0-9]+ [0-9]+ [0-9]+:[0-9]+ //; s/(shared|master):[0-9]+//g; s/hako-test-[0-9]+-[0-9]+/ID/g; s@/tmp/[^ ]*@TMP@g' /proc/self/mountinfo; ` +
		`cat /sys/class/net/lo/flags; echo x > /proc/sysrq-trigger; cat /proc/kcore | head -c 10; ls /proc/acpi; touch /x; env | sort`
	for _, opts := range []spec.Options{
		{},
		{User: "bob", WorkingDir: "/home/bob/new", Env: []string{"A=b"}, Hostname: "box"},
		{ReadOnly: true, NoNewPrivileges: true},
		{Seccomp: spec.SeccompUnconfined, CapAdd: []string{"NET_ADMIN"}},
	} {
		warmSeccomp(t, opts)
		var out [2]result
		for i, path := range []string{"go", "c"} {
			withRunPath(t, path)
			c := newCtr(t, nil)
			out[i] = c.mustRun(opts, "sh", "-c", probe)
			out[i].stdout = strings.ReplaceAll(out[i].stdout, c.id, "ID")
			out[i].stderr = strings.ReplaceAll(out[i].stderr, c.id, "ID")
		}
		for _, want := range []string{"CapBnd:", " - proc proc ", " /sys/fs/cgroup/memory ", " null\n", "PWD="} {
			if !strings.Contains(out[1].stdout, want) {
				t.Errorf("%+v: the probe's output lacks %q:\n%s%s", opts, want, out[1].stdout, out[1].stderr)
			}
		}
		if out[0] != out[1] {
			t.Errorf("%+v: the paths differ:\n--- go (exit %d)\n%s%s\n--- c (exit %d)\n%s%s", opts,
				out[0].exit, out[0].stdout, out[0].stderr, out[1].exit, out[1].stdout, out[1].stderr)
		}
	}
}

// A container the C path started is libcontainer's like any other: state, exec, signals,
// pause, delete.
func TestFastStartLifecycle(t *testing.T) {
	warmSeccomp(t, spec.Options{})
	withRunPath(t, "c")
	c := newCtr(t, nil)
	c.writeSpec(spec.Options{}, "sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.05; done")
	var stdout bytes.Buffer
	p, err := c.start(&stdout, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.rt.State(c.id)
	if err != nil || st.Status != StatusRunning || st.Pid != p.Pid || st.Bundle != c.bundle {
		t.Fatalf("state %+v, %v; want running, pid %d", st, err, p.Pid)
	}
	var out bytes.Buffer
	ep, err := c.rt.Exec(context.Background(), c.id, specs.Process{Args: []string{"sh", "-c", "echo in; cat /proc/1/cmdline"}, Cwd: "/", Env: []string{"PATH=/bin"}}, IO{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := waitTimeout(t, ep, 10*time.Second); code != 0 || err != nil || !strings.HasPrefix(out.String(), "in\nsh") {
		t.Errorf("exec: %d %v %q", code, err, out.String())
	}
	if err := c.rt.Pause(c.id); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.rt.State(c.id); st.Status != StatusPaused {
		t.Errorf("paused: %+v", st)
	}
	if err := c.rt.Resume(c.id); err != nil {
		t.Fatal(err)
	}
	if err := c.rt.Signal(c.id, unix.SIGTERM, false); err != nil {
		t.Fatal(err)
	}
	if code, err := waitTimeout(t, p, 10*time.Second); code != 7 || err != nil {
		t.Errorf("exit %d %v, want 7", code, err)
	}
	if st, _ := c.rt.State(c.id); st.Status != StatusStopped {
		t.Errorf("after exit: %+v", st)
	}
	if len(ctrCgroupDirs(c.id)) == 0 {
		t.Error("no cgroup directories while the container exists")
	}
	if err := c.rt.Delete(c.id, false); err != nil {
		t.Fatal(err)
	}
	if d := ctrCgroupDirs(c.id); len(d) != 0 {
		t.Errorf("cgroups left after delete: %q", d)
	}
	if _, err := os.Stat(filepath.Join(c.rt.root, c.id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state left after delete: %v", err)
	}
}

// The C path's errors are the Go path's, and a failed start leaves nothing behind.
func TestFastStartErrors(t *testing.T) {
	warmSeccomp(t, spec.Options{})
	for _, tc := range []struct {
		args  []string
		class error
	}{
		{[]string{"nope"}, errdefs.ErrCommandNotFound},
		{[]string{"/nope"}, errdefs.ErrCommandNotFound},
		{[]string{"/etc/passwd"}, errdefs.ErrCannotExecute},
		{[]string{"/etc"}, errdefs.ErrCannotExecute},
	} {
		var msgs [2]string
		for i, path := range []string{"go", "c"} {
			withRunPath(t, path)
			c := newCtr(t, nil)
			_, err := c.run(spec.Options{}, tc.args...)
			if !errors.Is(err, tc.class) {
				t.Errorf("%s path, %q: %v, want %v", path, tc.args, err, tc.class)
			}
			if err != nil {
				msgs[i] = strings.ReplaceAll(err.Error(), c.id, "ID")
			}
			if _, err := os.Stat(filepath.Join(c.rt.root, c.id)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s path, %q: state left: %v", path, tc.args, err)
			}
			if d := ctrCgroupDirs(c.id); len(d) != 0 {
				t.Errorf("%s path, %q: cgroups left: %q", path, tc.args, d)
			}
		}
		if msgs[0] != msgs[1] {
			t.Errorf("%q: go says\n%s\nc says\n%s", tc.args, msgs[0], msgs[1])
		}
	}
}

// What the C path does not do goes to libcontainer, or with HAKO_RUN_PATH=c is an error that
// says why.
func TestFastStartHandsOver(t *testing.T) {
	warmSeccomp(t, spec.Options{})
	withRunPath(t, "c")
	c := newCtr(t, nil)
	s := c.writeSpec(spec.Options{}, "true")
	s.Process.Terminal = true
	c.saveSpec(s)
	_, err := c.rt.Start(context.Background(), c.id, c.bundle, IO{Tty: true})
	if err == nil || !strings.Contains(err.Error(), "HAKO_RUN_PATH=c: the C start path does not take this container: a terminal") {
		t.Errorf("terminal under HAKO_RUN_PATH=c: %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.rt.root, c.id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state left: %v", err)
	}
}

// An image's /etc/passwd that is a FIFO, or a link to a kernel file, is never read by the
// init for HOME (the start would hang, or the init would drain the host's kernel log): the
// process gets HOME=/, on both paths.
func TestHostilePasswdHome(t *testing.T) {
	warmSeccomp(t, spec.Options{})
	for _, tc := range []struct {
		name string
		prep func(rootfs string)
	}{
		{"fifo", func(rootfs string) {
			p := filepath.Join(rootfs, "etc/passwd")
			os.Remove(p)
			if err := unix.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"kmsg", func(rootfs string) {
			p := filepath.Join(rootfs, "etc/passwd")
			os.Remove(p)
			if err := os.Symlink("/proc/kmsg", p); err != nil {
				t.Fatal(err)
			}
		}},
		{"sysfs", func(rootfs string) {
			p := filepath.Join(rootfs, "etc/passwd")
			os.Remove(p)
			if err := os.Symlink("../sys/kernel/uevent_seqnum", p); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		for _, path := range []string{"go", "c"} {
			withRunPath(t, path)
			c := newCtr(t, tc.prep)
			r := c.mustRun(spec.Options{}, "sh", "-c", `echo "HOME=$HOME"`)
			if r.exit != 0 || r.stdout != "HOME=/\n" {
				t.Errorf("%s, %s path: %+v, want HOME=/", tc.name, path, r)
			}
		}
	}
	// A plain passwd still gives the user's home.
	c := newCtr(t, nil)
	if r := c.mustRun(spec.Options{User: "bob"}, "sh", "-c", `echo "HOME=$HOME"`); r.stdout != "HOME=/home/bob\n" {
		t.Errorf("bob: %+v", r)
	}
}

// The command never runs before the monitor has recorded the container, nor at all if the
// monitor gives up (or dies) before that: the init waits for its word, as libcontainer's init
// waits on its exec fifo.
func TestFastStartCommandWaitsForMonitor(t *testing.T) {
	warmSeccomp(t, spec.Options{})
	withRunPath(t, "c")
	m := newMarks(t)
	old := testHookBeforeGo
	testHookBeforeGo = func(pid int) error {
		// The container is recorded, the word not given: once the init is ready and waits
		// for it (blocked reading the go pipe), the command has not run.
		waitForWord(t, pid)
		if m.ran() {
			t.Error("the command ran before the word")
		}
		return errors.New("the monitor gives up")
	}
	t.Cleanup(func() { testHookBeforeGo = old })
	c := newCtr(t, nil)
	_, err := c.run(m.opts(spec.Options{}), markCmd...)
	if err == nil || !strings.Contains(err.Error(), "the monitor gives up") {
		t.Fatalf("start: %v", err)
	}
	if m.ran() {
		t.Error("the command ran after the monitor gave up")
	}
	c.checkGone()
	// And with the word, it runs.
	testHookBeforeGo = old
	c2 := newCtr(t, nil)
	if r := c2.mustRun(m.opts(spec.Options{}), markCmd...); r.exit != 0 {
		t.Fatalf("%+v", r)
	}
	if !m.ran() {
		t.Error("the command did not run")
	}
}

// marks is a host directory that a container gets at /marks, where markCmd leaves "ran".
type marks string

var markCmd = []string{"sh", "-c", "touch /marks/ran"}

func newMarks(t *testing.T) marks { return marks(t.TempDir()) }

// opts is o with the marks' directory bound at /marks.
func (m marks) opts(o spec.Options) spec.Options {
	o.Mounts = append(o.Mounts, specs.Mount{Destination: "/marks", Type: "bind", Source: string(m), Options: []string{"rbind"}})
	return o
}

// ran tells whether markCmd ran. A start that failed has killed and reaped the init, and its
// PID namespace with it: nothing can run it later.
func (m marks) ran() bool {
	_, err := os.Stat(filepath.Join(string(m), "ran"))
	return err == nil
}

// checkGone checks that nothing of c stays after a start that failed: cgroups, runtime state.
func (c *ctr) checkGone() {
	c.t.Helper()
	if d := ctrCgroupDirs(c.id); len(d) != 0 {
		c.t.Errorf("cgroups left: %q", d)
	}
	if _, err := os.Stat(filepath.Join(c.rt.root, c.id)); !errors.Is(err, os.ErrNotExist) {
		c.t.Errorf("state left: %v", err)
	}
}

// waitForWord returns once the init pid is ready and blocked reading the go pipe (its R
// written: the PID pipe's reader is this process, which does not read it before the hook).
func waitForWord(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid))
		if err != nil {
			t.Fatalf("the init: %v", err)
		}
		if w := string(b); w == "pipe_read" || w == "pipe_wait" || w == "anon_pipe_read" {
			// Its stack says which read: the go pipe is the only one it makes before the exec.
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the init never waited for the word (wchan %q)", b)
		}
		time.Sleep(time.Millisecond)
	}
}

// A limit the kernel refuses (a CPU quota under its 1 ms minimum: EINVAL) fails the start
// before S has its plan: the command never runs, and nothing of the container stays.
func TestFastStartLimitRefused(t *testing.T) {
	warmSeccomp(t, spec.Options{}) // the same filter: the quota does not change it
	withRunPath(t, "c")
	m := newMarks(t)
	c := newCtr(t, nil)
	_, err := c.run(m.opts(spec.Options{NanoCPUs: 5_000_000}), markCmd...)
	if err == nil || !strings.Contains(err.Error(), "unable to set cgroup configuration") {
		t.Fatalf("start: %v", err)
	}
	if m.ran() {
		t.Error("the command ran")
	}
	c.checkGone()
}

// A tmpfs asked read-only is made so only after the working directory was created in it, as
// libcontainer's finalizeRootfs does (a C path that remounted it with the other mounts failed
// here with "read-only file system").
func TestFastStartReadonlyTmpfsWorkdir(t *testing.T) {
	warmSeccomp(t, spec.Options{})
	opts := spec.Options{
		Mounts:     []specs.Mount{{Destination: "/x", Type: "tmpfs", Source: "tmpfs", Options: []string{"ro", "nosuid"}}},
		WorkingDir: "/x/sub",
	}
	for _, path := range []string{"go", "c"} {
		withRunPath(t, path)
		c := newCtr(t, nil)
		r := c.mustRun(opts, "sh", "-c", "pwd; touch /x/f 2>&1 | sed 's/.*: //'; grep ' /x ' /proc/self/mountinfo | grep -o ' ro,'")
		if r.exit != 0 || r.stdout != "/x/sub\nRead-only file system\n ro,\n" {
			t.Errorf("%s path: %+v", path, r)
		}
	}
}

// A start killed between libcontainer's Create and the state's first save (a monitor killed
// there) leaves a state directory without a state file; the next start of the container
// works, on both paths.
func TestStartAfterUnstartedState(t *testing.T) {
	warmSeccomp(t, spec.Options{})
	for _, path := range []string{"go", "c"} {
		withRunPath(t, path)
		c := newCtr(t, nil)
		if err := os.MkdirAll(filepath.Join(c.rt.root, c.id), 0o711); err != nil {
			t.Fatal(err)
		}
		if r := c.mustRun(spec.Options{}, "echo", "hi"); r.exit != 0 || r.stdout != "hi\n" {
			t.Errorf("%s path: %+v", path, r)
		}
	}
}

// earlyPid is the PID of the S that StartEarly started, once it runs.
func earlyPid(t *testing.T, rt *Runtime) int {
	t.Helper()
	es := rt.early.Load()
	if es == nil {
		t.Fatal("StartEarly started no S")
	}
	st := es.started()
	if st.err != nil {
		t.Fatalf("S: %v", st.err)
	}
	return st.p.Pid
}

// gone fails unless process pid has ended and been reaped (no zombie left).
func gone(t *testing.T, what string, pid int) {
	t.Helper()
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !errors.Is(err, os.ErrNotExist) {
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		t.Errorf("%s (PID %d) is still there: %v\n%s", what, pid, err, status)
	}
}

// An S started ahead of the spec (StartEarly) runs the container with the stdio it was given;
// one that no StartSpec takes, or that the C path does not take, or whose start fails, is
// killed and reaped, and takes nothing along.
func TestStartEarly(t *testing.T) {
	warmSeccomp(t, spec.Options{})
	withRunPath(t, "")
	outputs := func() (IO, *bytes.Buffer, *bytes.Buffer) {
		var out, errb bytes.Buffer
		return IO{Stdout: &out, Stderr: &errb}, &out, &errb
	}

	// Taken by the C path.
	c := newCtr(t, nil)
	c.writeSpec(spec.Options{}, "sh", "-c", "echo out; echo err >&2; exit 3")
	stdio, out, errb := outputs()
	c.rt.StartEarly(stdio)
	s := earlyPid(t, c.rt)
	p, err := c.rt.Start(context.Background(), c.id, c.bundle, stdio)
	if err != nil {
		t.Fatal(err)
	}
	if c.rt.early.Load() != nil {
		t.Error("Start left the early S behind")
	}
	if code, err := waitTimeout(t, p, 10*time.Second); code != 3 || err != nil || out.String() != "out\n" || errb.String() != "err\n" {
		t.Errorf("C path: exit %d %v, stdout %q, stderr %q", code, err, out.String(), errb.String())
	}
	gone(t, "S", s)

	// Dropped.
	stdio, _, _ = outputs()
	c.rt.StartEarly(stdio)
	s = earlyPid(t, c.rt)
	c.rt.DropEarly()
	gone(t, "a dropped S", s)
	c.rt.DropEarly() // twice: nothing

	// A second StartEarly ends the first.
	c.rt.StartEarly(stdio)
	s = earlyPid(t, c.rt)
	c.rt.StartEarly(stdio)
	gone(t, "a replaced S", s)
	c.rt.DropEarly()

	// A container the C path hands to libcontainer (no PID namespace of its own): the early
	// S goes, the container runs with the same stdio.
	c = newCtr(t, nil)
	sp := c.writeSpec(spec.Options{}, "sh", "-c", "echo go; exit 4")
	sp.Linux.Namespaces = slices.DeleteFunc(sp.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.PIDNamespace })
	c.saveSpec(sp)
	stdio, out, _ = outputs()
	c.rt.StartEarly(stdio)
	s = earlyPid(t, c.rt)
	if p, err = c.rt.Start(context.Background(), c.id, c.bundle, stdio); err != nil {
		t.Fatal(err)
	}
	gone(t, "the S of a container on libcontainer's path", s)
	if code, err := waitTimeout(t, p, 10*time.Second); code != 4 || err != nil || out.String() != "go\n" {
		t.Errorf("Go path: exit %d %v, stdout %q", code, err, out.String())
	}

	// A start that fails: nothing left.
	c = newCtr(t, nil)
	c.writeSpec(spec.Options{}, "/nope")
	stdio, _, _ = outputs()
	c.rt.StartEarly(stdio)
	s = earlyPid(t, c.rt)
	if _, err := c.rt.Start(context.Background(), c.id, c.bundle, stdio); !errors.Is(err, errdefs.ErrCommandNotFound) {
		t.Errorf("a missing command: %v", err)
	}
	gone(t, "the S of a failed start", s)
	if _, err := os.Stat(filepath.Join(c.rt.root, c.id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state left: %v", err)
	}
	if d := ctrCgroupDirs(c.id); len(d) != 0 {
		t.Errorf("cgroups left: %q", d)
	}

	// Nothing where the C path is never taken.
	withRunPath(t, "go")
	c.rt.StartEarly(stdio)
	if c.rt.early.Load() != nil {
		t.Error("StartEarly under HAKO_RUN_PATH=go started an S")
	}
	withRunPath(t, "")
	c.rt.StartEarly(IO{Tty: true})
	if c.rt.early.Load() != nil {
		t.Error("StartEarly with a terminal started an S")
	}
	c.rt.StartEarly(IO{Stdin: strings.NewReader("input")})
	if c.rt.early.Load() != nil {
		t.Error("StartEarly with a stdin to copy started an S")
	}
}

// A cgroup setting the kernel refuses fails the start on both paths (on the C path the cgroups
// are made while libcontainer creates the container), and leaves no cgroup and no state.
func TestFastStartCgroupError(t *testing.T) {
	warmSeccomp(t, spec.Options{})
	for _, path := range []string{"go", "c"} {
		withRunPath(t, path)
		c := newCtr(t, nil)
		s := c.writeSpec(spec.Options{}, "true")
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		s.Linux.Resources.CPU = &specs.LinuxCPU{Cpus: "4095"}
		c.saveSpec(s)
		stdio := IO{}
		c.rt.StartEarly(stdio)
		_, err := c.rt.Start(context.Background(), c.id, c.bundle, stdio)
		if err == nil || !strings.Contains(err.Error(), "cpuset") {
			t.Errorf("%s path: a cpuset of CPU 4095: %v", path, err)
		}
		if d := ctrCgroupDirs(c.id); len(d) != 0 {
			t.Errorf("%s path: cgroups left: %q", path, d)
		}
		if _, err := os.Stat(filepath.Join(c.rt.root, c.id)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s path: state left: %v", path, err)
		}
	}
}

// usedCgroupDir makes container id's cgroup, as libcontainer looks for it (v1: the devices
// hierarchy's), with a sleeping process in it, and removes both at the end of the test.
func usedCgroupDir(t *testing.T, id string) (string, *exec.Cmd) {
	t.Helper()
	dir := filepath.Join("/sys/fs/cgroup/hako-test", id)
	if _, err := os.Stat("/sys/fs/cgroup/devices"); err == nil {
		dir = filepath.Join("/sys/fs/cgroup/devices/hako-test", id)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sleep.Process.Kill()
		sleep.Wait()
		os.Remove(dir)
	})
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(sleep.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, sleep
}

// A cgroup of the ID with processes in it (a container of a monitor that died, say) is refused
// on both paths, as libcontainer's Create refuses it, and is left as it was; so is an ID that
// is not one.
func TestStartRefusesUsedCgroup(t *testing.T) {
	warmSeccomp(t, spec.Options{})
	for _, path := range []string{"go", "c"} {
		withRunPath(t, path)
		c := newCtr(t, nil)
		c.writeSpec(spec.Options{}, "true")
		dir, sleep := usedCgroupDir(t, c.id)
		stdio := IO{}
		c.rt.StartEarly(stdio)
		_, err := c.rt.Start(context.Background(), c.id, c.bundle, stdio)
		if err == nil || !strings.Contains(err.Error(), "container's cgroup is not empty: 1 process(es) found") {
			t.Errorf("%s path: a used cgroup: %v", path, err)
		}
		if procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs")); strings.TrimSpace(string(procs)) != strconv.Itoa(sleep.Process.Pid) {
			t.Errorf("%s path: the cgroup's processes became %q", path, procs)
		}
		if _, err := os.Stat(filepath.Join(c.rt.root, c.id)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s path: state left: %v", path, err)
		}
	}
	for _, path := range []string{"go", "c"} {
		withRunPath(t, path)
		c := newCtr(t, nil)
		c.writeSpec(spec.Options{}, "true")
		_, err := c.rt.Start(context.Background(), "../"+c.id, c.bundle, IO{})
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s path: ID ../%s: %v", path, c.id, err)
		}
	}
}

// A frozen cgroup of the ID (v1: the freezer hierarchy's, where Exists does not look) is
// refused on both paths, as libcontainer's Create refuses it: the C path must not put S in it
// and wait for it forever.
func TestStartRefusesFrozenCgroup(t *testing.T) {
	warmSeccomp(t, spec.Options{})
	for _, path := range []string{"go", "c"} {
		withRunPath(t, path)
		c := newCtr(t, nil)
		c.writeSpec(spec.Options{}, "true")
		dir, file, frozen := filepath.Join("/sys/fs/cgroup/hako-test", c.id), "cgroup.freeze", "1"
		if _, err := os.Stat("/sys/fs/cgroup/freezer"); err == nil {
			dir, file, frozen = filepath.Join("/sys/fs/cgroup/freezer/hako-test", c.id), "freezer.state", "FROZEN"
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(dir) })
		if err := os.WriteFile(filepath.Join(dir, file), []byte(frozen), 0o644); err != nil {
			t.Fatal(err)
		}
		stdio := IO{}
		c.rt.StartEarly(stdio)
		done := make(chan error, 1)
		go func() {
			_, err := c.rt.Start(context.Background(), c.id, c.bundle, stdio)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "container's cgroup unexpectedly frozen") {
				t.Errorf("%s path: a frozen cgroup: %v", path, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s path: the start into a frozen cgroup has not returned in 20 s", path)
		}
		if _, err := os.Stat(filepath.Join(c.rt.root, c.id)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s path: state left: %v", path, err)
		}
		os.WriteFile(filepath.Join(dir, file), []byte(map[string]string{"1": "0", "FROZEN": "THAWED"}[frozen]), 0o644)
	}
}

// The cgroup search made ahead (PrepareCgroups) puts the container where the configuration
// says, as the search at the start would, and leaves nothing behind; a search for other
// cgroups than the configuration's is not used (the start searches again) and makes nothing.
func TestPrepareCgroups(t *testing.T) {
	warmSeccomp(t, spec.Options{})
	withRunPath(t, "c")
	for _, ahead := range []string{"", "/hako-test-elsewhere/x"} {
		c := newCtr(t, nil)
		if ahead == "" {
			c.rt.PrepareCgroups(spec.CgroupsPath(spec.Options{ID: c.id, CgroupParent: "/hako-test"}))
		} else {
			c.rt.PrepareCgroups(ahead)
		}
		r := c.mustRun(spec.Options{Memory: 64 << 20}, "sh", "-c", "grep -E '(memory|^0:):' /proc/self/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null; true")
		if r.exit != 0 || !strings.Contains(r.stdout, "/hako-test/"+c.id) || !strings.Contains(r.stdout, "67108864") {
			t.Errorf("search ahead %q: exit %d, stdout %q, stderr %q", ahead, r.exit, r.stdout, r.stderr)
		}
		if err := c.rt.Delete(c.id, false); err != nil {
			t.Fatal(err)
		}
		if d := ctrCgroupDirs(c.id); len(d) != 0 {
			t.Errorf("search ahead %q: cgroups left: %q", ahead, d)
		}
		if d, _ := filepath.Glob("/sys/fs/cgroup/*/hako-test-elsewhere"); len(d) != 0 {
			t.Errorf("the search made %q", d)
		}
	}
}

// A start takes the search kept by the store's previous one (cgroupsearch_linux.go) where the
// mounts are the same: here one whose directories were moved by hand to /hako-test-kept, where
// the container's cgroups then are, and from where they are deleted.
func TestPrepareCgroupsKept(t *testing.T) {
	warmSeccomp(t, spec.Options{})
	withRunPath(t, "c")
	first := newCtr(t, nil)
	first.rt.PrepareCgroups(spec.CgroupsPath(spec.Options{ID: first.id, CgroupParent: "/hako-test"}))
	if r := first.mustRun(spec.Options{}, "true"); r.exit != 0 {
		t.Fatalf("first run: exit %d, stderr %q", r.exit, r.stderr)
	}
	if err := first.rt.Delete(first.id, false); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(first.rt.root, searchCacheName))
	if err != nil {
		t.Fatalf("the first start's search was not kept: %v", err)
	}
	var kept searchCache
	if digest, _ := cgroupMountsDigest(); json.Unmarshal(b, &kept) != nil || kept.Mounts != digest || kept.Parent != "/hako-test" {
		t.Fatalf("kept search %s", b)
	}
	for sub, d := range kept.Dirs {
		kept.Dirs[sub] = filepath.Join(filepath.Dir(d), "hako-test-kept")
	}
	t.Cleanup(func() {
		for _, d := range kept.Dirs {
			os.Remove(d)
		}
	})
	c := newCtr(t, nil)
	b, _ = json.Marshal(kept)
	if err := os.WriteFile(filepath.Join(c.rt.root, searchCacheName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	c.rt.PrepareCgroups(spec.CgroupsPath(spec.Options{ID: c.id, CgroupParent: "/hako-test"}))
	r := c.mustRun(spec.Options{Memory: 64 << 20}, "sh", "-c", "grep -E '(memory|^0:):' /proc/self/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null; true")
	if r.exit != 0 || !strings.Contains(r.stdout, "/hako-test-kept/"+c.id) || !strings.Contains(r.stdout, "67108864") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.exit, r.stdout, r.stderr)
	}
	if err := c.rt.Delete(c.id, false); err != nil {
		t.Fatal(err)
	}
	if d, _ := filepath.Glob("/sys/fs/cgroup/*/hako-test-kept/" + c.id); len(d) != 0 {
		t.Errorf("cgroups left: %q", d)
	}
}

// AfterPlan is called once by each start: on the C path once S has its plan, on libcontainer's
// path, and when the start fails (a caller that waits for it must not wait forever).
func TestAfterPlan(t *testing.T) {
	warmSeccomp(t, spec.Options{})
	for _, path := range []string{"c", "go"} {
		for _, fail := range []bool{false, true} {
			withRunPath(t, path)
			c := newCtr(t, nil)
			calls := 0
			c.rt.AfterPlan = func() { calls++ }
			s := c.writeSpec(spec.Options{}, "true")
			if fail {
				if s.Linux.Resources == nil {
					s.Linux.Resources = &specs.LinuxResources{}
				}
				s.Linux.Resources.CPU = &specs.LinuxCPU{Cpus: "4095"}
				c.saveSpec(s)
			}
			p, err := c.rt.Start(context.Background(), c.id, c.bundle, IO{})
			if fail != (err != nil) {
				t.Fatalf("%s path, failing %v: %v", path, fail, err)
			}
			if p != nil {
				waitTimeout(t, p, 10*time.Second)
			}
			if calls != 1 {
				t.Errorf("%s path, failing %v: AfterPlan called %d times, want 1", path, fail, calls)
			}
		}
	}
}

// The init is in the container's cgroup in every hierarchy (the v2 one too: a hybrid host's
// unified hierarchy, or a v2 host's only one, which the C path's clone3 enters), and sees the
// same /proc/self/cgroup on both paths; with a cgroup namespace of its own too, whose root is
// the container's cgroup in every hierarchy (the kernel makes the cgroup a clone3 enters the
// new namespace's root). The C path takes a cgroup namespace only without a v1 cgroup mount:
// that case has none.
func TestFastStartCgroupMembership(t *testing.T) {
	warmSeccomp(t, spec.Options{})
	for _, cgns := range []bool{false, true} {
		var inside [2]string
		for i, path := range []string{"go", "c"} {
			withRunPath(t, path)
			c := newCtr(t, nil)
			sp := c.writeSpec(spec.Options{}, "sh", "-c", "cat /proc/self/cgroup; exec sleep 60")
			if cgns {
				sp.Linux.Namespaces = append(sp.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
				sp.Mounts = slices.DeleteFunc(sp.Mounts, func(m specs.Mount) bool { return m.Type == "cgroup" })
				c.saveSpec(sp)
			}
			var stdout bytes.Buffer
			p, err := c.start(&stdout, nil)
			if err != nil {
				t.Fatalf("cgroupns %v, %s path: %v", cgns, path, err)
			}
			host, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p.Pid))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(host)), "\n")
			for _, l := range lines {
				if !strings.HasSuffix(l, ":/hako-test/"+c.id) {
					t.Errorf("cgroupns %v, %s path: the init's cgroup on the host: %q not the container's in\n%s", cgns, path, l, host)
				}
			}
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "0::") }) {
				t.Logf("no v2 hierarchy here: %q", host)
			}
			// Once the shell has exec'd sleep, cat is done; Wait returns once its output is
			// copied.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.Pid)); bytes.HasPrefix(cmd, []byte("sleep\x00")) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("cgroupns %v, %s path: the init did not get to its sleep", cgns, path)
				}
			}
			_ = p.Signal(unix.SIGKILL)
			_, _ = waitTimeout(t, p, 10*time.Second)
			inside[i] = strings.ReplaceAll(stdout.String(), c.id, "ID")
			if n := strings.Count(inside[i], "\n"); n != len(lines) {
				t.Errorf("cgroupns %v, %s path: %d hierarchies inside, %d outside:\n%s", cgns, path, n, len(lines), inside[i])
			}
			if cgns && strings.Count(inside[i], ":/\n") != len(lines) {
				t.Errorf("cgroupns, %s path: the namespace's root is not the container's cgroup:\n%s", path, inside[i])
			}
		}
		if inside[0] != inside[1] {
			t.Errorf("cgroupns %v: the paths differ:\n--- go\n%s--- c\n%s", cgns, inside[0], inside[1])
		}
	}
}
