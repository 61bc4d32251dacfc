package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/lockfile"
	"github.com/hako-dev/hako/internal/logs"
	"github.com/hako-dev/hako/internal/monitor"
	"github.com/hako-dev/hako/internal/mount"
	"github.com/hako-dev/hako/internal/ocijson"
	"github.com/hako-dev/hako/internal/runtime"
	"github.com/hako-dev/hako/internal/spec"
	"github.com/hako-dev/hako/internal/stdiofile"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// runtimeRoot is the runtime's state directory (runtimedir.go), without symlinks.
func (e *Engine) runtimeRoot() string { return e.runtime }

// NewRuntime is the runtime of this store: its state in the runtime directory, its seccomp
// cache in the store.
func (e *Engine) NewRuntime() (*runtime.Runtime, error) {
	rt, err := runtime.New(e.runtimeRoot())
	if err == nil {
		rt.SeccompCache = seccompCacheDir(e.Root)
	}
	return rt, err
}

// seccompCacheDir is the seccomp cache of the store at root (NewRuntime gives it to the
// runtime), which also keeps the kernel probe's answer (spec.ProbeKernel): in the store, as it
// outlives a boot, where the runtime's state does not.
func seccompCacheDir(root string) string { return filepath.Join(root, "seccomp-cache") }

func (e *Engine) deleteRuntimeState(id string) {
	if rt, err := e.NewRuntime(); err == nil {
		rt.Delete(id, true)
	}
}

// LogPath is the container's json-file log.
func (e *Engine) LogPath(id string) string {
	return filepath.Join(e.Containers().Dir(id), id+"-json.log")
}

// Attach is a foreground run's stdio, handed to the monitor.
type Attach struct {
	Stdin          *os.File // nil unless -i
	Stdout, Stderr *os.File
	// ConsoleWidth and ConsoleHeight are the terminal's size for a -t container (0: unknown).
	ConsoleWidth, ConsoleHeight uint16
	// Resize, for a -t container, carries later sizes (columns, rows) to the monitor until it
	// is closed or the container ends.
	Resize <-chan [2]uint16
}

// Start starts a created or exited container by spawning its monitor, and returns once the
// container's process runs (or failed to start: then the error says why, classed 126/127 as
// Docker's). With attach, it returns a channel that yields the exit code.
func (e *Engine) Start(ctx context.Context, ref string, attach *Attach) (<-chan int, error) {
	c, err := e.Containers().Get(ref)
	if err != nil {
		return nil, err
	}
	if c.State.Running {
		if attach == nil {
			return nil, nil // docker start of a running container is a no-op
		}
		return nil, errdefs.Conflictf("container %s is already running", c.Name)
	}
	e.setManuallyStopped(c.ID, false) // start lifts a stop for the restart policy (restart.go)
	m, err := e.SpawnMonitor(attach)
	if err != nil {
		return nil, err
	}
	return m.Start(ctx, c.ID)
}

// PendingMonitor is a monitor process started before its container is known: `run` spawns it
// first and creates the container while the monitor's own start-up (a Go process: 15-20 ms
// here, most of it page faults) runs on the other core. It waits for the container's ID on a
// pipe; Start hands it over, Abort (or the command's death) closes the pipe and the monitor
// exits without touching anything.
type PendingMonitor struct {
	path               string // its executable
	attach             *Attach
	readyR, exitR, idW *os.File
	ctlR               *os.File // the control pipe's read end, handed to the monitor (-t)
	// In this process (InProcessMonitor): the handoff, done, closed when the monitor ends, and
	// handedOver, closed by HandOver.
	inProcess  *monitor.Handoff
	engine     *Engine
	done       chan struct{}
	handedOver chan struct{}
	drained    chan struct{} // closed once the forwarded signals that would end it are caught
}

// handoffFiles are the descriptors made for a monitor's hand-off, closed together when a later
// step fails.
type handoffFiles []*os.File

func (o *handoffFiles) pipe() (r, w *os.File, err error) {
	if r, w, err = os.Pipe(); err == nil {
		*o = append(*o, r, w)
	}
	return r, w, err
}

func (o handoffFiles) fail(err error) (*PendingMonitor, error) {
	for _, f := range o {
		f.Close()
	}
	return nil, err
}

