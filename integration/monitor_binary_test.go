package integration

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMonitorBinary: hako runs hako-monitor, found next to it, as each container's monitor (and
// libcontainer re-executes the container's init from it); a hako with no hako-monitor beside it
// is its own monitor (`hako __monitor`), with the same behaviour.
func TestMonitorBinary(t *testing.T) {
	s := runStore(t)
	solo := filepath.Join(t.TempDir(), "hako")
	if out, err := exec.Command("cp", hakoBin, solo).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	for _, tc := range []struct{ bin, monitor string }{
		{hakoBin, filepath.Join(filepath.Dir(hakoBin), "hako-monitor")},
		{solo, solo},
	} {
		run := func(args ...string) string {
			t.Helper()
			out, err := exec.Command(tc.bin, append([]string{"--root", s.root}, args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s %v: %v\n%s", tc.bin, args, err, out)
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
			t.Fatalf("%s: monitors %v", tc.bin, pids)
		}
		exe, _ := os.Readlink("/proc/" + strconv.Itoa(pids[0]) + "/exe")
		if exe != tc.monitor {
			t.Fatalf("%s: the monitor runs %q, want %q", tc.bin, exe, tc.monitor)
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
	if out := run("HAKO_EXEC_PATH=c", "exec", id, "echo", "in"); out != "in\n" {
		t.Fatalf("exec: %q", out)
	}
}

// TestEarlyMonitor: `run` adopts the monitor that its constructor started before the Go
// runtime (package cli, early.c) when it guessed the run right, detached or attached, with the
// same behaviour as a monitor spawned from Go; -i, -t, HAKO_EARLY_MONITOR=off and flags it does
// not know get the spawned one; and a run that fails before it adopts its early monitor (a bad
// flag value, an unknown image) leaves no monitor behind.
func TestEarlyMonitor(t *testing.T) {
	s := runStore(t)
	debug := func(env string, stdin []byte, args ...string) (result, bool) {
		t.Helper()
		r := s.runWith(append(os.Environ(), "HAKO_DEBUG=1", env), stdin, args...)
		return r, strings.Contains(r.stderr, "start: early monitor adopted")
	}
	for _, tc := range []struct {
		env   string
		args  []string
		early bool
	}{
		{"", []string{"run", "--rm", "busybox", "echo", "hi"}, true},
		{"", []string{"run", "--rm", "--name", "early1", "-e", "A=1", "-w", "/tmp", "busybox", "sh", "-c", "echo $A $PWD"}, true},
		{"", []string{"run", "-d", "--rm", "busybox", "true"}, true},
		{"", []string{"run", "-i", "--rm", "busybox", "cat"}, false},
		{"", []string{"run", "-t", "--rm", "busybox", "true"}, false},
		{"", []string{"run", "--rm=true", "busybox", "true"}, false},
		{"HAKO_EARLY_MONITOR=off", []string{"run", "--rm", "busybox", "echo", "hi"}, false},
	} {
		r, early := debug(tc.env, []byte("in\n"), tc.args...)
		if r.code != 0 || early != tc.early {
			t.Errorf("%s hako %v: exit %d, early monitor %v (want %v)\n%s", tc.env, tc.args, r.code, early, tc.early, r.stderr)
		}
	}
	if r := s.run("run", "--rm", "--name", "early1", "-e", "A=1", "-w", "/tmp", "busybox", "sh", "-c", "echo $A $PWD; echo err >&2; exit 3"); r.code != 3 || r.stdout != "1 /tmp\n" || r.stderr != "err\n" {
		t.Errorf("attached run with an early monitor: %+v", r)
	}
	// A monitor executable elsewhere (HAKO_MONITOR_PATH) is started early and adopted; one that
	// the kernel refuses (early.c's fork reports its execve's errno on a status pipe) is not,
	// and the run fails as Go's own spawn of it does, naming it.
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
	if r, early := debug("HAKO_MONITOR_PATH="+good, nil, "run", "--rm", "busybox", "echo", "hi"); r.code != 0 || !early || r.stdout != "hi\n" {
		t.Errorf("HAKO_MONITOR_PATH=%s: exit %d, early %v, stdout %q\n%s", good, r.code, early, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"run", "--rm", "busybox", "true"}, {"run", "-d", "busybox", "true"}} {
		r, early := debug("HAKO_MONITOR_PATH="+bad, nil, args...)
		if r.code != 125 || early || !strings.Contains(r.stderr, bad) {
			t.Errorf("HAKO_MONITOR_PATH=%s hako %v: exit %d, early %v\n%s", bad, args, r.code, early, r.stderr)
		}
	}

	// Failures before and after the adoption: nothing may be left running.
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

// TestMonitorInheritsNothing: a descriptor that hako inherited (a CI job's pipe, a shell's
// redirection) reaches neither the container's monitor nor its keeper, whether the monitor was
// started early (package cli, early.c) or from Go: held open by a detached container's monitor,
// it would keep the job that ran hako waiting for ever. And a store reached through a symlink
// works.
func TestMonitorInheritsNothing(t *testing.T) {
	s := runStore(t)
	for _, env := range []string{"", "HAKO_EARLY_MONITOR=off"} {
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
}
