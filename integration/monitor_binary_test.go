package integration

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMonitorBinary: the monitor of a `run` is the run's own process (the child of its fork,
// runfork.c), which executes the lean hako-monitor found next to hako (or goes on in hako with
// HAKO_RUN_LEAN=off, or when there is none); a run that does not fork (HAKO_RUN_FORK=off here;
// -i and -t) and `start` spawn hako-monitor (and libcontainer re-executes the container's init
// from it); a hako with no hako-monitor beside it is its own monitor (`hako __monitor`), with
// the same behaviour.
func TestMonitorBinary(t *testing.T) {
	s := runStore(t)
	solo := filepath.Join(t.TempDir(), "hako")
	if out, err := exec.Command("cp", hakoBin, solo).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	monitorBin := filepath.Join(filepath.Dir(hakoBin), "hako-monitor")
	// A hako-monitor that cannot be executed (runfork.c's vfork child fails its exec): the run
	// forks again and its child stays in hako.
	broken := filepath.Join(t.TempDir(), "hako")
	if out, err := exec.Command("cp", hakoBin, broken).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(broken), "hako-monitor"), []byte("#!/nonexistent/interpreter\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ bin, env, monitor string }{
		{hakoBin, "", monitorBin},
		// A HAKO_RUN_CHILD that runfork.c did not set (no pipe of the parent): ignored.
		{hakoBin, "HAKO_RUN_CHILD=3:1", monitorBin},
		{hakoBin, "HAKO_RUN_LEAN=off", hakoBin},
		{hakoBin, "HAKO_RUN_FORK=off", monitorBin},
		{solo, "", solo},
		{solo, "HAKO_RUN_FORK=off", solo},
		{broken, "", broken},
	} {
		run := func(args ...string) string {
			t.Helper()
			cmd := exec.Command(tc.bin, append([]string{"--root", s.root}, args...)...)
			cmd.Env = append(os.Environ(), tc.env)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s %s %v: %v\n%s", tc.env, tc.bin, args, err, out)
			}
			return string(out)
		}
		if out := run("run", "--rm", "busybox", "echo", "hello"); out != "hello\n" {
			t.Fatalf("%s run: %q", tc.bin, out)
		}
		id := strings.TrimSpace(run("run", "-d", "busybox", "sh", "-c", "echo up; sleep 60"))
		var pids []int
		for deadline := time.Now().Add(5 * time.Second); len(pids) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			pids = monitorPIDs(t, s.root)
		}
		if len(pids) != 1 {
			t.Fatalf("%s %s: monitors %v", tc.env, tc.bin, pids)
		}
		exe, _ := os.Readlink("/proc/" + strconv.Itoa(pids[0]) + "/exe")
		if exe != tc.monitor {
			t.Fatalf("%s %s: the monitor runs %q, want %q", tc.env, tc.bin, exe, tc.monitor)
		}
		if out := run("exec", id, "echo", "in"); out != "in\n" {
			t.Fatalf("%s exec: %q", tc.bin, out)
		}
		if out := run("logs", id); out != "up\n" {
			t.Fatalf("%s logs: %q", tc.bin, out)
		}
		run("rm", "-f", id)
	}
}

// TestStoreUnderBinaryDir: a store inside the directory of hako's binaries (/opt/hako/hako with
// --root /opt/hako/root) once made every C-path start fail with "too many levels of symbolic
// links": the sealed copy of the binary is an overlay of that directory over one of the store's,
// and overlayfs refuses overlapping layers. The sealed copy is then a sealed memfd instead, on
// both C paths (run and exec), which are required here.
func TestStoreUnderBinaryDir(t *testing.T) {
	dir := t.TempDir()
	for _, b := range []string{"hako", "hako-monitor"} {
		if out, err := exec.Command("cp", filepath.Join(filepath.Dir(hakoBin), b), dir).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
	}
	root := filepath.Join(dir, "root")
	run := func(env string, args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(dir, "hako"), append([]string{"--root", root}, args...)...)
		cmd.Env = append(os.Environ(), env)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s hako %v: %v\n%s", env, args, err, out)
		}
		return string(out)
	}
	run("", "import", "-c", `CMD ["sh"]`, busyboxTar(t), "busybox:latest")
	// The first container of a seccomp configuration takes libcontainer's path and fills the
	// cache the C path needs.
	run("", "run", "--rm", "busybox", "true")
	if out := run("HAKO_RUN_PATH=c", "run", "--rm", "busybox", "echo", "c path"); out != "c path\n" {
		t.Fatalf("run: %q", out)
	}
	id := strings.TrimSpace(run("HAKO_RUN_PATH=c", "run", "-d", "busybox", "sleep", "60"))
	defer run("", "rm", "-f", id)
	// The monitor writes the exec profile once run has its answer (docs/exec.md): an exec
	// before that takes the Go path, which HAKO_EXEC_PATH=c refuses.
	profile := filepath.Join(root, "runtime", id, "hako-exec.conf")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(profile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s: no exec profile 10 s after it started", id)
		}
	}
	if out := run("HAKO_EXEC_PATH=c", "exec", id, "echo", "in"); out != "in\n" {
		t.Fatalf("exec: %q", out)
	}
}

