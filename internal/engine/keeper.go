package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/image"
	"github.com/hako-dev/hako/internal/lockfile"
	"github.com/hako-dev/hako/internal/logs"
	"github.com/hako-dev/hako/internal/monitor"
	"github.com/hako-dev/hako/internal/mount"
	"github.com/hako-dev/hako/internal/runtime"
	"golang.org/x/sys/unix"
)

// A detached container's monitor keeps a Go process resident only while it starts the
// container. Once the container runs, all that is left is to copy its output into the log, reap
// it and record its exit; the monitor then execs itself as the keeper (package monitor,
// keeper.c): the same process (the container's init stays its child, the monitor lock stays
// held), without the Go runtime, about 2 MB resident instead of about 12. When the container has
// exited and its output is drained, the keeper execs the Go monitor back (`__monitor --exited`),
// which records the exit, unmounts, and applies --rm or the restart policy (runMonitorExited).
//
// The monitor becomes the keeper only once the container has run for settleAfter, copying its
// output itself meanwhile: a container that ends sooner (`run -d x true`) would pay two execs
// and a second Go start for nothing. Only a detached container without a healthcheck gets a
// keeper: an attached one (`run` in the foreground, `start -a`) has its output teed to the
// command and its stdin or terminal served, and a healthcheck runs in Go; those keep the Go
// monitor. HAKO_MONITOR_KEEPER=off keeps it for every container (for tests that compare the
// two).

// monitorSelf is what a monitor process carries from one run of its container to the next:
// the monitor lock it holds for its whole life, and the restart back-off under way.
type monitorSelf struct {
	lock         *lockfile.Lock
	restartDelay time.Duration // 0: restartDelayMin
	// exitPending: the run's exit (its code and oomKilled) is not recorded yet, because the
	// container is to be removed (--rm); afterRun records it if the container stays.
	exitPending bool
	oomKilled   bool
	// runtimeDeleting, with exitPending: libcontainer's delete of the run (its cgroups and
	// state) still under way, which afterRun waits for once it has answered.
	runtimeDeleting <-chan struct{}
	// rootfs, with exitPending: the run's root filesystem, still mounted, which afterRun
	// unmounts once it has answered.
	rootfs string
}

// keeperFDsEnv names the keeper's descriptors for keeper.c: LOCK,STDOUT,STDERR, and EXE (this
// binary, to exec back) when the keeper runs from hako-keeper.
const keeperFDsEnv = "HAKO_KEEPER_FDS"

// keeperBinary is hako-keeper next to this process's executable (scripts/build.sh builds it from
// package monitor's keeper.c alone), or "" when there is none: the keeper then runs from this
// binary. A keeper lives as long as its container, and where the page cache holds hako-monitor in
// 2 MiB folios (tools/elfinstall), the few pages of C it runs map whole folios: ~8 MB resident
// from hako-monitor, ~1 MB from hako-keeper.
func keeperBinary() string {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return ""
	}
	k := filepath.Join(filepath.Dir(exe), "hako-keeper")
	if unix.Access(k, unix.X_OK) != nil {
		return ""
	}
	return k
}

// keeper are the pipes of a container whose monitor becomes its keeper once it runs.
type keeper struct {
	outR, errR, outW, errW *os.File
}