// SpawnMonitor starts a monitor that waits for its container (see PendingMonitor).
func (e *Engine) SpawnMonitor(attach *Attach) (*PendingMonitor, error) {
	path, err := MonitorExecutable()
	if err != nil {
		return nil, err
	}
	var opened handoffFiles
	readyR, readyW, err := opened.pipe()
	if err != nil {
		return opened.fail(err)
	}
	exitR, exitW, err := opened.pipe()
	if err != nil {
		return opened.fail(err)
	}
	// Exactly this prefix, for hako-monitor as for hako: MonitorMain expects it, and hako's
	// CLI recognises a monitor by it.
	args := []string{"--root", e.Root, "--snapshotter", e.Snapshotter, "__monitor"}
	extra := []*os.File{readyW, exitW}
	var ctlR *os.File
	if attach != nil {
		args = append(args, "--attach")
		extra = append(extra, attach.Stdout, attach.Stderr)
		if attach.Stdin != nil {
			args = append(args, "--stdin")
			extra = append(extra, attach.Stdin)
		}
		if attach.ConsoleWidth > 0 && attach.ConsoleHeight > 0 {
			args = append(args, "--console-size", monitor.FormatConsoleSize(attach.ConsoleWidth, attach.ConsoleHeight))
		}
		if attach.Resize != nil {
			var ctlW *os.File
			if ctlR, ctlW, err = opened.pipe(); err != nil {
				return opened.fail(err)
			}
			args = append(args, "--control")
			extra = append(extra, ctlR)
			go forwardResizes(attach.Resize, ctlW)
		}
	}
	idR, idW, err := opened.pipe()
	if err != nil {
		return opened.fail(err)
	}
	extra = append(extra, idR) // the last descriptor (monitor.HandoffFromFDs)
	cmd := exec.Command(path, append(args, "--", monitorIDPlaceholder)...)
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	if os.Getenv("HAKO_DEBUG") != "" {
		cmd.Stderr = os.Stderr // the monitor's timing lines (timing.go)
	}
	Phase("start: spawn monitor")
	if err := cmd.Start(); err != nil {
		return opened.fail(fmt.Errorf("start monitor: %w", err))
	}
	readyW.Close()
	exitW.Close()
	idR.Close()
	go cmd.Wait() // reap it if it ends while we are still here; it normally outlives us
	return &PendingMonitor{path: path, attach: attach, readyR: readyR, exitR: exitR, idW: idW, ctlR: ctlR}, nil
}

// InProcessMonitor is a monitor that runs in this process once Start hands it its container:
// the same code as a spawned one (RunMonitor), on the same pipes, but no second Go process to
// start. It is for the child of `run`'s fork (package cli, runfork.c), which stays as the
// container's monitor once its command's part is done; attach must have no stdin and no
// terminal. Done tells when it has ended: the process must live until then.
func (e *Engine) InProcessMonitor(attach *Attach) (*PendingMonitor, error) {
	if attach != nil && (attach.Stdin != nil || attach.Resize != nil) {
		return nil, errors.New("an in-process monitor serves no stdin and no terminal")
	}
	var opened handoffFiles
	readyR, readyW, err := opened.pipe()
	if err != nil {
		return opened.fail(err)
	}
	handedOver := make(chan struct{})
	h := &monitor.Handoff{Ready: readyW, HandedOver: handedOver}
	m := &PendingMonitor{path: "the in-process monitor", attach: attach, readyR: readyR, inProcess: h, engine: e,
		done: make(chan struct{}), handedOver: handedOver}
	if attach != nil {
		if m.exitR, h.Exit, err = opened.pipe(); err != nil {
			return opened.fail(err)
		}
		// Copies, which the monitor closes once the container's output is drained, while
		// the command's own descriptors stay whatever it makes of them.
		for _, c := range []struct {
			dst **os.File
			src *os.File
		}{{&h.Stdout, attach.Stdout}, {&h.Stderr, attach.Stderr}} {
			fd, err := unix.FcntlInt(c.src.Fd(), unix.F_DUPFD_CLOEXEC, 3)
			if err != nil {
				return opened.fail(fmt.Errorf("in-process monitor: %w", err))
			}
			*c.dst = os.NewFile(uintptr(fd), c.src.Name())
			opened = append(opened, *c.dst)
		}
	}
	Phase("start: in-process monitor")
	// The signals the command's parent forwards (runfork.c) must not end the monitor once it
	// runs a container: a foreground run proxies them to the container meanwhile (package
	// cli), and SIGINT and SIGTERM cancel the command's context; the rest are dropped here,
	// before and after. A spawned monitor, in a session of its own, never gets them. Caught
	// on another core, while the container is created (Start waits for it): signal.Notify
	// takes a round trip to the runtime's signal thread per signal, 0.4 to 2 ms here when
	// the cores are busy; until then such a signal ends the command, as it would before
	// hako's start.
	m.drained = make(chan struct{})
	go func() {
		drain := make(chan os.Signal, 4)
		signal.Notify(drain, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
		close(m.drained)
		for range drain {
		}
	}()
	warmMonitor(e.Root)
	runtime.PrepareSeal(e.runtimeRoot())
	return m, nil
}

// warmMonitor starts, as a monitor of the store at root starts, what its container's start
// would otherwise wait for, while the command creates the container: the kernel probes of
// Docker's seccomp profile (a fork and exec, once per boot) and the os package's check that
// pidfds work (a child cloned and reaped, once per process: S's start was the first).
func warmMonitor(root string) {
	spec.SetKernelCache(seccompCacheDir(root))
	go spec.ProbeKernel()
	go runtime.WarmPidfd()
}

// Done is closed when an in-process monitor has ended (nil for a spawned one).
func (m *PendingMonitor) Done() <-chan struct{} { return m.done }

// OnExit has an in-process monitor call f with the container's exit code as soon as a run of
// it is over (monitor.Handoff's Exited), before Start's channel has it. Call it before Start;
// a spawned monitor has no use for it.
func (m *PendingMonitor) OnExit(f func(code int)) {
	if m.inProcess != nil {
		m.inProcess.Exited = f
	}
}

// HandOver tells an in-process monitor that the command's part is done (monitor.Handoff's
// HandedOver). It can be called once.
func (m *PendingMonitor) HandOver() { close(m.handedOver) }

// ErrMonitorGone is Start's error when the monitor ended without a word on its ready pipe
// (it died, or is not a monitor at all): nothing supervises the container, which was not
// started, or not to the end (nor, with --rm, removed).
var ErrMonitorGone = errors.New("the container's monitor is gone")

// Abort tells the monitor there is no container for it: it exits.
func (m *PendingMonitor) Abort() {
	if h := m.inProcess; h != nil {
		for _, f := range []*os.File{h.Ready, h.Exit, h.Stdout, h.Stderr, m.exitR} {
			if f != nil {
				f.Close()
			}
		}
		close(m.done)
	} else {
		m.idW.Close()
		m.exitR.Close()
	}
	m.readyR.Close()
	m.closeControl()
}

func (m *PendingMonitor) closeControl() {
	if m.ctlR != nil {
		m.ctlR.Close()
	}
}

// Start hands the monitor its container (by full ID) and returns as Engine.Start does.
func (m *PendingMonitor) Start(ctx context.Context, id string) (<-chan int, error) {
	defer m.readyR.Close()
	defer m.closeControl()
	if h := m.inProcess; h != nil {
		<-m.drained
		go func() {
			defer close(m.done)
			m.engine.RunMonitor(context.Background(), id, *h)
		}()
	} else {
		io.WriteString(m.idW, id) // a monitor already gone is told apart below: it said nothing
		m.idW.Close()
	}
	msg, _ := io.ReadAll(m.readyR)
	Phase("start: monitor ready")
	if len(msg) == 0 {
		if m.exitR != nil {
			m.exitR.Close()
		}
		return nil, fmt.Errorf("%w: %s ended without starting container %s", ErrMonitorGone, m.path, id)
	}
	if string(msg) != monitor.ReadyOK {
		if m.exitR != nil {
			m.exitR.Close()
		}
		return nil, startError(strings.TrimSpace(string(msg)))
	}
	if m.attach == nil {
		if m.exitR != nil {
			m.exitR.Close()
		}
		return nil, nil
	}
	ch := make(chan int, 1)
	go func() {
		defer m.exitR.Close()
		b, _ := io.ReadAll(m.exitR)
		Phase("start: exit code received")
		code, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			code = 255
		}
		ch <- code
	}()
	return ch, nil
}

