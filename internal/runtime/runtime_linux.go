package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/fastexec"
	"github.com/hako-dev/hako/internal/topdir"
)

// Runtime runs containers whose libcontainer state lives under one directory. Every method
// loads the container's state from disk, so any hako process can reach a container that
// another one started.
type Runtime struct {
	root string
	// SeccompCache is the seccomp cache's directory (docs/run.md), which outlives the state: a
	// store's, beside its runtime directory's entry. Empty: seccomp-cache beside stateRoot.
	SeccompCache string
	// ExecProfiles makes Start prepare each container's exec profile (docs/exec.md), for
	// containers that are exec'd into: a container monitor's runtime. Its read-backs of the
	// seccomp filters fill the seccomp cache that the C start path loads from.
	ExecProfiles bool
	// FastStart makes Start take the C start path (docs/run.md) where it can: a monitor's
	// runtime, and a build's, whose RUN steps are not exec'd into and only use the filters
	// that monitors cached.
	FastStart bool
	// AfterPlan, if set, is called once by each StartSpec, once the C path's S has its plan
	// and libcontainer's state is encoded, or when StartSpec goes another way or fails before:
	// the moment from which the caller's own work no longer competes with the start's (the
	// cgroups, the plan, the state) for the cores, while S and the init set the container up
	// on one of them.
	AfterPlan func()
	// early is S started ahead of the next StartSpec (StartEarly).
	early atomic.Pointer[earlyStart]
	// search is a search of the cgroup mounts started ahead (PrepareCgroups).
	search atomic.Pointer[cgroupSearch]
	// netns is a network namespace made ahead (PrepareNetNS).
	netns atomic.Pointer[earlyNetNS]
}

// New returns a Runtime that keeps its state under stateRoot (created 0700 if missing), such as
// /run/hako/runtime. The state is small and should live on a tmpfs: it is meaningless after a
// reboot.
func New(stateRoot string) (*Runtime, error) {
	if stateRoot == "" {
		return nil, errdefs.Invalidf("new runtime: state root is empty")
	}
	abs, err := filepath.Abs(stateRoot)
	if err != nil {
		return nil, fmt.Errorf("new runtime: %w", err)
	}
	// One state directory per container below, of two files: not spread over ext4's block
	// groups, which costs more than it saves for so few (package topdir; an earlier hako
	// marked it).
	if err := topdir.Unmark(abs, 0o700); err != nil {
		return nil, fmt.Errorf("new runtime: %w", err)
	}
	return &Runtime{root: abs}, nil
}

// Start creates the container id from bundle (its config.json and rootfs), starts the spec's
// process in it and returns once that process runs the user's command. The caller becomes the
// process's parent: it must Wait for it, which also reaps it. ctx bounds only the start; the
// container outlives it.
//
// A command that is not found in the container is an errdefs.ErrCommandNotFound error (Docker
// exits 127), one that cannot be executed errdefs.ErrCannotExecute (126). A container of that
// id that already exists is errdefs.ErrAlreadyExists. On any error nothing is left behind.
// debugTiming is HAKO_DEBUG: Start then prints a timestamped line per phase to stderr, in the
// format of the engine's (engine.Phase), to see where a start spends its time.
var debugTiming = os.Getenv("HAKO_DEBUG") != ""

func phase(what string) {
	if debugTiming {
		now := time.Now()
		fmt.Fprintf(os.Stderr, "DEBU timing %d.%06d pid %d %s\n", now.Unix(), now.Nanosecond()/1000, os.Getpid(), what)
	}
}

func (r *Runtime) Start(ctx context.Context, id, bundle string, stdio IO) (*Process, error) {
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return nil, fmt.Errorf("start container %s: %w", id, err)
	}
	s, err := loadSpec(bundle)
	if err != nil {
		return nil, fmt.Errorf("start container %s: %w", id, err)
	}
	return r.StartSpec(ctx, id, bundle, s, stdio)
}

