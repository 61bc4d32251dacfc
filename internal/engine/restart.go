package engine

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/monitor"
)

// Docker's restart back-off: 100 ms, doubled after each restart up to a minute, back to 100 ms
// once a run lasted 10 seconds.
const (
	restartDelayMin   = 100 * time.Millisecond
	restartDelayMax   = time.Minute
	restartResetAfter = 10 * time.Second
)

// keepRestarting is the monitor's restart loop, entered after the container's first run ended
// with code: while the restart policy asks for another run and nobody stopped the container, it
// waits out the back-off (the record says "restarting") and runs the container again, counting
// RestartCount. The monitor keeps its lock all along, so a monitor killed in the loop reads as
// exited.
func (e *Engine) keepRestarting(ctx context.Context, id string, code int, ms *monitorSelf) {
	cs := e.Containers()
	delay := restartDelayMin
	if ms.restartDelay > 0 { // the back-off under way before this monitor became a keeper
		delay = ms.restartDelay
	}
	for {
		c, err := cs.Get(id)
		if err != nil || e.manuallyStopped(id) || !shouldRestart(c, code) {
			return
		}
		if c.State.FinishedAt.Sub(c.State.StartedAt) >= restartResetAfter {
			delay = restartDelayMin
		}
		c.State.Restarting, c.State.Status = true, container.Restarting
		if cs.Save(c) != nil {
			return
		}
		stopped := e.sleepUnlessStopped(id, delay)
		delay = min(delay*2, restartDelayMax)
		if c, err = cs.Get(id); err != nil {
			return
		}
		if stopped || e.manuallyStopped(id) {
			c.State.Restarting, c.State.Status = false, container.Exited
			cs.Save(c)
			return
		}
		c.RestartCount++
		c.State.Restarting = false
		if cs.Save(c) != nil {
			return
		}
		ms.restartDelay = delay
		code, _ = e.startContainer(ctx, c, monitor.Handoff{}, ms)
		e.recordPendingExit(c, code, ms) // a --rm container is not restarted: kept, it has its exit
	}
}

// shouldRestart applies the policy to a run that ended with code.
func shouldRestart(c *container.Container, code int) bool {
	switch p := c.Config.RestartPolicy; p.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (p.MaximumRetryCount == 0 || c.RestartCount < p.MaximumRetryCount)
	}
	return false
}

// sleepUnlessStopped waits d, and reports early whether stop or kill marked the container.
func (e *Engine) sleepUnlessStopped(id string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if e.manuallyStopped(id) {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(left, 50*time.Millisecond))
	}
}

// The mark that stop and kill leave for the monitor's restart loop and for Boot, and that start
// lifts, is a file of its own beside the record: creating or removing it cannot race with the
// monitor's read-modify-write of the record.
func (e *Engine) manuallyStoppedPath(id string) string {
	return filepath.Join(e.Containers().Dir(id), "stopped-by-user")
}

func (e *Engine) manuallyStopped(id string) bool {
	_, err := os.Lstat(e.manuallyStoppedPath(id))
	return err == nil
}

func (e *Engine) setManuallyStopped(id string, v bool) {
	p := e.manuallyStoppedPath(id)
	if !v {
		os.Remove(p)
		return
	}
	if f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		f.Close()
	}
}

// stopRestarts marks the container stopped by the user and, while its monitor lives but the
// container is between two runs, waits until the monitor either gives up (it checks the mark
// before each start) or started it again, so that stop can kill that run. It returns the
// container as it then is.
func (e *Engine) stopRestarts(ctx context.Context, c *container.Container) (*container.Container, error) {
	e.setManuallyStopped(c.ID, true)
	cs := e.Containers()
	deadline := time.Now().Add(5 * time.Second)
	for !c.State.Running && cs.MonitorAlive(c.ID) && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		fresh, err := cs.Get(c.ID)
		if err != nil {
			return nil, err
		}
		c = fresh
	}
	return c, nil
}

// Boot starts, after the machine restarted, the containers whose restart policy is "always", or
// "unless-stopped" when the user had not stopped them: with no daemon, this is what the boot's
// service manager runs (`hako system boot`; docs/boot.md has a systemd unit). It returns the
// containers started and the errors of those that did not start. Containers run with --rm that
// were running when the machine stopped are removed, as dockerd does when it starts.
func (e *Engine) Boot(ctx context.Context) (started []string, errs []error) {
	list, err := e.Containers().List()
	if err != nil {
		return nil, []error{err}
	}
	for _, c := range list {
		if c.Config.AutoRemove && !c.State.StartedAt.IsZero() && !e.Containers().MonitorAlive(c.ID) {
			// A --rm container that ran when the machine stopped: its monitor never removed
			// it. dockerd removes these when it starts again; so does the boot.
			e.autoRemove(c)
			continue
		}
		p := c.Config.RestartPolicy.Name
		if c.State.Running || c.State.Restarting || e.Containers().MonitorAlive(c.ID) || !(p == "always" || p == "unless-stopped" && !e.manuallyStopped(c.ID)) {
			continue
		}
		if _, err := e.Start(ctx, c.ID, nil); err != nil {
			errs = append(errs, err)
			continue
		}
		started = append(started, c.Name)
	}
	return started, errs
}