// startError rebuilds the class of a start error that crossed the ready pipe as text.
func startError(s string) error {
	switch {
	case strings.HasPrefix(s, "127:"):
		return fmt.Errorf("%s: %w", strings.TrimPrefix(s, "127:"), errdefs.ErrCommandNotFound)
	case strings.HasPrefix(s, "126:"):
		return fmt.Errorf("%s: %w", strings.TrimPrefix(s, "126:"), errdefs.ErrCannotExecute)
	}
	return errors.New(s)
}

// RunMonitor is the body of a monitor process (MonitorMain): see package monitor.
func (e *Engine) RunMonitor(ctx context.Context, id string, h monitor.Handoff) error {
	Phase("monitor: main")
	cs := e.Containers()
	ml, err := takeMonitorLock(cs.MonitorLockPath(id))
	if err != nil {
		monitorReady(h, fmt.Errorf("container %s already has a monitor", id))
		return err
	}
	defer ml.Unlock()
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	// Meanwhile (the first signal.Notify takes most of a millisecond): a monitor has no
	// terminal, so no hangup comes this early, and Go turns SIGPIPE into EPIPE anyway.
	go signalIgnore()

	c, err := cs.Get(id)
	if err != nil {
		monitorReady(h, err)
		return err
	}
	ms := &monitorSelf{lock: ml}
	code, startErr := e.startContainer(ctx, c, h, ms)
	if startErr != nil {
		e.keepRestarting(ctx, c.ID, code, ms) // restart.go: --restart, Docker's back-off
		return startErr
	}
	e.afterRun(ctx, c, h, code, ms)
	return nil
}

// takeMonitorLock takes the monitor lock for a new monitor. Readers hold it too, shared, for a
// moment: to ask whether a monitor lives (container.Store.MonitorAlive, `hako exec`'s C path),
// and while they record that one died (container.Store's monitorDied: a read and a write of
// the record). A monitor that finds it taken tries again for a while, so that a `ps` at the
// wrong microsecond does not fail a start; another monitor holds it for as long as it lives.
func takeMonitorLock(path string) (*lockfile.Lock, error) {
	deadline := time.Now().Add(time.Second)
	for {
		l, err := lockfile.TryExclusive(path)
		if !errors.Is(err, lockfile.ErrLocked) || time.Now().After(deadline) {
			return l, err
		}
		time.Sleep(time.Millisecond)
	}
}

