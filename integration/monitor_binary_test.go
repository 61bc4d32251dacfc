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
