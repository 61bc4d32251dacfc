package engine

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/errdefs"
)

// Kill of a container whose record says it runs but whose runtime state is gone: "not running"
// (a conflict, which rm -f goes past) when the init the record names is gone too (the monitor
// reaped it and deleted the state, and has not recorded the exit yet), leaving its restart
// policy alone; the runtime's own error when that process still exists.
func TestKillWithoutRuntimeState(t *testing.T) {
	e, err := New(Config{Root: t.TempDir(), Snapshotter: "native"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	cs := e.Containers()
	for i, tc := range []struct {
		pid      int
		conflict bool
	}{
		{gone.Process.Pid, true},
		{os.Getpid(), false},
	} {
		id := "00000000000000000000000000000000000000000000000000000000000000a" + string(rune('0'+i))
		c := &container.Container{ID: id, Name: "k" + string(rune('0'+i))}
		c.State = container.State{Status: container.Running, Running: true, Pid: tc.pid}
		if err := cs.Save(c); err != nil {
			t.Fatal(err)
		}
		ml, err := takeMonitorLock(cs.MonitorLockPath(id)) // a live monitor: the record is believed
		if err != nil {
			t.Fatal(err)
		}
		defer ml.Unlock()
		err = e.Kill(context.Background(), id, "KILL")
		if errors.Is(err, errdefs.ErrConflict) != tc.conflict || (!tc.conflict && !errors.Is(err, errdefs.ErrNotFound)) {
			t.Errorf("init %d: %v (want a conflict: %v)", tc.pid, err, tc.conflict)
		}
		if tc.conflict && e.manuallyStopped(id) {
			t.Errorf("init %d: a kill that found the container ended marked it stopped by the user", tc.pid)
		}
	}
}