// StartSpec is Start with the bundle's spec in hand, as the caller wrote (or is writing) it to
// config.json: it is not read back and parsed (about a millisecond for Docker's seccomp
// profile). s is only read, so the caller may encode it meanwhile.
func (r *Runtime) StartSpec(ctx context.Context, id, bundle string, s *specs.Spec, stdio IO) (*Process, error) {
	defer r.DropEarly() // an S that StartEarly started, unless startFast took it
	defer r.DropNetNS() // a network namespace that PrepareNetNS made, unless the plan took it
	planned := func() {}
	if r.AfterPlan != nil {
		planned = sync.OnceFunc(r.AfterPlan)
	}
	defer planned()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s = ownCopy(s)
	if s.Process == nil {
		return nil, errdefs.Invalidf("start container %s: spec has no process", id)
	}
	if err := checkSpec(s); err != nil {
		return nil, fmt.Errorf("start container %s: %w", id, err)
	}
	phase("rt: spec loaded")
	prepareSpec(s, bundle)
	guardHome(s)
	config, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{CgroupName: id, Spec: s})
	if err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("start container %s: %w", id, err))
	}
	// specconv records the process's working directory as the bundle; record the real one.
	config.Labels = slices.DeleteFunc(config.Labels, func(l string) bool { return strings.HasPrefix(l, "bundle=") })
	config.Labels = append(config.Labels, "bundle="+bundle)

	phase("rt: specconv")
	// Whether the C path takes the container is known from the spec: if it does, its cgroups
	// are made on another core while the container is created (createFast). Not when the ID
	// has a state already (a dead monitor's leftovers): libcontainer's Create looks at it first,
	// and startFast makes the cgroups after it; nor are cgroups of the ID that exist or are
	// frozen touched early (makeCgroups).
	// The making starts before the plan (the user's entries, the seccomp filter from the
	// cache: ~1 ms), once what the configuration alone says lets the C path take it; a plan
	// that fails after all (a filter not in the cache yet) undoes it.
	var plan *fastexec.StartProfile
	planErr := errNotFast
	var cg *cgroupsMaking
	if r.FastStart {
		if planErr = fastBlocker(s, config, stdio); planErr == nil {
			if _, err := os.Lstat(filepath.Join(r.root, id)); errors.Is(err, os.ErrNotExist) {
				cg = makeCgroups(config, true, r.search.Load())
			}
			if plan, planErr = r.planFastStart(id, s, config); planErr != nil && cg != nil {
				cg.undo()
				cg = nil
			}
		}
	}
	// With its cgroups made early, the C path creates the container itself (createFast).
	var c created
	if cg != nil {
		c, err = createFast(r.root, id, config)
	} else {
		c, err = libcontainerCreate(r.root, id, config)
	}
	if errors.Is(err, libcontainer.ErrExist) {
		// A state of this ID that appeared meanwhile: the cgroups made for it are undone
		// before anything else, and made after the create, if it is retried.
		if cg != nil {
			cg.undo()
			cg = nil
		}
		if r.removeUnstarted(id) {
			c, err = libcontainerCreate(r.root, id, config)
		}
	}
	phase("rt: created")
	if err != nil {
		if cg != nil {
			cg.undo()
		}
		if errors.Is(err, libcontainer.ErrExist) {
			return nil, errdefs.AlreadyExists(fmt.Errorf("start container %s: %w", id, err))
		}
		if errors.Is(err, libcontainer.ErrInvalidID) {
			return nil, errdefs.InvalidArgument(fmt.Errorf("start container %s: %w", id, err))
		}
		return nil, fmt.Errorf("start container %s: %w", id, err)
	}
	// The C path (docs/run.md) where it does all that libcontainer would; libcontainer's
	// own start otherwise.
	var ep *execProfile
	if r.ExecProfiles {
		ep = planExecProfile(id, s, config)
	}
	if r.FastStart {
		switch err := planErr; {
		case err == nil:
			p, err := r.startFast(c, plan, config, stdio, ep, cg, planned)
			if err != nil {
				_ = c.Destroy()
				return nil, fmt.Errorf("start container %s: %w", id, err)
			}
			return p, nil
		case runPath == "c":
			_ = c.Destroy()
			return nil, fmt.Errorf("start container %s: HAKO_RUN_PATH=c: %w", id, err)
		case errors.Is(err, errNotFast):
			logrus.Debugf("container %s: %v", id, err)
		default:
			_ = c.Destroy()
			return nil, fmt.Errorf("start container %s: %w", id, err)
		}
	}
	planned()
	r.DropEarly() // before libcontainer's start makes the stdio pipes again
	// Only the C path, which returned above, makes another kind of container.
	lc, ok := c.(*libcontainer.Container)
	if !ok {
		_ = c.Destroy()
		return nil, fmt.Errorf("start container %s: created for the C start path, which did not take it", id)
	}
	lp, err := newProcess(s.Process)
	if err != nil {
		_ = c.Destroy()
		return nil, fmt.Errorf("start container %s: %w", id, err)
	}
	lp.Init = true
	stdio.Tty = stdio.Tty || s.Process.Terminal
	report, err := newExecReport(lp)
	if err != nil {
		_ = c.Destroy()
		return nil, fmt.Errorf("start container %s: %w", id, err)
	}
	// The init is started in libcontainer's two steps, as `runc create` and `runc start` do:
	// after Start it waits on its exec fifo with its seccomp filter loaded, which is when the
	// exec profile reads that filter back; Exec then lets it exec the user's command, and the
	// exec report (execreport_linux.go) says whether it could.
	p, err := run(lp, stdio, hostUID(config, lp.UID), func() error {
		if err := lc.Start(lp); err != nil {
			report.close()
			return err
		}
		report.started()
		if ep != nil && config.Seccomp != nil {
			phase("rt: init waits on its exec fifo")
			pid, _ := lp.Pid() // set once Start succeeded
			if !ep.captureSeccomp(pid) {
				ep = nil
			} else if err := r.cacheSeccomp(s.Linux.Seccomp, ep.filter); err != nil {
				logrus.Debugf("container %s: seccomp cache: %v", id, err)
			}
			phase("rt: seccomp filter read back")
		}
		if err := lc.Exec(); err != nil {
			report.close()
			return err
		}
		if err := report.wait("unable to start container process: error during container init: "); err != nil {
			_, _ = lp.Wait() // the init has exited: reap it
			return err
		}
		return nil
	})
	phase("rt: run")
	if err != nil {
		_ = c.Destroy()
		return nil, classifyExecError(fmt.Errorf("start container %s: %w", id, err))
	}
	st, stErr := c.State()
	if stErr == nil {
		p.cgroupPaths = st.CgroupPaths
	}
	p.destroy = c.Destroy
	if ep != nil && stErr == nil {
		// After Exec, when the caller calls for it, so that neither the command nor the
		// caller's own caller waits for it: an exec that comes before the profile takes the
		// Go path. From the state read now, while the init runs: the caller may write the
		// profile after the init has exited and been reaped (beside its wait for the exit),
		// when a state read then could find another process with its PID.
		p.execProfile = func() {
			ep.writeState(r.root, st)
			phase("rt: exec profile written")
		}
	}
	return p, nil
}