// afterRun is what a monitor does once a run of its container ended with code: --rm, the exit
// code for a foreground command, the restart policy.
func (e *Engine) afterRun(ctx context.Context, c *container.Container, h monitor.Handoff, code int, ms *monitorSelf) {
	if c.Config.AutoRemove && !e.restarting(c.ID) { // `restart` of a --rm container keeps it
		// Removed before a foreground `run --rm` gets the exit code, so that when it returns
		// the container is gone, as with Docker: no record, no name (and its image can go at
		// once: gc removes a detached container's snapshot first). Its snapshot and the
		// deletion of the files (several milliseconds) come after (detachContainer), and the
		// spare record directory for the next run. --rm excludes restart policies.
		// The run's runtime state is deleted by now, or being deleted (ms.runtimeDeleting),
		// and its root filesystem still mounted (ms.rootfs): the monitor unmounts it and waits
		// for the deletion after the answer.
		e.Containers().WriteExitNote(c.ID, code) // for `wait`: the record is going
		reclaim, err := e.detachContainer(context.Background(), c, false)
		if err == nil {
			e.removeAnonymousVolumes(c) // --rm takes the anonymous volumes along, as Docker's
		} else {
			unmountPending(ms, ms.rootfs)
			e.recordPendingExit(c, code, ms)
		}
		Phase("monitor: removed")
		reportExited(h, code)
		// The command may be gone now: a reader of its output (a pipe, `$(hako run …)`)
		// must not wait for the deletion on the copies this process holds.
		closeCommandStdio(h)
		// The root filesystem, moved with the detached record; a monitor killed before this
		// leaves it to the sweep (sweepContainers), which unmounts it first.
		// If it stays mounted, so do the files: the sweep tries again.
		umountErr := unmountPending(ms, filepath.Join(e.Containers().DetachedDir(c.ID), "rootfs"))
		waitRuntimeDeleted(ms)
		if err == nil && umountErr == nil {
			reclaim()
			Phase("monitor: files deleted")
		}
		e.Containers().MakeSpare()
		e.sweepContainers() // earlier exit notes, and what killed removals left
		return
	}
	unmountPending(ms, ms.rootfs) // a --rm container that `restart` keeps after all
	waitRuntimeDeleted(ms)        // before a restart makes the same cgroups again
	e.recordPendingExit(c, code, ms)
	reportExited(h, code)
	closeCommandStdio(h) // later runs of a restart policy are detached
	e.Containers().MakeSpare()
	e.keepRestarting(ctx, c.ID, code, ms)
}

// closeCommandStdio closes the monitor's copies of the standard streams of the command that
// ran the container.
func closeCommandStdio(h monitor.Handoff) {
	for _, f := range []*os.File{h.Stdin, h.Stdout, h.Stderr, h.Control} {
		if f != nil {
			f.Close()
		}
	}
}

// unmountPending unmounts, at path, the root filesystem that startContainer left mounted for
// afterRun (monitorSelf.rootfs), if it did.
func unmountPending(ms *monitorSelf, path string) error {
	if ms.rootfs == "" {
		return nil
	}
	ms.rootfs = ""
	return mount.Unmount(path)
}

// waitRuntimeDeleted waits for the delete of the run's runtime state that startContainer left
// under way (monitorSelf.runtimeDeleting), if it did.
func waitRuntimeDeleted(ms *monitorSelf) {
	if ms.runtimeDeleting != nil {
		<-ms.runtimeDeleting
		ms.runtimeDeleting = nil
	}
}

// recordPendingExit records the exit that startContainer left to afterRun (a --rm container's,
// whose record is normally removed instead), if it did.
func (e *Engine) recordPendingExit(c *container.Container, code int, ms *monitorSelf) {
	if ms.exitPending {
		ms.exitPending = false
		e.recordExit(c, code, ms.oomKilled)
	}
}

func (e *Engine) autoRemove(c *container.Container) {
	if e.removeContainer(context.Background(), c) == nil {
		e.removeAnonymousVolumes(c) // --rm takes the anonymous volumes along, as Docker's
	}
}

// handedOver tells whether the command that runs in this process, if one does, is done with it
// (monitor.Handoff's HandedOver).
func handedOver(h monitor.Handoff) bool {
	if h.HandedOver == nil {
		return true
	}
	select {
	case <-h.HandedOver:
		return true
	default:
		return false
	}
}

func monitorReady(h monitor.Handoff, err error) {
	if h.Ready == nil {
		return
	}
	if err != nil {
		prefix := ""
		if errors.Is(err, errdefs.ErrCommandNotFound) {
			prefix = "127:"
		} else if errors.Is(err, errdefs.ErrCannotExecute) {
			prefix = "126:"
		}
		fmt.Fprint(h.Ready, prefix+err.Error())
	} else {
		fmt.Fprint(h.Ready, monitor.ReadyOK)
	}
	h.Ready.Close()
}

// reportExited reports the code of a run that is over: to an in-process command's callback
// first (monitor.Handoff's Exited), then on the exit pipe.
func reportExited(h monitor.Handoff, code int) {
	if h.Exited != nil {
		h.Exited(code)
	}
	reportExitCode(h, code)
}