// TestRunFork: a `run` without -i or -t forks before Go starts (runfork.c): the child runs the
// command and stays as the container's monitor, the parent exits with the run's code. Runs it
// does not guess (-i, -t, a flag form it does not know), HAKO_RUN_FORK=off and HAKO_MONITOR_PATH
// spawn a monitor instead, with the same behaviour; a run that fails leaves no monitor behind.
// The monitor keeps nothing of the command's: no working directory, no stdio, no session.
func TestRunFork(t *testing.T) {
	s := runStore(t)
	debug := func(env string, stdin []byte, args ...string) (result, bool) {
		t.Helper()
		r := s.runWith(append(os.Environ(), "HAKO_DEBUG=1", env), stdin, args...)
		return r, strings.Contains(r.stderr, "start: in-process monitor")
	}
	for _, tc := range []struct {
		env    string
		args   []string
		forked bool
	}{
		{"", []string{"run", "--rm", "busybox", "echo", "hi"}, true},
		{"", []string{"run", "--rm", "--name", "fork1", "-e", "A=1", "-w", "/tmp", "busybox", "sh", "-c", "echo $A $PWD"}, true},
		{"", []string{"run", "-d", "--rm", "busybox", "true"}, true},
		{"", []string{"run", "-i", "--rm", "busybox", "cat"}, false},
		{"", []string{"run", "-t", "--rm", "busybox", "true"}, false},
		{"", []string{"run", "--rm=true", "busybox", "true"}, false},
		{"HAKO_RUN_FORK=off", []string{"run", "--rm", "busybox", "echo", "hi"}, false},
	} {
		r, forked := debug(tc.env, []byte("in\n"), tc.args...)
		if r.code != 0 || forked != tc.forked {
			t.Errorf("%s hako %v: exit %d, forked %v (want %v)\n%s", tc.env, tc.args, r.code, forked, tc.forked, r.stderr)
		}
	}
	for _, env := range []string{"", "HAKO_RUN_FORK=off"} {
		r := s.runWith(append(os.Environ(), env), nil, "run", "--rm", "--name", "fork1", "-e", "A=1", "-w", "/tmp", "busybox", "sh", "-c", "echo $A $PWD; echo err >&2; exit 3")
		if r.code != 3 || r.stdout != "1 /tmp\n" || r.stderr != "err\n" {
			t.Errorf("%s attached run: %+v", env, r)
		}
	}

	// The monitor sends a foreground run's code to the waiting parent itself, as soon as the run
	// is over (handOver.giveUp); a detached run's is 0 once its ID is printed, however soon its
	// container exits.
	for i := 0; i < 5; i++ {
		if r := s.runWith(os.Environ(), nil, "run", "--rm", "busybox", "sh", "-c", "echo $0; exit 5", "x"); r.code != 5 || r.stdout != "x\n" {
			t.Errorf("foreground run: %+v", r)
		}
		r := s.runWith(os.Environ(), nil, "run", "-d", "busybox", "sh", "-c", "exit 3")
		if id := strings.TrimSpace(r.stdout); r.code != 0 || len(id) != 64 {
			t.Errorf("detached run of a container that exits at once: %+v", r)
		} else {
			s.ok("rm", "-f", id) // its exit may not be recorded yet
		}
	}

	// A detached run's monitor, once the command has returned: in a session of its own (not the
	// command's, nor the test's), in /, with /dev/null for stdio, the container's init its child.
	cwd := t.TempDir()
	cmd := exec.Command(hakoBin, "--root", s.root, "run", "-d", "busybox", "sleep", "60")
	cmd.Dir = cwd
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run -d: %v", err)
	}
	id := strings.TrimSpace(string(out))
	var pid int
	waitFor(t, "the monitor", func() bool { pid, _ = keeperMonitorOf(s, id); return pid != 0 })
	// The forked child executed the lean hako-monitor next to hako (runfork.c's lean_child).
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); exe != filepath.Join(filepath.Dir(hakoBin), "hako-monitor") {
		t.Errorf("the monitor of a forked run runs %q, want hako-monitor next to %q", exe, hakoBin)
	}
	if dir, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); dir != "/" {
		t.Errorf("the monitor's working directory is %q, want /", dir)
	}
	requireNullStdio(t, pid, "the monitor")
	if sid, _ := unix.Getsid(pid); sid != pid {
		t.Errorf("the monitor's session is %d, want its own (%d)", sid, pid)
	}
	initPID := atoi(strings.TrimSpace(s.ok("inspect", "-f", "{{.State.Pid}}", id)))
	if ppid := procStatus(initPID, "PPid"); ppid != strconv.Itoa(pid) {
		t.Errorf("the container's init has parent %s, want the monitor %d", ppid, pid)
	}
	s.ok("rm", "-f", id)

	// A detached run whose command cannot print the ID for longer than the monitor waits
	// before it becomes the keeper (its stdout a full pipe): the monitor waits for the command
	// to be done, the ID comes out whole once the pipe is read, the command exits 0, the
	// keeper holds none of the command's descriptors (the pipe ends), and it keeps the log.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	wfd := int(w.Fd()) // once: Fd makes the descriptor blocking again
	unix.SetNonblock(wfd, true)
	filler := make([]byte, 4096)
	for i := range filler {
		filler[i] = '.'
	}
	filled := 0
	for {
		n, err := unix.Write(wfd, filler)
		if err != nil {
			break
		}
		filled += n
	}
	unix.SetNonblock(wfd, false)
	slow := exec.Command(hakoBin, "--root", s.root, "run", "-d", "busybox", "sh", "-c", "echo up; sleep 60")
	slow.Stdout = w
	if err := slow.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	time.Sleep(time.Second) // 4 times the keeper's settling time
	readAll := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(r); readAll <- b }()
	var printed []byte
	select {
	case printed = <-readAll:
	case <-time.After(10 * time.Second):
		slow.Process.Kill()
		t.Fatal("the blocked run -d's stdout did not end 10 s after it was read")
	}
	r.Close()
	if err := slow.Wait(); err != nil {
		t.Errorf("the blocked run -d: %v", err)
	}
	slowID := strings.TrimSpace(string(printed[filled:]))
	if len(printed) < filled || len(slowID) != 64 {
		t.Fatalf("the blocked run -d printed %q after the filler", printed[min(filled, len(printed)):])
	}
	kpid, _ := waitKeeper(t, s, slowID)
	requireNullStdio(t, kpid, "the keeper")
	waitFor(t, "the log", func() bool { return s.run("logs", slowID).stdout == "up\n" })
	s.ok("rm", "-f", slowID)

	// A foreground run whose monitor (the child) is killed: the command does not hang, and
	// ends as the child did (killed), while the container is recorded as exited.
	fg := exec.Command(hakoBin, "--root", s.root, "run", "--name", "fg", "busybox", "sleep", "987663")
	if err := fg.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the container to run", func() bool { return countProcs("sleep\x00987663\x00") == 1 })
	fgID := strings.TrimSpace(s.ok("inspect", "-f", "{{.Id}}", "fg"))
	var mon int
	waitFor(t, "the monitor", func() bool { mon, _ = keeperMonitorOf(s, fgID); return mon != 0 })
	if mon == fg.Process.Pid {
		t.Fatalf("the command %d is its own container's monitor", mon)
	}
	syscall.Kill(mon, syscall.SIGKILL)
	done := make(chan error, 1)
	go func() { done <- fg.Wait() }()
	select {
	case err := <-done:
		if st, ok := fg.ProcessState.Sys().(syscall.WaitStatus); err == nil || !ok || !st.Signaled() || st.Signal() != syscall.SIGKILL {
			t.Errorf("the command after its monitor was killed: %v, want killed by SIGKILL as the monitor was", err)
		}
	case <-time.After(10 * time.Second):
		fg.Process.Kill()
		t.Fatal("the command still waits 10 s after its monitor was killed")
	}
	killProcs(t, "sleep\x00987663\x00")
	if st := s.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "fg"); st != "exited 255\n" {
		t.Errorf("inspect after the monitor died: %q", st)
	}
	s.ok("rm", "fg")

	// A monitor executable elsewhere (HAKO_MONITOR_PATH): the run does not fork, and spawns it;
	// one that the kernel refuses fails the run, naming it.
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good-monitor"), filepath.Join(dir, "bad-monitor")
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(hakoBin), "hako-monitor")); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(good, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("no interpreter line\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if r, forked := debug("HAKO_MONITOR_PATH="+good, nil, "run", "--rm", "busybox", "echo", "hi"); r.code != 0 || forked || r.stdout != "hi\n" {
		t.Errorf("HAKO_MONITOR_PATH=%s: exit %d, forked %v, stdout %q\n%s", good, r.code, forked, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"run", "--rm", "busybox", "true"}, {"run", "-d", "busybox", "true"}} {
		r, forked := debug("HAKO_MONITOR_PATH="+bad, nil, args...)
		if r.code != 125 || forked || !strings.Contains(r.stderr, bad) {
			t.Errorf("HAKO_MONITOR_PATH=%s hako %v: exit %d, forked %v\n%s", bad, args, r.code, forked, r.stderr)
		}
	}

	// Failures before and after the container is created: nothing may be left running.
	for _, args := range [][]string{
		{"run", "--rm", "--memory", "lots", "busybox", "true"},
		{"run", "--rm", "nosuchimage", "true"},
		{"run", "-d", "nosuchimage", "true"},
		{"run", "--rm", "busybox", "nosuchcmd"},
	} {
		if r := s.run(args...); r.code == 0 {
			t.Errorf("hako %v succeeded", args)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(monitorPIDs(t, s.root)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if pids := monitorPIDs(t, s.root); len(pids) > 0 {
		t.Fatalf("monitors left running: %v", pids)
	}
	if out := s.ok("ps", "-aq"); out != "" {
		t.Fatalf("containers left: %q", out)
	}
}

// requireNullStdio fails the test unless the standard descriptors of process pid (what) are all
// /dev/null: a monitor holds nothing of the command that started it.
func requireNullStdio(t *testing.T, pid int, what string) {
	t.Helper()
	for fd := 0; fd < 3; fd++ {
		if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd)); target != os.DevNull {
			t.Errorf("%s's descriptor %d is %q, want /dev/null", what, fd, target)
		}
	}
}

// TestMonitorInheritsNothing: a descriptor that hako inherited (a CI job's pipe, a shell's
// redirection) reaches neither the container's monitor nor its keeper, whether the monitor is
// the run's forked child (package cli, runfork.c) or spawned: held open by a detached container's monitor,
// it would keep the job that ran hako waiting for ever. And a store reached through a symlink
// works.
func TestMonitorInheritsNothing(t *testing.T) {
	s := runStore(t)
	for _, env := range []string{"", "HAKO_RUN_FORK=off"} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(hakoBin, "--root", s.root, "run", "-d", "busybox", "sleep", "60")
		cmd.Env = append(os.Environ(), env)
		// Descriptor 10 of hako: above those a monitor is handed, which would cover a lower one.
		null, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		cmd.ExtraFiles = []*os.File{null, null, null, null, null, null, null, w}
		defer null.Close()
		out, err := cmd.Output()
		w.Close()
		if err != nil {
			t.Fatalf("%s run -d: %v", env, err)
		}
		id := strings.TrimSpace(string(out))
		// The pipe reaches EOF only when no process holds its write end any more.
		done := make(chan struct{})
		go func() { io.Copy(io.Discard, r); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Errorf("%s: a process of container %s (its monitor?) holds hako's inherited descriptor", env, id[:12])
		}
		r.Close()
		s.ok("rm", "-f", id)
	}
	link := filepath.Join(t.TempDir(), "store")
	if err := os.Symlink(s.root, link); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(hakoBin, "--root", link, "run", "--rm", "busybox", "echo", "via a link").CombinedOutput(); err != nil || string(out) != "via a link\n" {
		t.Fatalf("run in a store reached through a symlink: %v %s", err, out)
	}
	// Its monitor works on in the store after the answer (the record's removal, the spare),
	// under the link's name, which the store's clean-up does not look for.
	waitStoreIdle(link)
}
