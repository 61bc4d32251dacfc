package integration

import (
	"bufio"
	"bytes"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestForegroundRunForwardsSignals: a signal to `hako run` (no -t) reaches the container's
// process, as Docker's sig-proxy does.
func TestForegroundRunForwardsSignals(t *testing.T) {
	s := runStore(t)
	cmd := exec.Command(hakoBin, "--root", s.root, "run", "--rm", "busybox", "sh", "-c",
		`trap 'echo got TERM; exit 7' TERM; echo ready; while true; do sleep 0.1; done`)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	if line, _ := r.ReadString('\n'); line != "ready\n" {
		t.Fatalf("first line %q", line)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	rest, _ := io.ReadAll(r)
	out := bytes.NewBuffer(rest)
	err = cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 7 || !strings.Contains(out.String(), "got TERM") {
		t.Fatalf("exit %v, output %q; want the container's trap to run and exit 7", err, out.String())
	}
}
