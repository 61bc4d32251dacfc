package engine

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/hako-dev/hako/internal/container"
)

// UpdateOptions are `update`'s flags; nil leaves a setting alone.
type UpdateOptions struct {
	Memory    *int64 // bytes
	NanoCPUs  *int64
	PidsLimit *int64 // <= 0 unlimited
	Restart   *container.RestartPolicy
}

// Update changes a container's limits and restart policy. A running container's cgroup files are
// written at once (v1 or v2); the record keeps the values for its next start.
func (e *Engine) Update(ctx context.Context, ref string, o UpdateOptions) error {
	cs := e.Containers()
	c, l, err := cs.GetLocked(ref)
	if err != nil {
		return err
	}
	defer l.Unlock()
	if c.State.Running {
		g, err := containerCgroup(c)
		if err != nil {
			return err
		}
		if err := applyLimits(g, c, o); err != nil {
			return fmt.Errorf("update %s: %w", ref, err)
		}
	}
	so := &c.Config.Options
	if o.Memory != nil {
		so.Memory = *o.Memory
	}
	if o.NanoCPUs != nil {
		so.NanoCPUs = *o.NanoCPUs
	}
	if o.PidsLimit != nil {
		so.PidsLimit = *o.PidsLimit
	}
	if o.Restart != nil {
		c.Config.RestartPolicy = *o.Restart
	}
	return cs.Save(c)
}

const cfsPeriod = 100000 // µs, Docker's

func applyLimits(g cgroup, c *container.Container, o UpdateOptions) error {
	write := func(controller, name, v string) error {
		return os.WriteFile(g.file(controller, name), []byte(v), 0)
	}
	if o.Memory != nil {
		m := *o.Memory
		if g.v2 {
			v := "max"
			if m > 0 {
				v = strconv.FormatInt(m, 10)
			}
			if err := write("memory", "memory.max", v); err != nil {
				return err
			}
		} else {
			mem := strconv.FormatInt(m, 10)
			if m <= 0 {
				mem = "-1"
			}
			// memory+swap follows at twice the memory, Docker's default; the kernel wants
			// memsw >= memory at every step, so the order depends on the direction.
			swap := "-1"
			if m > 0 {
				swap = strconv.FormatInt(2*m, 10)
			}
			swapFile := g.file("memory", "memory.memsw.limit_in_bytes")
			_, serr := os.Stat(swapFile)
			hasSwap := serr == nil
			if hasSwap {
				os.WriteFile(swapFile, []byte(swap), 0) // fails when lowering: retried below
			}
			if err := write("memory", "memory.limit_in_bytes", mem); err != nil {
				return err
			}
			if hasSwap {
				if err := os.WriteFile(swapFile, []byte(swap), 0); err != nil {
					return err
				}
			}
		}
	}
	if o.NanoCPUs != nil {
		quota := int64(-1)
		if *o.NanoCPUs > 0 {
			quota = *o.NanoCPUs * cfsPeriod / 1e9
		}
		if g.v2 {
			v := "max"
			if quota > 0 {
				v = strconv.FormatInt(quota, 10)
			}
			if err := write("cpu", "cpu.max", v+" "+strconv.Itoa(cfsPeriod)); err != nil {
				return err
			}
		} else {
			if err := write("cpu", "cpu.cfs_period_us", strconv.Itoa(cfsPeriod)); err != nil {
				return err
			}
			if err := write("cpu", "cpu.cfs_quota_us", strconv.FormatInt(quota, 10)); err != nil {
				return err
			}
		}
	}
	if o.PidsLimit != nil {
		v := "max"
		if *o.PidsLimit > 0 {
			v = strconv.FormatInt(*o.PidsLimit, 10)
		}
		if err := write("pids", "pids.max", v); err != nil {
			return err
		}
	}
	return nil
}