// newKeeper returns the output pipes of a container that will get a keeper, or nil when it
// keeps the Go monitor (see above).
func newKeeper(h monitor.Handoff, tty bool, c *container.Container, img *image.HealthConfig, o logs.Options) (*keeper, error) {
	if !monitor.KeeperAvailable || os.Getenv("HAKO_MONITOR_KEEPER") == "off" ||
		h.Stdout != nil || h.Stdin != nil || h.Control != nil || tty || healthConfig(c, img) != nil ||
		o.MaxFile > math.MaxInt32 { // what keeper.c takes
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

// copyOutput copies the container's output into lw (nil: nowhere) until both pipes end (EOF,
// or a read deadline); the channel is closed then.
func (k *keeper) copyOutput(lw *logs.Writer) <-chan struct{} {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range []struct {
		r      *os.File
		stream string
	}{{k.outR, "stdout"}, {k.errR, "stderr"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := io.Discard
			if lw != nil {
				w = lw.Stream(p.stream)
			}
			io.Copy(w, p.r) // to EOF, or to the read deadline settle sets
		}()
	}
	go func() { wg.Wait(); close(done) }()
	return done
}

// settle copies the container's output into lw while it waits up to d for pid, its init, to
// exit. If it did, settle reaps it, drains the output and returns its exit code and true: the
// Go monitor ends the run itself. Otherwise it stops the copying (what was read is written)
// and returns false: the monitor may become the keeper.
func (k *keeper) settle(pid int, lw *logs.Writer, d time.Duration) (int, bool) {
	copying := k.copyOutput(lw)
	exited := false
	if pfd, err := unix.PidfdOpen(pid, 0); err == nil {
		deadline := time.Now().Add(d)
		for {
			n, err := unix.Poll([]unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}, int(max(0, time.Until(deadline)/time.Millisecond)))
			if err == unix.EINTR {
				continue
			}
			exited = err == nil && n > 0
			break
		}
		unix.Close(pfd)
	}
	if exited {
		code := reap(pid)
		<-copying
		return code, true
	}
	now := time.Now()
	k.outR.SetReadDeadline(now)
	k.errR.SetReadDeadline(now)
	<-copying
	k.outR.SetReadDeadline(time.Time{})
	k.errR.SetReadDeadline(time.Time{})
	return 0, false
}

// reap waits for pid, a child, and returns its exit code in Docker's convention.
func reap(pid int) int {
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
			break
		}
	}
	return runtime.ExitCode(syscall.WaitStatus(ws))
}

// exec replaces the monitor with the keeper of the container whose init is pid. It returns only
// if the exec failed, with the process as it was.
func (k *keeper) exec(e *Engine, ms *monitorSelf, c *container.Container, pid int, o logs.Options, volatile string) error {
	lock := ms.lock.File()
	if lock == nil {
		return errors.New("keeper: no monitor lock")
	}
	// The keeper's descriptors are 3 the lock, 4 and 5 the output pipes. They are handed over
	// at numbers of their own, not close-on-exec, named in HAKO_KEEPER_FDS, and keeper.c moves
	// them to 3, 4 and 5 before anything else: this process cannot move them there itself,
	// as other threads may be using what it holds at those numbers (a monitor in the run's own
	// process has its Go runtime's descriptors there; package cli, runfork.c). Everything else
	// it holds is close-on-exec: Go opens all it opens so, and hako's main made the inherited
	// ones so. Not those three: ForkLock keeps another goroutine's process start from
	// inheriting them meanwhile.
	// From hako-keeper, a fourth: this binary (O_PATH), which the keeper execs back.
	bin, fds := keeperBinary(), []*os.File{lock, k.outR, k.errR}
	if bin != "" {
		self, err := os.OpenFile("/proc/self/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("keeper: %w", err)
		}
		defer self.Close()
		fds = append(fds, self)
	}
	syscall.ForkLock.Lock()
	defer syscall.ForkLock.Unlock() // held only if the exec failed
	high := make([]int, 0, len(fds))
	defer func() {
		for _, h := range high {
			unix.Close(h)
		}
	}()
	for _, f := range fds {
		h, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD, 100)
		if err != nil {
			return fmt.Errorf("keeper: %w", err)
		}
		high = append(high, h)
	}
	names := make([]string, len(high))
	for i, h := range high {
		names[i] = strconv.Itoa(h)
	}
	env := slices.DeleteFunc(os.Environ(), func(v string) bool { return strings.HasPrefix(v, keeperFDsEnv+"=") })
	env = append(env, keeperFDsEnv+"="+strings.Join(names, ","))
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
	if bin == "" {
		bin = "/proc/self/exe"
	}
	err := unix.Exec(bin, argv, env)
	return fmt.Errorf("keeper: exec: %w", err)
}

// waitSelf is the Go monitor doing the keeper's work, when the exec failed: copy the output
// into the log and reap pid.
func (k *keeper) waitSelf(pid int, lw *logs.Writer) int {
	copying := k.copyOutput(lw)
	code := reap(pid)
	<-copying
	return code
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
	code := runtime.ExitCode(ws)
	oomKilled := false
	if rt, err := e.NewRuntime(); err == nil {
		oomKilled, _ = rt.OOMKilled(id) // from the cgroups, before they go
		rt.Delete(id, true)
	}
	rootfs := filepath.Join(cs.Dir(id), "rootfs")
	c, err := cs.Get(id)
	if err != nil {
		mount.Unmount(rootfs)
		return err
	}
	c = e.recordExit(c, code, oomKilled)
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
