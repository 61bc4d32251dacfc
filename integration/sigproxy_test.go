package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestForegroundRunForwardsSignals: a signal to `hako run` (no -t) reaches the container's
// process, as Docker's sig-proxy does, and ends neither the command nor the container's monitor
// (the same process as the command's, forked before Go started, until the command is done).
func TestForegroundRunForwardsSignals(t *testing.T) {
	s := runStore(t)
	for _, sig := range []struct {
		name string
		sig  syscall.Signal
		code int
	}{{"TERM", syscall.SIGTERM, 7}, {"USR1", syscall.SIGUSR1, 8}, {"HUP", syscall.SIGHUP, 9}, {"QUIT", syscall.SIGQUIT, 10}} {
		cmd := exec.Command(hakoBin, "--root", s.root, "run", "--rm", "busybox", "sh", "-c",
			fmt.Sprintf(`trap 'echo got %s; exit %d' %s; echo ready; while true; do sleep 0.1; done`, sig.name, sig.code, sig.name))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(stdout)
		if line, _ := r.ReadString('\n'); line != "ready\n" {
			t.Fatalf("%s: first line %q", sig.name, line)
		}
		cmd.Process.Signal(sig.sig)
		timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
		rest, _ := io.ReadAll(r)
		out := bytes.NewBuffer(rest)
		err = cmd.Wait()
		timer.Stop()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != sig.code || !strings.Contains(out.String(), "got "+sig.name) {
			t.Fatalf("SIG%s: exit %v, output %q; want the container's trap to run and exit %d", sig.name, err, out.String(), sig.code)
		}
	}
	if got := s.ok("ps", "-aq"); got != "" {
		t.Fatalf("ps -aq after the --rm runs: %q", got)
	}
}