func reportExitCode(h monitor.Handoff, code int) {
	if h.Exit != nil {
		fmt.Fprintf(h.Exit, "%d\n", code)
		h.Exit.Close()
	}
}

// startContainer mounts, starts and waits for one run of the container, recording each state.
// For a container that gets a keeper (keeper.go) it does not return once the container runs:
// the process becomes the keeper.
func (e *Engine) startContainer(ctx context.Context, c *container.Container, h monitor.Handoff, ms *monitorSelf) (int, error) {
	cs := e.Containers()
	fail := func(err error, code int) (int, error) {
		c.State = container.State{Status: container.Exited, ExitCode: code, Error: err.Error(), FinishedAt: time.Now().UTC(), StartedAt: c.State.StartedAt}
		cs.Save(c)
		if c.Config.AutoRemove {
			e.autoRemove(c)
		}
		monitorReady(h, err)
		reportExitCode(h, code)
		return code, err
	}
	// Set once the container ended: libcontainer's delete (its cgroups and state) runs while
	// the root filesystem is unmounted, and is waited for after it (this defer runs last);
	// for a container to be removed (--rm), only after the answer (afterRun).
	var runtimeDeleted chan struct{}
	defer func() {
		if runtimeDeleted != nil && ms.runtimeDeleting == nil {
			<-runtimeDeleted
		}
	}()
	// The container's image by its configuration's digest: no walk of the image index, and
	// the run does not depend on the image's names.
	created := e.takeCreated(c.ID) // in this process, from Create
	cfg, err := e.imageConfig(ctx, created, c.Config.ImageID)
	if err != nil {
		return fail(fmt.Errorf("image %s: %w", c.Config.ImageID, err), 125)
	}
	Phase("monitor: image resolved")
	logOpts, err := logs.ParseOptions(c.Config.LogOptions)
	if err != nil {
		return fail(err, 125)
	}
	lw, err := logs.NewWriter(e.LogPath(c.ID), logOpts)
	if err != nil {
		return fail(err, 125)
	}
	defer lw.Close()
	stdio := runtime.IO{Tty: c.Config.Options.Tty} // the spec's process.terminal
	k, err := newKeeper(h, stdio.Tty, c, cfg.Config.Healthcheck, logOpts)
	if err != nil {
		return fail(err, 125)
	}
	if k != nil {
		defer k.close()
		stdio.Stdout, stdio.Stderr, stdio.CallerReaps = k.outW, k.errW, true
	} else {
		var outAttach, errAttach io.Writer
		if h.Stdout != nil {
			outAttach, errAttach = stdiofile.Writer(h.Stdout), stdiofile.Writer(h.Stderr)
		}
		stdio.Stdout = &teeWriter{log: lw.Stream("stdout"), attach: outAttach}
		stdio.Stderr = &teeWriter{log: lw.Stream("stderr"), attach: errAttach}
	}
	if h.Stdin != nil {
		// Hidden behind a plain reader, the attached stdin is copied into a pipe by the
		// runtime: the host's descriptor (a terminal, say) never reaches the container.
		stdio.Stdin = struct{ io.Reader }{h.Stdin}
	}
	stdio.ConsoleWidth, stdio.ConsoleHeight = h.ConsoleWidth, h.ConsoleHeight
	rt, err := e.NewRuntime()
	if err != nil {
		return fail(err, 125)
	}
	rt.Delete(c.ID, true) // a previous run's state, if a monitor died
	rt.ExecProfiles, rt.FastStart = true, true
	// Where its cgroups will be is looked for now, while the root filesystem is mounted.
	cgOpts := c.Config.Options
	cgOpts.ID = c.ID
	rt.PrepareCgroups(spec.CgroupsPath(cgOpts))
	// The C start path's first process starts now, while the root filesystem is mounted and
	// the spec written (runtime.StartEarly); that path takes no user namespace. The network
	// namespace of a container of network "none" is made meanwhile too, on the core that the
	// mount leaves (runtime.PrepareNetNS): the init joins it instead of making it.
	if o := c.Config.Options; !o.UserNS {
		if o.NewNetworkNamespace() {
			rt.PrepareNetNS(stdio)
			defer rt.DropNetNS()
		}
		rt.StartEarly(stdio)
		defer rt.DropEarly()
	}
	dir := cs.Dir(c.ID)
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return fail(err, 125)
	}
	if err := e.openToUserNSRoot(c); err != nil { // userns.go
		return fail(err, 125)
	}
	var mounts []mount.Mount
	if created != nil {
		mounts = created.mounts
	} else if mounts, err = e.Snapshots.Mounts(ctx, c.ID); err != nil {
		return fail(err, 125)
	}
	mounts = userNSMounts(mounts, c.Config.Options)
	// A --rm container's writable layer is thrown away when it ends: mounted volatile, its
	// unmount does not sync the host filesystem the layer lives on, which took 30 ms (up to 65)
	// of the run path while other processes wrote to the disk. Podman does the same for --rm.
	workdir := ""
	if c.Config.AutoRemove {
		workdir = addVolatile(mounts)
	}
	mount.Unmount(rootfs)
	if err := mount.All(mounts, rootfs); err != nil {
		if workdir == "" {
			return fail(err, 125)
		}
		// A kernel before 5.10, or a volatile run that a crash interrupted (then the mount
		// fails again, saying why).
		dirty := filepath.Join(workdir, "work", "incompat", "volatile")
		mounts, workdir = removeVolatile(mounts), ""
		if err := mount.All(mounts, rootfs); err != nil {
			if _, serr := os.Stat(dirty); serr == nil {
				// overlayfs refuses a volatile upper dir that was never unmounted cleanly; a
				// --rm container is removed on the way out (fail), as dockerd removes them.
				err = fmt.Errorf("container %s was running with --rm when the machine stopped: its writable layer may be incomplete, so it is removed (%w)", c.Name, err)
			}
			return fail(err, 125)
		}
	}
	unmountLater := false // by afterRun (ms.rootfs)
	defer func() {
		if !unmountLater {
			e.unmountRootfs(c, rootfs, mounts, workdir)
		}
	}()
	Phase("monitor: rootfs mounted")

	opts := c.Config.Options
	opts.ID = c.ID
	opts.Rootfs = rootfs
	if opts.Init && opts.InitBinary == "" {
		if opts.InitBinary, err = findInit(); err != nil {
			return fail(err, 125)
		}
	}
	if opts.Hostname == "" {
		opts.Hostname = c.ID[:12]
	}
	etc, err := spec.WriteEtcFiles(filepath.Join(dir, "etc"), spec.EtcFiles{Hostname: opts.Hostname, HostNetwork: opts.NetworkMode == "host"})
	if err != nil {
		return fail(err, 125)
	}
	vmounts, err := e.mountSpecs(c, rootfs)
	if err != nil {
		return fail(err, 125)
	}
	opts.Mounts = append(append(append([]specsMount{}, userNSBinds(etc, opts)...), opts.Mounts...), vmounts...)
	Phase("monitor: etc files and volumes")
	s, err := spec.Generate(cfg.Config.ImageConfig, opts)
	if err != nil {
		return fail(err, 125)
	}
	Phase("monitor: spec generated")
	s.Root.Path = rootfs
	bundle := filepath.Join(dir, "bundle")
	os.MkdirAll(bundle, 0o700)
	// The bundle's config.json is for diff, exec and whoever checks a bundle against runc: it
	// is encoded and written while the runtime starts from s itself (which it only reads), and
	// waited for before the container is recorded as running.
	// It starts once S has its plan and the runtime's state is encoded (runtime.AfterPlan),
	// not before: until then the cgroups, the plan and the state need the second core.
	bundleWritten := make(chan error, 1)
	planned := make(chan struct{})
	rt.AfterPlan = func() { close(planned) }
	go func() {
		<-planned
		sb, err := ocijson.MarshalSpec(s) // json.Marshal's, without its reflection (package ocijson)
		if err == nil {
			err = os.WriteFile(filepath.Join(bundle, "config.json"), sb, 0o600)
		}
		bundleWritten <- err
	}()
	Phase("monitor: bundle and log ready, runtime start")
	args := slices.Clone(s.Process.Args)
	p, err := rt.StartSpec(ctx, c.ID, bundle, s, stdio)
	runtime.DropSeal() // if the start did not take it
	if werr := <-bundleWritten; werr != nil && err == nil {
		rt.Signal(c.ID, syscall.SIGKILL, true)
		if k != nil {
			unix.Wait4(p.Pid, nil, 0, nil)
		} else {
			p.Wait()
		}
		rt.Delete(c.ID, true)
		err = fmt.Errorf("write bundle: %w", werr)
	}
	Phase("monitor: runtime started")
	if k != nil {
		k.closeChild()
	}
	if err != nil {
		code := 125
		if errors.Is(err, errdefs.ErrCommandNotFound) {
			code = 127
		} else if errors.Is(err, errdefs.ErrCannotExecute) {
			code = 126
		}
		return fail(err, code)
	}
	c.Path, c.Args = args[0], args[1:]
	c.State = container.State{Status: container.Running, Running: true, Pid: p.Pid, StartedAt: time.Now().UTC()}
	if err := cs.Save(c); err != nil {
		rt.Signal(c.ID, syscall.SIGKILL, true)
	}
	if h.Control != nil && stdio.Tty {
		go monitor.ReadControl(h.Control, func(w, ht uint16) { p.Resize(w, ht) })
	}
	Phase("monitor: running recorded")
	monitorReady(h, nil)
	// For `hako exec`'s C path (docs/exec.md), once `run` has its answer, beside the wait for
	// the exit (which a short container reaches first: `run --rm busybox true` waited ~1 ms
	// for it). Over before the keeper's exec and the runtime's delete, which removes it.
	profileWritten := make(chan struct{})
	go func() {
		defer close(profileWritten)
		p.WriteExecProfile()
	}()
	var code int
	stopHealth := func() {}
	if k != nil {
		var exited bool
		code, exited = k.settle(p.Pid, lw, settleAfter)
		for !exited && !handedOver(h) {
			code, exited = k.settle(p.Pid, lw, settleAfter) // the command is not done yet
		}
		if !exited {
			// Partial lines become records of their own (the keeper's reader joins them).
			lw.Close()
			<-profileWritten
			err := k.exec(e, ms, c, p.Pid, logOpts, workdir) // returns only if it failed
			logrus.WithError(err).Warn("the monitor keeps its container itself")
			if lw, err = logs.NewWriter(e.LogPath(c.ID), logOpts); err != nil {
				logrus.WithError(err).Warn("the container's output is lost")
				lw = nil
			}
			code = k.waitSelf(p.Pid, lw)
		}
		p.Reaped(code)
	} else {
		stopHealth = e.startHealthcheck(c, cfg.Config.Healthcheck) // health.go
		// Trimmed only once the container has run for a while: a short one (`run --rm x
		// true`, a build's RUN) would otherwise wait for a forced GC and then fault the freed
		// heap back in to record its exit (~300 page faults, several ms on a virtualised MMU).
		settle := time.AfterFunc(settleAfter, settleMonitor)
		code, _ = p.Wait()
		settle.Stop()
	}
	Phase("monitor: container exited")
	stopHealth()
	oomKilled := p.OOMKilled()
	runtimeDeleted = make(chan struct{})
	go func() {
		defer close(runtimeDeleted)
		<-profileWritten
		// What Start knew removes it; loading the state from disk is the fallback (and
		// kills what an exec may have left running).
		if p.Delete() != nil {
			rt.Delete(c.ID, true)
		}
	}()
	if lw != nil {
		lw.Close()
	}
	if c.Config.AutoRemove && !e.restarting(c.ID) {
		// The record is about to go (afterRun): recorded only if it stays after all. Its
		// root filesystem (volatile: nothing to settle) is unmounted after the answer too.
		ms.exitPending, ms.oomKilled, ms.runtimeDeleting = true, oomKilled, runtimeDeleted
		unmountLater, ms.rootfs = true, rootfs
		return code, nil
	}
	e.recordExit(c, code, oomKilled)
	return code, nil
}