// Exec starts p in the running container id (joining its namespaces and cgroups, like
// `docker exec`) and returns once it runs. p.Capabilities and p.Rlimits nil mean the
// container's; no_new_privileges is p's or the container's. Errors are classified as for Start, and a container that
// is not running is errdefs.ErrConflict.
//
// The C start path writes libcontainer's state file as soon as the init exists, while it still
// sets the container up (before pivot_root): libcontainer then sees a running container whose
// mount namespace shows the host's files. The engine calls Exec only for a container its own
// record says is running, which it says once the start is over.
func (r *Runtime) Exec(ctx context.Context, id string, p specs.Process, stdio IO) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	switch status, err := c.Status(); {
	case err != nil:
		return nil, fmt.Errorf("exec in container %s: %w", id, err)
	case status == libcontainer.Paused:
		return nil, errdefs.Conflictf("container %s is paused, unpause the container before exec", id)
	case status != libcontainer.Running:
		return nil, errdefs.Conflictf("container %s is not running", id)
	}
	if len(p.Args) == 0 {
		return nil, errdefs.Invalidf("exec in container %s: no command", id)
	}
	if err := checkRlimits(p.Rlimits); err != nil {
		return nil, fmt.Errorf("exec in container %s: %w", id, err)
	}
	lp, err := newProcess(&p)
	if err != nil {
		return nil, fmt.Errorf("exec in container %s: %w", id, err)
	}
	if p.Cwd == "" {
		lp.Cwd = "/"
	}
	// An exec may add no_new_privileges but never lift the container's.
	nnp := p.NoNewPrivileges || c.Config().NoNewPrivileges
	lp.NoNewPrivileges = &nnp
	stdio.Tty = stdio.Tty || p.Terminal
	report, err := newExecReport(lp)
	if err != nil {
		return nil, fmt.Errorf("exec in container %s: %w", id, err)
	}
	cfg := c.Config()
	proc, err := run(lp, stdio, hostUID(&cfg, lp.UID), func() error {
		if err := c.Run(lp); err != nil {
			report.close()
			return err
		}
		report.started()
		if err := report.wait("unable to start container process: "); err != nil {
			_, _ = lp.Wait() // the process has exited: reap it
			return err
		}
		return nil
	})
	if err != nil {
		return nil, classifyExecError(fmt.Errorf("exec in container %s: %w", id, err))
	}
	return proc, nil
}

