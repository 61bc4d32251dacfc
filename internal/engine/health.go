package engine

import (
	"bytes"
	"context"
	"slices"
	"syscall"
	"time"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/image"
)

// Docker's health check defaults and limits.
const (
	healthDefaultInterval      = 30 * time.Second
	healthDefaultTimeout       = 30 * time.Second
	healthDefaultStartInterval = 5 * time.Second
	healthDefaultRetries       = 3
	healthMaxLog               = 5
	healthMaxOutput            = 4096
)

// healthConfig merges the --health-* flags over the image's HEALTHCHECK; nil means no check.
func healthConfig(c *container.Container, img *image.HealthConfig) *container.HealthConfig {
	h := container.HealthConfig{}
	if img != nil {
		h = container.HealthConfig{Test: img.Test, Interval: img.Interval, Timeout: img.Timeout,
			StartPeriod: img.StartPeriod, StartInterval: img.StartInterval, Retries: img.Retries}
	}
	if o := c.Config.Healthcheck; o != nil {
		if len(o.Test) > 0 {
			h.Test = o.Test
		}
		if o.Interval > 0 {
			h.Interval = o.Interval
		}
		if o.Timeout > 0 {
			h.Timeout = o.Timeout
		}
		if o.StartPeriod > 0 {
			h.StartPeriod = o.StartPeriod
		}
		if o.StartInterval > 0 {
			h.StartInterval = o.StartInterval
		}
		if o.Retries > 0 {
			h.Retries = o.Retries
		}
	}
	if len(h.Test) == 0 || h.Test[0] == "NONE" || (h.Test[0] != "CMD" && h.Test[0] != "CMD-SHELL") || len(h.Test) < 2 {
		return nil
	}
	if h.Interval <= 0 {
		h.Interval = healthDefaultInterval
	}
	if h.Timeout <= 0 {
		h.Timeout = healthDefaultTimeout
	}
	if h.StartInterval <= 0 {
		h.StartInterval = healthDefaultStartInterval
	}
	if h.Retries <= 0 {
		h.Retries = healthDefaultRetries
	}
	return &h
}

// startHealthcheck runs the container's health check from its monitor while the container
// runs: each probe is an exec in the container (the same path as `hako exec`, so it has the
// container's namespaces, capabilities and seccomp filter). The status, starting until the first
// success, healthy, or unhealthy after Retries failures in a row (failures within the start
// period do not count), and the last five results go to the record's State.Health, which ps and
// inspect show. The returned function stops the checks.
func (e *Engine) startHealthcheck(c *container.Container, img *image.HealthConfig) (stop func()) {
	h := healthConfig(c, img)
	if h == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	started := time.Now()
	e.saveHealth(c.ID, func(s *container.Health) {
		*s = container.Health{Status: container.HealthStarting, Log: []container.HealthResult{}}
	})
	go func() {
		defer close(done)
		for {
			wait := h.Interval
			inStart := time.Since(started) < h.StartPeriod
			if inStart {
				wait = h.StartInterval
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			res := e.probe(ctx, c.ID, h)
			if ctx.Err() != nil {
				return
			}
			inStart = time.Since(started) < h.StartPeriod
			e.saveHealth(c.ID, func(s *container.Health) {
				s.Log = append(s.Log, res)
				if len(s.Log) > healthMaxLog {
					s.Log = slices.Clone(s.Log[len(s.Log)-healthMaxLog:])
				}
				switch {
				case res.ExitCode == 0:
					s.Status, s.FailingStreak = container.HealthHealthy, 0
				case inStart && s.Status == container.HealthStarting:
					// The start period forgives failures.
				default:
					s.FailingStreak++
					if s.FailingStreak >= h.Retries {
						s.Status = container.HealthUnhealthy
					}
				}
			})
		}
	}()
	return func() { cancel(); <-done }
}

// probe runs the check once.
func (e *Engine) probe(ctx context.Context, id string, h *container.HealthConfig) container.HealthResult {
	res := container.HealthResult{Start: time.Now().UTC()}
	cmd := h.Test[1:]
	if h.Test[0] == "CMD-SHELL" {
		cmd = []string{"/bin/sh", "-c", h.Test[1]}
	}
	var out limitedBuffer
	p, err := e.Exec(ctx, id, ExecOptions{Cmd: cmd, Stdout: &out, Stderr: &out})
	if err != nil {
		res.End, res.ExitCode, res.Output = time.Now().UTC(), -1, err.Error()
		return res
	}
	exited := make(chan int, 1)
	go func() { code, _ := p.Wait(); exited <- code }()
	select {
	case code := <-exited:
		res.ExitCode, res.Output = code, out.String()
	case <-time.After(h.Timeout):
		p.Signal(syscall.SIGKILL)
		<-exited
		res.ExitCode, res.Output = -1, "Health check exceeded timeout ("+h.Timeout.String()+")"
	case <-ctx.Done():
		p.Signal(syscall.SIGKILL)
		<-exited
	}
	res.End = time.Now().UTC()
	return res
}

// saveHealth updates State.Health of a running container under its lock.
func (e *Engine) saveHealth(id string, fn func(*container.Health)) {
	cs := e.Containers()
	l, err := cs.Lock(id)
	if err != nil {
		return
	}
	defer l.Unlock()
	c, err := cs.Get(id)
	if err != nil || !c.State.Running {
		return
	}
	if c.State.Health == nil {
		c.State.Health = &container.Health{Log: []container.HealthResult{}}
	}
	fn(c.State.Health)
	cs.Save(c)
}

// limitedBuffer keeps the first healthMaxOutput bytes of a probe's output, as Docker does.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := healthMaxOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