// recordExit records that a run of c ended with code, on the latest record, and returns it.
func (e *Engine) recordExit(c *container.Container, code int, oomKilled bool) *container.Container {
	cs := e.Containers()
	if fresh, err := cs.Get(c.ID); err == nil {
		c = fresh
	}
	c.State.Status = container.Exited
	c.State.Running, c.State.Paused, c.State.Pid = false, false, 0
	c.State.ExitCode = code
	c.State.OOMKilled = oomKilled
	c.State.FinishedAt = time.Now().UTC()
	cs.Save(c)
	Phase("monitor: exit recorded")
	return c
}

// unmountRootfs unmounts the root filesystem of c after a run. workdir is that of a volatile
// overlay ("" for none): when the layer is kept (a restart of a --rm container), it is made as
// durable as a normal unmount would, and the next mount may proceed. mounts nil: they are
// looked up again.
func (e *Engine) unmountRootfs(c *container.Container, rootfs string, mounts []mount.Mount, workdir string) {
	mount.Unmount(rootfs)
	if workdir == "" || (c.Config.AutoRemove && !e.restarting(c.ID)) {
		return
	}
	if mounts == nil {
		ms, err := e.Snapshots.Mounts(context.Background(), c.ID)
		if err != nil {
			return
		}
		mounts = userNSMounts(ms, c.Config.Options)
	}
	settleVolatile(mounts, workdir)
}

