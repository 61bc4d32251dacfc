package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/errdefs"
)

// ContainerPruneFilters are `container prune --filter`'s: until=TIME, label=K[=V], label!=K[=V].
type ContainerPruneFilters struct {
	Until     time.Time // prune only containers created before; zero for all
	Labels    []string  // each must match
	NotLabels []string  // none may match
}

// PruneContainers is `container prune`: it removes every container that is not running and
// matches the filters, and returns their IDs and the space their writable layers took.
func (e *Engine) PruneContainers(ctx context.Context, f ContainerPruneFilters) ([]string, int64, error) {
	all, err := e.Containers().List()
	if err != nil {
		return nil, 0, err
	}
	var deleted []string
	var reclaimed int64
	var errs []string
	for _, c := range all {
		if c.State.Running || c.State.Restarting || c.State.Paused || !pruneMatch(c, f) {
			continue
		}
		size, _ := e.containerSize(ctx, c)
		// Read it again: another hako may have started or removed it since the listing.
		fresh, err := e.Containers().Get(c.ID)
		if err != nil || fresh.State.Running || fresh.State.Restarting {
			continue
		}
		if err := e.removeContainer(ctx, fresh); err != nil {
			if !errors.Is(err, errdefs.ErrNotFound) {
				errs = append(errs, err.Error())
			}
			continue
		}
		deleted = append(deleted, c.ID)
		reclaimed += size
	}
	if len(errs) > 0 {
		return deleted, reclaimed, errors.New(strings.Join(errs, "; "))
	}
	return deleted, reclaimed, nil
}

func pruneMatch(c *container.Container, f ContainerPruneFilters) bool {
	if !f.Until.IsZero() && !c.Created.Before(f.Until) {
		return false
	}
	for _, l := range f.Labels {
		if !hasLabel(c, l) {
			return false
		}
	}
	for _, l := range f.NotLabels {
		if hasLabel(c, l) {
			return false
		}
	}
	return true
}

// hasLabel matches K or K=V against the container's labels.
func hasLabel(c *container.Container, l string) bool {
	k, v, hasV := strings.Cut(l, "=")
	got, ok := c.Config.Labels[k]
	return ok && (!hasV || got == v)
}

// Restart is `restart`: stop (the stop signal, then SIGKILL after timeout) and start again.
// A container that is not running is just started, as Docker does.
func (e *Engine) Restart(ctx context.Context, ref string, timeout *int) error {
	c, err := e.Containers().Get(ref)
	if err != nil {
		return err
	}
	if c.Config.AutoRemove {
		// The monitor removes a --rm container when it exits; a restart is not that exit.
		mark := e.restartMark(c.ID)
		if err := os.WriteFile(mark, nil, 0o600); err != nil {
			return fmt.Errorf("restart %s: %w", ref, err)
		}
		defer os.Remove(mark)
	}
	if err := e.Stop(ctx, c.ID, timeout); err != nil {
		return err
	}
	// The monitor records the exit and unmounts after the process ends: wait until it is gone,
	// or the new monitor would find the old one's lock held.
	deadline := time.Now().Add(10 * time.Second)
	for e.Containers().MonitorAlive(c.ID) && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	_, err = e.Start(ctx, c.ID, nil)
	return err
}

func (e *Engine) restartMark(id string) string {
	return filepath.Join(e.Containers().Dir(id), "restarting")
}

// restarting tells the monitor of a --rm container that `restart` stopped it.
func (e *Engine) restarting(id string) bool {
	_, err := os.Stat(e.restartMark(id))
	return err == nil
}
