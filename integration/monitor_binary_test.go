package integration

import (
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
