package container

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hako-dev/hako/internal/lockfile"
)

// runningRecord saves a record that says the container runs, as its monitor left it.
func runningRecord(t *testing.T, s *Store, started time.Time) *Container {
	t.Helper()
	c := &Container{ID: NewID(), Name: "web", Created: started.Add(-time.Second),
		Config: Config{Image: "busybox", Cmd: []string{"sleep", "1000"}},
		State:  State{Status: Running, Running: true, Pid: 4242, StartedAt: started}}
	if err := s.Save(c); err != nil {
		t.Fatal(err)
	}
	return c
}

// onDisk reads the record as it is in the file, without load's judgement.
func onDisk(t *testing.T, s *Store, id string) State {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Dir(id), "container.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c Container
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.State
}

func wantDead(t *testing.T, what string, st State) {
	t.Helper()
	if st.Status != Exited || st.Running || st.Pid != 0 || st.ExitCode != 255 || st.Error != "the container's monitor died" || st.FinishedAt.IsZero() {
		t.Fatalf("%s: %+v, want exited (255) with the monitor's death", what, st)
	}
}

// TestDeadMonitorRecorded: a record that says running while no monitor holds its lock is read
// as exited (255) — and the first read records it, so that FinishedAt stays what it was when the
// death was noticed instead of moving with every read (ps -a showed "Exited (255) Less than a
// second ago" for ever).
func TestDeadMonitorRecorded(t *testing.T) {
	s := &Store{Root: t.TempDir()}
	c := runningRecord(t, s, time.Now().UTC().Add(-time.Minute))
	first, err := s.Get(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantDead(t, "first read", first.State)
	wantDead(t, "on disk after the first read", onDisk(t, s, c.ID))
	time.Sleep(20 * time.Millisecond)
	second, err := s.Get(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.List()
	if err != nil || len(all) != 1 {
		t.Fatalf("List: %d, %v", len(all), err)
	}
	disk := onDisk(t, s, c.ID)
	for what, got := range map[string]time.Time{"second read": second.State.FinishedAt, "List": all[0].State.FinishedAt, "the file": disk.FinishedAt} {
		if !got.Equal(first.State.FinishedAt) {
			t.Errorf("FinishedAt of %s is %v, the first read said %v", what, got, first.State.FinishedAt)
		}
	}
	if first.State.FinishedAt.Before(first.State.StartedAt) {
		t.Errorf("FinishedAt %v before StartedAt %v", first.State.FinishedAt, first.State.StartedAt)
	}
	// A start after it begins from the recorded exit: the record is whole.
	if second.Name != "web" || second.Config.Image != "busybox" || !second.State.StartedAt.Equal(c.State.StartedAt) {
		t.Errorf("the recorded death lost the rest of the record: %+v", second)
	}
}

// TestLiveMonitorUntouched: while a monitor holds its lock, the record is left as it is.
func TestLiveMonitorUntouched(t *testing.T) {
	s := &Store{Root: t.TempDir()}
	c := runningRecord(t, s, time.Now().UTC())
	ml, err := lockfile.TryExclusive(s.MonitorLockPath(c.ID))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.State.Running || got.State.Status != Running {
		t.Fatalf("with its monitor alive: %+v", got.State)
	}
	if st := onDisk(t, s, c.ID); !st.Running || !st.FinishedAt.IsZero() {
		t.Fatalf("the record of a live container was changed: %+v", st)
	}
	// The monitor dies: the next read records it.
	ml.Unlock()
	got, err = s.Get(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantDead(t, "after the monitor died", got.State)
	wantDead(t, "on disk", onDisk(t, s, c.ID))
}

// TestDeadMonitorContainerLocked: a reader that cannot take the container's lock (another
// writer holds it, or the reader itself, as GetLocked does) answers as before, from memory,
// without waiting and without failing; a later reader records the death.
func TestDeadMonitorContainerLocked(t *testing.T) {
	s := &Store{Root: t.TempDir()}
	c := runningRecord(t, s, time.Now().UTC())
	l, err := s.Lock(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *Container, 1)
	go func() {
		got, err := s.Get(c.ID)
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	select {
	case got := <-done:
		wantDead(t, "read with the container locked", got.State)
	case <-time.After(5 * time.Second):
		t.Fatal("a read waits for the container's lock")
	}
	if st := onDisk(t, s, c.ID); !st.Running {
		t.Fatalf("written without the container's lock: %+v", st)
	}
	// GetLocked reads under the lock it holds: no deadlock.
	l.Unlock()
	got, l2, err := s.GetLocked(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	l2.Unlock()
	wantDead(t, "GetLocked", got.State)
	wantDead(t, "on disk after GetLocked", onDisk(t, s, c.ID))
}

// TestDeadMonitorBeforeBoot: a container that was running when the machine stopped died before
// the machine started again: its FinishedAt is the boot, not the first read after it.
func TestDeadMonitorBeforeBoot(t *testing.T) {
	boot := bootTime(time.Now())
	if boot.IsZero() {
		t.Skip("no boot time")
	}
	s := &Store{Root: t.TempDir()}
	c := runningRecord(t, s, boot.Add(-time.Hour).UTC())
	got, err := s.Get(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantDead(t, "after a reboot", got.State)
	if d := got.State.FinishedAt.Sub(boot); d < -time.Second || d > time.Second {
		t.Fatalf("FinishedAt %v, want the boot %v", got.State.FinishedAt, boot)
	}
	// Started since the boot: the death is dated when it is noticed.
	c = runningRecord(t, s, time.Now().UTC().Add(-time.Second))
	before := time.Now()
	got, err = s.Get(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State.FinishedAt.Before(before.Add(-time.Millisecond)) || got.State.FinishedAt.After(time.Now()) {
		t.Fatalf("FinishedAt %v, want the time of the read (%v)", got.State.FinishedAt, before)
	}
}

// TestExitRecordedMeanwhile: a monitor that records the exit and ends between a reader's read
// of the record and its check of the lock: the reader reports (and records) the real exit, not
// the monitor's death.
func TestExitRecordedMeanwhile(t *testing.T) {
	s := &Store{Root: t.TempDir()}
	c := runningRecord(t, s, time.Now().UTC())
	stale := *c
	c.State = State{Status: Exited, ExitCode: 0, StartedAt: c.State.StartedAt, FinishedAt: time.Now().UTC()}
	if err := s.Save(c); err != nil {
		t.Fatal(err)
	}
	got := s.monitorDied(&stale, true)
	if got.State.Status != Exited || got.State.ExitCode != 0 || got.State.Error != "" || !got.State.FinishedAt.Equal(c.State.FinishedAt) {
		t.Fatalf("the exit recorded meanwhile: %+v", got.State)
	}
	if st := onDisk(t, s, c.ID); st.ExitCode != 0 || st.Error != "" {
		t.Fatalf("the recorded exit was overwritten: %+v", st)
	}
}