// Signal sends sig to the container's init, or with all to every process in its cgroup.
// A container that is not running is errdefs.ErrConflict.
func (r *Runtime) Signal(id string, sig os.Signal, all bool) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if !all {
		if err := c.Signal(sig); err != nil {
			return classifyStateError(id, fmt.Errorf("signal container %s: %w", id, err))
		}
		return nil
	}
	s, ok := sig.(syscall.Signal)
	if !ok {
		return errdefs.Invalidf("signal container %s: unsupported signal %v", id, sig)
	}
	pids, err := c.Processes()
	if err != nil {
		return classifyStateError(id, fmt.Errorf("signal container %s: %w", id, err))
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, s); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signal container %s: pid %d: %w", id, pid, err)
		}
	}
	if s == unix.SIGKILL {
		// In a frozen v1 cgroup a SIGKILL waits for a thaw.
		if st, _ := c.Status(); st == libcontainer.Paused {
			_ = c.Resume()
		}
	}
	return nil
}

// State returns the container's status, init pid, bundle and OOM information.
func (r *Runtime) State(id string) (State, error) {
	c, err := r.load(id)
	if err != nil {
		return State{}, err
	}
	st, err := c.State()
	if err != nil {
		return State{}, fmt.Errorf("state of container %s: %w", id, err)
	}
	status, err := c.Status()
	if err != nil {
		return State{}, fmt.Errorf("state of container %s: %w", id, err)
	}
	out := State{ID: id, Created: st.Created, OOMKilled: oomKilled(st.CgroupPaths)}
	for _, l := range st.Config.Labels {
		if b, ok := strings.CutPrefix(l, "bundle="); ok {
			out.Bundle = b
		}
	}
	switch status {
	case libcontainer.Created:
		out.Status = StatusCreated
	case libcontainer.Running:
		out.Status = StatusRunning
	case libcontainer.Paused:
		out.Status = StatusPaused
	default:
		out.Status = StatusStopped
	}
	if out.Status != StatusStopped {
		out.Pid = st.InitProcessPid
	}
	return out, nil
}

// OOMKilled reports whether the OOM killer killed a process of container id.
func (r *Runtime) OOMKilled(id string) (bool, error) {
	st, err := r.State(id)
	return st.OOMKilled, err
}

// Delete removes a stopped container: its cgroups and state. A running or paused one is
// errdefs.ErrConflict unless force, which kills it first.
func (r *Runtime) Delete(id string, force bool) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	status, err := c.Status()
	if err != nil {
		return fmt.Errorf("delete container %s: %w", id, err)
	}
	if status == libcontainer.Running || status == libcontainer.Paused {
		if !force {
			return errdefs.Conflictf("cannot remove container %s: container is %s: stop the container before removing or force remove", id, status)
		}
		if err := c.Signal(unix.SIGKILL); err != nil && !errors.Is(err, libcontainer.ErrNotRunning) {
			return fmt.Errorf("delete container %s: %w", id, err)
		}
		if err := waitStopped(c, 10*time.Second); err != nil {
			return fmt.Errorf("delete container %s: %w", id, err)
		}
	}
	if err := c.Destroy(); err != nil {
		return fmt.Errorf("delete container %s: %w", id, err)
	}
	return nil
}

// Pause freezes every process of the container (the freezer cgroup).
func (r *Runtime) Pause(id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if err := c.Pause(); err != nil {
		return classifyStateError(id, fmt.Errorf("pause container %s: %w", id, err))
	}
	return nil
}

// Resume thaws a paused container.
func (r *Runtime) Resume(id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if err := c.Resume(); err != nil {
		return classifyStateError(id, fmt.Errorf("unpause container %s: %w", id, err))
	}
	return nil
}

// removeUnstarted removes the state directory of container id if it has no state file: what a
// start killed between libcontainer's Create and the state's first save leaves (a monitor
// killed there, on either path). Nothing else can read such a directory (libcontainer.Load
// says the container does not exist) and it blocks every later Create of the ID. It reports
// whether it removed one. The caller starts id: a monitor holds the container's lock, so no
// other start of it is under way.
func (r *Runtime) removeUnstarted(id string) bool {
	dir := filepath.Join(r.root, id)
	if _, err := os.Stat(filepath.Join(dir, "state.json")); !errors.Is(err, os.ErrNotExist) {
		return false
	}
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return false
	}
	return os.RemoveAll(dir) == nil
}