// addVolatile adds the volatile option to the overlay mount of mounts and returns its workdir
// ("" when there is none).
func addVolatile(mounts []mount.Mount) string {
	for i, m := range mounts {
		if m.Type != "overlay" {
			continue
		}
		for _, o := range m.Options {
			if w, ok := strings.CutPrefix(o, "workdir="); ok {
				mounts[i].Options = append(slices.Clone(m.Options), "volatile")
				return w
			}
		}
	}
	return ""
}

func removeVolatile(mounts []mount.Mount) []mount.Mount {
	out := slices.Clone(mounts)
	for i, m := range out {
		out[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "volatile" })
	}
	return out
}

// settleVolatile, after the unmount of a volatile overlay whose layer is kept, syncs the upper
// directory's filesystem (what the unmount skipped) and removes the marker overlayfs leaves in
// the workdir, which would refuse the next mount.
func settleVolatile(mounts []mount.Mount, workdir string) {
	for _, m := range mounts {
		for _, o := range m.Options {
			if up, ok := strings.CutPrefix(o, "upperdir="); ok {
				if fd, err := unix.Open(up, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
					unix.Syncfs(fd)
					unix.Close(fd)
				}
			}
		}
	}
	os.RemoveAll(filepath.Join(workdir, "work", "incompat"))
}

type teeWriter struct {
	log    io.Writer
	attach io.Writer
}

