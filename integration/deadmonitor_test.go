package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDeadMonitorRecordedOnce: a container whose monitor (and process) died with kill -9 reads
// as exited (255), and its death is recorded when first noticed: ps -a's "Exited (255) N
// seconds ago" grows from read to read instead of saying "Less than a second ago" for ever,
// inspect's FinishedAt stays put and is in the record on disk, and start brings the container
// back. With either monitor: the keeper and the Go monitor.
func TestDeadMonitorRecordedOnce(t *testing.T) {
	s := runStore(t)
	statusRE := regexp.MustCompile(`^Exited \(255\) (Less than a second|\d+ seconds?) ago\n$`)
	for i, m := range keeperModes {
		name := "dead-" + m.name
		arg := []string{"987661", "987662"}[i]
		id := strings.TrimSpace(keeperOK(s, m.env, "run", "-d", "--name", name, "busybox", "sleep", arg))
		var pid int
		if m.env == nil {
			pid, _ = waitKeeper(t, s, id)
		} else {
			waitFor(t, "the monitor", func() bool { pid, _ = keeperMonitorOf(s, id); return pid != 0 })
		}
		waitFor(t, "the container to run", func() bool { return countProcs("sleep\x00"+arg+"\x00") == 1 })
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the monitor to die", func() bool { p, _ := keeperMonitorOf(s, id); return p == 0 })
		killProcs(t, "sleep\x00"+arg+"\x00")

		ps := func() string {
			return keeperOK(s, m.env, "ps", "-a", "--filter", "name="+name, "--format", "{{.Status}}")
		}
		finished := func() string {
			return keeperOK(s, m.env, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.Error}} {{.State.FinishedAt}}", name)
		}
		st1, fin1 := ps(), finished()
		time.Sleep(1500 * time.Millisecond)
		st2, fin2 := ps(), finished()
		t.Logf("%s: ps -a %q then %q; inspect %q", m.name, st1, st2, fin1)
		if !statusRE.MatchString(st1) || !statusRE.MatchString(st2) {
			t.Fatalf("%s: ps -a after the monitor died: %q, then %q", m.name, st1, st2)
		}
		if strings.Contains(st2, "Less than a second") || st1 == st2 {
			t.Errorf("%s: the time since the exit does not grow: %q, 1.5 s later %q", m.name, st1, st2)
		}
		if !strings.HasPrefix(fin1, "exited 255 the container's monitor died ") || fin1 != fin2 {
			t.Errorf("%s: inspect %q, 1.5 s later %q: want exited 255 with the same FinishedAt", m.name, fin1, fin2)
		}
		var rec struct {
			State struct {
				Status     string
				Running    bool
				ExitCode   int
				FinishedAt time.Time
			}
		}
		b, err := os.ReadFile(filepath.Join(s.root, "containers", id, "container.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.State.Status != "exited" || rec.State.Running || rec.State.ExitCode != 255 || rec.State.FinishedAt.IsZero() ||
			!strings.Contains(fin1, rec.State.FinishedAt.Format("2006-01-02T15:04:05")) {
			t.Errorf("%s: the record on disk: %+v (inspect: %q)", m.name, rec.State, fin1)
		}

		// start brings it back.
		keeperOK(s, m.env, "start", name)
		waitFor(t, "the container to run again", func() bool { return strings.HasPrefix(ps(), "Up ") })
		if got := keeperOK(s, m.env, "inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}} [{{.State.Error}}]", name); got != "running true 0 []\n" {
			t.Errorf("%s: inspect after start: %q", m.name, got)
		}
		if n := countProcs("sleep\x00" + arg + "\x00"); n != 1 {
			t.Errorf("%s: %d container processes after start", m.name, n)
		}
		keeperOK(s, m.env, "rm", "-f", name)
	}
}
