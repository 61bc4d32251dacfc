package engine

import (
	"context"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/errdefs"
)

// Pause freezes every process of a running container (the freezer cgroup) and records it, so
// that ps shows "Up … (Paused)" and exec is refused until Unpause.
func (e *Engine) Pause(ctx context.Context, ref string) error {
	return e.setPaused(ref, true)
}

// Unpause thaws a paused container.
func (e *Engine) Unpause(ctx context.Context, ref string) error {
	return e.setPaused(ref, false)
}

func (e *Engine) setPaused(ref string, pause bool) error {
	cs := e.Containers()
	c, l, err := cs.GetLocked(ref)
	if err != nil {
		return err
	}
	defer l.Unlock()
	switch {
	case !c.State.Running:
		return errdefs.Conflictf("container %s is not running", c.ID)
	case pause && c.State.Paused:
		return errdefs.Conflictf("container %s is already paused", c.ID)
	case !pause && !c.State.Paused:
		return errdefs.Conflictf("container %s is not paused", c.ID)
	}
	rt, err := e.NewRuntime()
	if err != nil {
		return err
	}
	if pause {
		err = rt.Pause(c.ID)
	} else {
		err = rt.Resume(c.ID)
	}
	if err != nil {
		return err
	}
	c.State.Paused = pause
	c.State.Status = container.Running
	if pause {
		c.State.Status = container.Paused
	}
	return cs.Save(c)
}
