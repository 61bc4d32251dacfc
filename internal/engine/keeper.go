package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/image"
	"github.com/hako-dev/hako/internal/lockfile"
	"github.com/hako-dev/hako/internal/logs"
	"github.com/hako-dev/hako/internal/monitor"
	"github.com/hako-dev/hako/internal/runtime"
	"golang.org/x/sys/unix"
)

// A detached container's monitor keeps a Go process resident only while it starts the
// container. Once the container runs, all that is left is to copy its output into the log, reap
// it and record its exit; the monitor then execs itself as the keeper (package monitor,
// keeper.c): the same process (the container's init stays its child, the monitor lock stays
// held), without the Go runtime, about 1 MB resident instead of about 12. When the container has
// exited and its output is drained, the keeper execs the Go monitor back (`__monitor --exited`),
// which records the exit, unmounts, and applies --rm or the restart policy (runMonitorExited).
//
// Only a detached container without a healthcheck gets a keeper: an attached one (`run` in the
// foreground, `start -a`) has its output teed to the command and its stdin or terminal served,
// and a healthcheck runs in Go; those keep the Go monitor. HAKO_MONITOR_KEEPER=off keeps it for
// every container (for tests that compare the two).

// monitorSelf is what a monitor process carries from one run of its container to the next:
// the monitor lock it holds for its whole life, and the restart back-off under way.
type monitorSelf struct {
	lock         *lockfile.Lock
	restartDelay time.Duration // 0: restartDelayMin
}

// keeper are the pipes of a container whose monitor becomes its keeper once it runs.
type keeper struct {
	outR, errR, outW, errW *os.File
}

// newKeeper returns the output pipes of a container that will get a keeper, or nil when it
// keeps the Go monitor (see above).
func newKeeper(h monitor.Handoff, tty bool, c *container.Container, img *image.HealthConfig) (*keeper, error) {
	if !monitor.KeeperAvailable || os.Getenv("HAKO_MONITOR_KEEPER") == "off" ||
		h.Stdout != nil || h.Stdin != nil || h.Control != nil || tty || healthConfig(c, img) != nil {
		return nil, nil
	}
	k := &keeper{}
	var err error
	if k.outR, k.outW, err = os.Pipe(); err != nil {
		return nil, err
	}
	if k.errR, k.errW, err = os.Pipe(); err != nil {
		k.close()
		return nil, err
	}
	return k, nil
}

// closeChild closes the write ends, which the container has once it was started.
func (k *keeper) closeChild() {
	k.outW.Close()
	k.errW.Close()
}

func (k *keeper) close() {
	for _, f := range []*os.File{k.outR, k.errR, k.outW, k.errW} {
		if f != nil {
			f.Close()
		}
	}
}

// exec replaces the monitor with the keeper of the container whose init is pid. It returns only
// if the exec failed, with the pipes untouched.
func (k *keeper) exec(e *Engine, ms *monitorSelf, c *container.Container, pid int, o logs.Options, volatile string) error {
	lock := ms.lock.File()
	if lock == nil {
		return errors.New("keeper: no monitor lock")
	}
	// The keeper's descriptors: 3 the lock, 4 and 5 the output pipes, nothing else. Moved out of
	// the way first, so that no target overwrites a source.
	var high [3]int
	for i, f := range []*os.File{lock, k.outR, k.errR} {
		fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 100)
		if err != nil {
			for _, h := range high[:i] {
				unix.Close(h)
			}
			return fmt.Errorf("keeper: %w", err)
		}
		high[i] = fd
	}
	defer func() {
		for _, h := range high {
			unix.Close(h)
		}
	}()
	for i, h := range high {
		if err := unix.Dup3(h, 3+i, 0); err != nil {
			return fmt.Errorf("keeper: %w", err)
		}
	}
	// Whatever else the monitor inherited without close-on-exec (the handoff's pipes).
	unix.CloseRange(6, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	delay := ms.restartDelay
	if delay == 0 {
		delay = restartDelayMin
	}
	argv := []string{os.Args[0], "__keep", strconv.Itoa(pid), e.LogPath(c.ID),
		strconv.FormatInt(o.MaxSize, 10), strconv.Itoa(o.MaxFile),
		// The command line it execs back once the container has exited, with the wait status
		// appended (runMonitorMain).
		"--root", e.Root, "--snapshotter", e.Snapshotter, "__monitor", "--exited",
		"--restart-delay", delay.String(), "--volatile", volatile, "--", c.ID}
	Phase("monitor: exec keeper")
	err := unix.Exec("/proc/self/exe", argv, os.Environ())
	// Still the Go monitor: the descriptors 3 to 5 are only copies, left for the next attempt.
	return fmt.Errorf("keeper: exec: %w", err)
}

// waitSelf is the Go monitor doing the keeper's work, when the exec failed: copy the output
// into the log and reap pid.
func (k *keeper) waitSelf(pid int, lw *logs.Writer) int {
	done := make(chan struct{}, 2)
	for _, p := range []struct {
		r      *os.File
		stream string
	}{{k.outR, "stdout"}, {k.errR, "stderr"}} {
		go func() {
			buf := make([]byte, 32*1024)
			w := lw.Stream(p.stream)
			for {
				n, err := p.r.Read(buf)
				if n > 0 {
					w.Write(buf[:n])
				}
				if err != nil {
					break
				}
			}
			done <- struct{}{}
		}()
	}
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			break
		}
	}
	<-done
	<-done
	return runtime.ExitCode(syscall.WaitStatus(ws))
}

// runMonitorExited is the Go monitor again, exec'd by the keeper once the container's init
// (reaped, with wait status ws) has exited: it records the exit and carries on as RunMonitor
// does after a run. lock is the monitor lock the keeper held.
func (e *Engine) runMonitorExited(ctx context.Context, id string, ws syscall.WaitStatus, ms *monitorSelf, volatile string) error {
	Phase("monitor: back from the keeper")
	defer ms.lock.Unlock()
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	signalIgnore()
	cs := e.Containers()
	c, err := cs.Get(id)
	if err != nil {
		return err
	}
	code := runtime.ExitCode(ws)
	oomKilled := false
	if rt, err := runtime.New(e.runtimeRoot()); err == nil {
		oomKilled, _ = rt.OOMKilled(id) // from the cgroups, before they go
		rt.Delete(id, true)
	}
	c = e.recordExit(c, code, oomKilled)
	rootfs := filepath.Join(cs.Dir(c.ID), "rootfs")
	e.unmountRootfs(c, rootfs, nil, volatile)
	e.afterRun(ctx, c, monitor.Handoff{}, code, ms)
	return nil
}

// parseExited reads the arguments the keeper passes back: --restart-delay D --volatile DIR
// -- ID STATUS.
func parseExited(delay string, rest []string) (id string, ws syscall.WaitStatus, d time.Duration, err error) {
	if len(rest) != 2 {
		return "", 0, 0, fmt.Errorf("monitor --exited: want ID and wait status, got %q", rest)
	}
	n, err := strconv.ParseUint(rest[1], 10, 32)
	if err != nil {
		return "", 0, 0, fmt.Errorf("monitor --exited: wait status %q: %w", rest[1], err)
	}
	if d, err = time.ParseDuration(delay); err != nil {
		return "", 0, 0, fmt.Errorf("monitor --exited: --restart-delay %q: %w", delay, err)
	}
	return rest[0], syscall.WaitStatus(n), d, nil
}
