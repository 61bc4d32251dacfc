package integration

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestStatsAll: stats lists the running containers; -a adds the stopped ones, newest first as
// ps -a has them, with the zeros of an empty sample under --no-stream and "--" in the stream,
// as Docker shows a container it gets no sample of.
func TestStatsAll(t *testing.T) {
	s := runStore(t)
	s.ok("run", "-d", "--name", "up", "busybox", "sleep", "100000")
	s.ok("run", "--name", "done", "busybox", "true")
	s.ok("create", "--name", "fresh", "busybox", "sleep", "1")

	format := "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}"
	if got := s.ok("stats", "--no-stream", "--format", "{{.Name}}"); got != "up\n" {
		t.Fatalf("stats without -a: %q", got)
	}
	for _, flag := range []string{"-a", "--all"} {
		got := s.ok("stats", flag, "--no-stream", "--format", format)
		lines := strings.Split(strings.TrimSpace(got), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[2], "up|") || strings.HasSuffix(lines[2], "|0") {
			t.Fatalf("stats %s: %q", flag, got)
		}
		for i, name := range []string{"fresh", "done"} {
			if want := name + "|0.00%|0B / 0B|0.00%|0B / 0B|0B / 0B|0"; lines[i] != want {
				t.Errorf("stats %s, stopped %s: %q, want %q", flag, name, lines[i], want)
			}
		}
	}
	// The default table lists the stopped ones under Docker's columns.
	table := s.ok("stats", "-a", "--no-stream")
	if !strings.HasPrefix(table, "CONTAINER ID   NAME      CPU %") || strings.Count(table, "\n") != 4 || !strings.Contains(table, " fresh ") || !strings.Contains(table, " done ") {
		t.Fatalf("stats -a table:\n%s", table)
	}
	// Named, a stopped container is there without -a too.
	if got := s.ok("stats", "--no-stream", "--format", format, "done"); got != "done|0.00%|0B / 0B|0.00%|0B / 0B|0B / 0B|0\n" {
		t.Fatalf("stats of a named stopped container: %q", got)
	}

	// The stream: "--" for the stopped ones, numbers for the running one.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hakoBin, "--root", s.root, "stats", "-a", "--format", format)
	out, _ := cmd.Output()
	// Each frame starts by clearing the screen; the first one is whole once a second began.
	frames := strings.Split(string(out), "\033[2J\033[H")
	if len(frames) < 3 {
		t.Fatalf("stats -a stream: %q", out)
	}
	first := strings.TrimSpace(frames[1])
	lines := strings.Split(first, "\n")
	if len(lines) != 3 || lines[0] != "fresh|--|-- / --|--|--|--|--" || lines[1] != "done|--|-- / --|--|--|--|--" || !strings.HasPrefix(lines[2], "up|") || strings.Contains(lines[2], "--") {
		t.Fatalf("stats -a stream, first frame: %q", first)
	}
}