func (t *teeWriter) Write(p []byte) (int, error) {
	n, err := t.log.Write(p)
	if t.attach != nil {
		if _, aerr := t.attach.Write(p); aerr != nil {
			t.attach = nil
		}
	}
	return n, err
}

func signalIgnore() {
	// The monitor has no terminal; a hangup or a broken attach pipe must not kill it.
	signalIgnoreHook()
}

// Kill sends a signal (a name like KILL or SIGTERM, or a number) to the container's process.
func (e *Engine) Kill(ctx context.Context, ref, sig string) error {
	c, err := e.Containers().Get(ref)
	if err != nil {
		return err
	}
	if !c.State.Running {
		if c.State.Restarting {
			e.setManuallyStopped(c.ID, true) // between two runs: no next run (restart.go)
		}
		return errdefs.Conflictf("cannot kill container: %s: container %s is not running", ref, c.ID)
	}
	stopped := e.manuallyStopped(c.ID)
	e.setManuallyStopped(c.ID, true) // the monitor's restart loop ends (restart.go)
	s, err := ParseSignal(sig)
	if err != nil {
		return err
	}
	rt, err := e.NewRuntime()
	if err != nil {
		return err
	}
	err = rt.Signal(c.ID, s, false)
	if errors.Is(err, errdefs.ErrNotFound) && !initAlive(c) {
		// The container ended meanwhile: its monitor reaped the init and deleted the runtime's
		// state, and has not recorded the exit yet (`rm -f` of a container that ends at that
		// moment). Not running, as Docker says, and its restart policy goes on.
		err = errdefs.Conflictf("cannot kill container: %s: container %s is not running", ref, c.ID)
	}
	if errors.Is(err, errdefs.ErrConflict) && !stopped {
		e.setManuallyStopped(c.ID, false)
	}
	return err
}

// initAlive tells whether the process that c's record names as its init still exists (a
// container whose runtime state is missing while it runs: the state root wiped, say).
func initAlive(c *container.Container) bool {
	return c.State.Pid > 0 && unix.Kill(c.State.Pid, 0) == nil
}

// Wait blocks until the container is not running and returns its exit code; timeout 0 waits
// for ever.
func (e *Engine) Wait(ctx context.Context, ref string, timeout time.Duration) (int, error) {
	cs := e.Containers()
	c, err := cs.Get(ref)
	if err != nil {
		return 0, err
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		c2, err := cs.Get(c.ID)
		if err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				// Removed (--rm) after it exited: its monitor left the code for a moment.
				if code, ok := cs.ExitNote(c.ID); ok {
					return code, nil
				}
				return c.State.ExitCode, nil
			}
			return 0, err
		}
		if !c2.State.Running && c2.State.Status != container.Restarting {
			return c2.State.ExitCode, nil
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return 0, errdefs.Conflictf("container %s still running after %s", ref, timeout)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop sends the stop signal, waits up to timeout, then kills.
func (e *Engine) Stop(ctx context.Context, ref string, timeout *int) error {
	return e.StopWithSignal(ctx, ref, timeout, "")
}

// StopWithSignal is Stop with `stop --signal`: signal, when not empty, replaces the container's
// stop signal for this stop.
func (e *Engine) StopWithSignal(ctx context.Context, ref string, timeout *int, signal string) error {
	if signal != "" {
		if _, err := ParseSignal(signal); err != nil {
			return err
		}
	}
	c, err := e.Containers().Get(ref)
	if err != nil {
		return err
	}
	// Marked first, so that a monitor between two runs gives up restarting (restart.go).
	if c, err = e.stopRestarts(ctx, c); err != nil {
		return err
	}
	if !c.State.Running {
		return nil
	}
	t := 10
	if c.Config.StopTimeout != nil {
		t = *c.Config.StopTimeout
	}
	if timeout != nil {
		t = *timeout
	}
	sig := signal
	if sig == "" {
		sig = c.Config.StopSignal
	}
	if sig == "" {
		if _, cfg, err := e.ResolveImage(ctx, c.Config.ImageID.String()); err == nil && cfg.Config.StopSignal != "" {
			sig = cfg.Config.StopSignal
		} else {
			sig = "TERM"
		}
	}
	if err := e.Kill(ctx, c.ID, sig); err != nil && !errors.Is(err, errdefs.ErrConflict) {
		return err
	}
	if t > 0 { // Wait's 0 is "for ever": stop -t 0 goes straight to SIGKILL
		if _, err := e.Wait(ctx, c.ID, time.Duration(t)*time.Second); err == nil {
			return nil
		}
	}
	if err := e.Kill(ctx, c.ID, "KILL"); err != nil && !errors.Is(err, errdefs.ErrConflict) {
		return err
	}
	_, err = e.Wait(ctx, c.ID, 0)
	return err
}

// ParseSignal reads KILL, SIGKILL or 9.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(strings.TrimPrefix(strings.ToUpper(s), "SIG"))
	if sig := unix.SignalNum("SIG" + name); sig != 0 {
		return sig, nil
	}
	return 0, errdefs.Invalidf("invalid signal: %s", s)
}