func (r *Runtime) load(id string) (*libcontainer.Container, error) {
	c, err := libcontainer.Load(r.root, id)
	switch {
	case errors.Is(err, libcontainer.ErrNotExist):
		return nil, errdefs.NotFoundf("no such container: %s", id)
	case errors.Is(err, libcontainer.ErrInvalidID):
		return nil, errdefs.Invalidf("invalid container id %q", id)
	case err != nil:
		return nil, fmt.Errorf("load container %s: %w", id, err)
	}
	return c, nil
}

func waitStopped(c *libcontainer.Container, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st, err := c.Status()
		if err != nil {
			return err
		}
		if st == libcontainer.Stopped {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("container still %s %v after SIGKILL", st, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func loadSpec(bundle string) (*specs.Spec, error) {
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("read bundle: config.json: %w", err))
	}
	return &s, nil
}

// checkSpec refuses what libcontainer would fail on later with a worse message, or not at all.
func checkSpec(s *specs.Spec) error {
	if s.Linux != nil && s.Linux.Seccomp != nil && !seccompSupported {
		return errors.New("the spec has a seccomp profile, but this hako was built without the " +
			"\"seccomp\" build tag (go build -tags seccomp, with libseccomp-dev); refusing to run unconfined")
	}
	if s.Process.OOMScoreAdj != nil && *s.Process.OOMScoreAdj < 0 && !haveCap(unix.CAP_SYS_RESOURCE) {
		return errdefs.Invalidf("oom_score_adj %d: a negative value needs CAP_SYS_RESOURCE, which this process lacks", *s.Process.OOMScoreAdj)
	}
	return checkRlimits(s.Process.Rlimits)
}

// prepareSpec makes the spec independent of the process's working directory, which specconv
// takes for the bundle (and which is shared by all goroutines), and drops what the host's
// cgroups cannot do.
// ownCopy copies what of s prepareSpec and guardHome change: the root, the mounts, the
// process and the memory limits.
func ownCopy(s *specs.Spec) *specs.Spec {
	c := *s
	if s.Root != nil {
		root := *s.Root
		c.Root = &root
	}
	c.Mounts = slices.Clone(s.Mounts)
	if s.Process != nil {
		p := *s.Process
		c.Process = &p
	}
	if l := s.Linux; l != nil && l.Resources != nil && l.Resources.Memory != nil {
		linux, res, mem := *l, *l.Resources, *l.Resources.Memory
		res.Memory = &mem
		linux.Resources = &res
		c.Linux = &linux
	}
	return &c
}

func prepareSpec(s *specs.Spec, bundle string) {
	if s.Root != nil && !filepath.IsAbs(s.Root.Path) {
		s.Root.Path = filepath.Join(bundle, s.Root.Path)
	}
	for i, m := range s.Mounts {
		isBind := m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
		if isBind && m.Source != "" && !filepath.IsAbs(m.Source) {
			s.Mounts[i].Source = filepath.Join(bundle, m.Source)
		}
	}
	if s.Linux != nil && s.Linux.Resources != nil && s.Linux.Resources.Memory != nil &&
		s.Linux.Resources.Memory.Swap != nil && !swapLimitSupported() {
		// Docker ignores the swap limit, with a warning at create, where the kernel has no
		// swap accounting; the memory limit still applies.
		s.Linux.Resources.Memory.Swap = nil
	}
}

func newProcess(p *specs.Process) (*libcontainer.Process, error) {
	lp := &libcontainer.Process{
		Args:            p.Args,
		Env:             p.Env,
		UID:             int(p.User.UID),
		GID:             int(p.User.GID),
		Cwd:             p.Cwd,
		NoNewPrivileges: &p.NoNewPrivileges,
		// The init's log level, as runc passes it: unset, nsenter's C code logs at debug
		// level, some thirty JSON lines per start or exec that this process decodes.
		LogLevel: strconv.Itoa(int(logrus.GetLevel())),
	}
	if p.ConsoleSize != nil {
		lp.ConsoleWidth, lp.ConsoleHeight = uint16(p.ConsoleSize.Width), uint16(p.ConsoleSize.Height)
	}
	lp.Capabilities = capabilitiesOf(p)
	for _, g := range p.User.AdditionalGids {
		lp.AdditionalGroups = append(lp.AdditionalGroups, int(g))
	}
	var err error
	if lp.Rlimits, err = rlimitsOf(p); err != nil {
		return nil, err
	}
	return lp, nil
}

// capabilitiesOf is the process's capabilities as libcontainer takes them, nil for none.
func capabilitiesOf(p *specs.Process) *configs.Capabilities {
	c := p.Capabilities
	if c == nil {
		return nil
	}
	return &configs.Capabilities{
		Bounding: c.Bounding, Effective: c.Effective, Inheritable: c.Inheritable,
		Permitted: c.Permitted, Ambient: c.Ambient,
	}
}

// rlimitsOf is the process's rlimits as libcontainer takes them.
func rlimitsOf(p *specs.Process) ([]configs.Rlimit, error) {
	var out []configs.Rlimit
	for _, rl := range p.Rlimits {
		res, ok := rlimitTypes[rl.Type]
		if !ok {
			return nil, errdefs.Invalidf("unknown rlimit %q", rl.Type)
		}
		out = append(out, configs.Rlimit{Type: res, Hard: rl.Hard, Soft: rl.Soft})
	}
	return out, nil
}

// errClassed adds an errdefs class to an error and keeps its message.
type errClassed struct{ err, class error }

func (e errClassed) Error() string   { return e.err.Error() }
func (e errClassed) Unwrap() []error { return []error{e.err, e.class} }

// classifyExecError maps the failure to find or execute the user's command to Docker's exit
// codes. libcontainer's init looks the command up (exec.LookPath, inside the container, with the
// container's PATH) before it reports ready, and passes only the message back: `exec: "cmd":
// executable file not found in $PATH`, `exec: "/x": stat /x: no such file or directory`,
// `exec: "/x": permission denied`.
func classifyExecError(err error) error {
	msg := err.Error()
	i := strings.Index(msg, `exec: "`)
	if i < 0 {
		return err
	}
	if class := execErrorClass(msg[i:]); class != nil {
		return errClassed{err, class}
	}
	return err
}

func classifyStateError(id string, err error) error {
	switch {
	case errors.Is(err, libcontainer.ErrNotRunning), errors.Is(err, os.ErrProcessDone):
		// os.ErrProcessDone: the init exited between libcontainer's look at its state and
		// its signal (`rm -f` of a container that ends at that moment).
		return errdefs.Conflict(fmt.Errorf("container %s is not running: %w", id, err))
	case errors.Is(err, libcontainer.ErrNotPaused):
		return errdefs.Conflict(fmt.Errorf("container %s is not paused: %w", id, err))
	case errors.Is(err, libcontainer.ErrPaused):
		return errdefs.Conflict(fmt.Errorf("container %s is paused: %w", id, err))
	}
	return err
}

// OOMKilled reports whether the OOM killer killed a process of the container whose init p is,
// as Runtime.OOMKilled does, from what Start knew: no state to load.
func (p *Process) OOMKilled() bool {
	return oomKilled(p.cgroupPaths)
}

// Delete removes the container whose init p is, once p has exited (Wait returned): its
// cgroups and its state, as Runtime.Delete does for a stopped container, without loading the
// state from disk. It is an error for an exec'd process.
func (p *Process) Delete() error {
	if p.destroy == nil {
		return errors.New("delete: not a container's init")
	}
	select {
	case <-p.done:
	default:
		return errdefs.Conflictf("delete: the container's init is still running")
	}
	return p.destroy()
}

// WarmPidfd makes the os package's check that pidfds work, which it makes once per process,
// at its first StartProcess or FindProcess: a pidfd_open, a waitid, a signal, and a child
// cloned with CLONE_PIDFD that exits at once (0.15-0.5 ms here). In a monitor that first one is
// S's start (StartEarly), which the C start path waits for; a monitor calls this in a
// goroutine as it starts instead, while the container is created.
func WarmPidfd() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		p.Release()
	}
}

// hostUID is the host UID of the container's UID uid (the same without a user namespace), or -1.
func hostUID(config *configs.Config, uid int) int {
	h, err := config.HostUID(uid)
	if err != nil {
		return -1
	}
	return h
}

// libcontainerCreate is libcontainer.Create as a created: nil, not a nil *Container, with an
// error.
func libcontainerCreate(root, id string, config *configs.Config) (created, error) {
	c, err := libcontainer.Create(root, id, config)
	if err != nil {
		return nil, err
	}
	return c, nil
}
