package runtime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/fastexec"
)

// The exec profile (docs/exec.md) is what the C path of `hako exec` (package fastexec) needs to
// enter a container without libcontainer: Start writes it into the container's state directory
// once the init runs. It is a cache, never needed for a start: whatever goes wrong on the way
// only means no profile (logged at debug level), and the container's execs take the Go path.

// execProfile is a profile in the making: planned from the spec before the start, completed
// with the seccomp filter the init loaded and then with the running container's state.
type execProfile struct {
	id     string
	proc   *specs.Process
	config *configs.Config
	// filter is the seccomp program read back from the init; seccompFlags the flags
	// libcontainer loaded it with.
	filter       []unix.SockFilter
	seccompFlags uint
	// process, when the C start path has computed it already, is the process part.
	process *fastexec.Profile
}

// planExecProfile returns the profile plan for a container about to start, or nil with the
// reason logged when the container cannot have one: the C path does not do everything
// libcontainer's setns init does, and a container that needs one of those things keeps every
// exec on the Go path.
func planExecProfile(id string, s *specs.Spec, config *configs.Config) *execProfile {
	why := execProfileBlocker(s, config)
	var flags uint
	if why == "" && config.Seccomp != nil {
		var err error
		if flags, err = seccompFilterFlags(config.Seccomp); err != nil {
			why = err.Error()
		}
	}
	if why != "" {
		logrus.Debugf("container %s: no exec profile: %s", id, why)
		return nil
	}
	return &execProfile{id: id, proc: s.Process, config: config, seccompFlags: flags}
}

// execProfileBlocker names what in the spec or its libcontainer config the C path does not
// apply, or returns "". Both are checked: the config is what libcontainer does, the spec says
// what was asked, and a field that specconv ignored today may be applied tomorrow.
func execProfileBlocker(s *specs.Spec, config *configs.Config) string {
	p := s.Process
	switch {
	case p.ApparmorProfile != "" || config.AppArmorProfile != "":
		return "an AppArmor profile"
	case p.SelinuxLabel != "" || config.ProcessLabel != "":
		return "an SELinux label"
	case p.User.Umask != nil || config.Umask != nil:
		return "a umask"
	case p.Scheduler != nil || config.Scheduler != nil:
		return "a scheduler"
	case p.IOPriority != nil || config.IOPriority != nil:
		return "an I/O priority"
	case p.ExecCPUAffinity != nil || config.ExecCPUAffinity != nil:
		return "an exec CPU affinity"
	case (s.Linux != nil && s.Linux.Personality != nil) || config.Personality != nil:
		return "a personality"
	case (s.Linux != nil && s.Linux.MemoryPolicy != nil) || config.MemoryPolicy != nil:
		return "a memory policy"
	case config.Namespaces.Contains(configs.NEWTIME) || len(config.TimeOffsets) > 0:
		return "a time namespace"
	case config.IntelRdt != nil:
		// An exec joins the container's resctrl group, which the C path does not.
		return "Intel RDT"
	case p.Capabilities == nil && config.Capabilities == nil:
		// libcontainer then leaves the capabilities alone (the exec keeps its caller's),
		// which five masks cannot say.
		return "no capabilities in the spec"
	}
	return ""
}

// seccompFilterFlags mirrors what libcontainer passes to seccomp(2) for the container's filter
// (seccomp.InitSeccomp → setFlag, then patchbpf's filterFlags): LOG and SPEC_ALLOW as the
// config's flags ask (specconv puts SPEC_ALLOW there by default when libseccomp and the kernel
// support it, and refuses a flag they do not, so every flag listed was applied), and
// WAIT_KILLABLE_RECV likewise. TSYNC is ignored by libcontainer, so here too. A filter with a
// notify action (NEW_LISTENER, whose fd goes to a seccomp agent) is beyond the C path: an
// error, so no profile.
func seccompFilterFlags(sc *configs.Seccomp) (uint, error) {
	if sc.ListenerPath != "" || sc.DefaultAction == configs.Notify ||
		slices.ContainsFunc(sc.Syscalls, func(s *configs.Syscall) bool { return s != nil && s.Action == configs.Notify }) {
		return 0, errors.New("a seccomp notify action")
	}
	var flags uint
	for _, f := range sc.Flags {
		switch f {
		case specs.LinuxSeccompFlagLog:
			flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case specs.LinuxSeccompFlagWaitKillableRecv:
			flags |= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
		case "SECCOMP_FILTER_FLAG_TSYNC":
		default:
			return 0, fmt.Errorf("seccomp flag %s", f)
		}
	}
	return flags, nil
}

// captureSeccomp reads back the seccomp filter of the container's init, pid, which libcontainer
// has started and which now blocks opening its exec fifo (Container.Start has returned, Exec not
// yet called). It returns false, logged, when the filter could not be read: then there is no
// profile.
func (ep *execProfile) captureSeccomp(pid int) bool {
	prog, err := initSeccompFilter(pid, 2*time.Second)
	if err != nil {
		logrus.Debugf("container %s: no exec profile: read back the seccomp filter: %v", ep.id, err)
		return false
	}
	ep.filter = prog
	return true
}

// initSeccompFilter returns the one seccomp filter that the init pid loaded on top of those it
// inherited from this process.
//
// libcontainer's init loads it before it closes its sync pipe, and Container.Start returns only
// once that pipe is closed, so the filter is there already; the wait is a guard against a
// libcontainer that one day loads it later (with no_new_privileges it does so after the ready
// sync, right before the pipe closes). The init is a Go program: the filter is loaded (without
// TSYNC) by the thread that later execs the command, normally the main one, but any thread that
// has it will do.
//
// The filters this process has are inherited by the init too, but there are none: the kernel
// answers PTRACE_SECCOMP_GET_FILTER only to a caller with no seccomp filter of its own (EACCES
// otherwise), so a read-back is possible only from an unconfined process, and PR_GET_SECCOMP
// says that for a syscall where /proc/self/status's Seccomp_filters costs a file to read and
// parse. Every filter of the init is then the container's.
func initSeccompFilter(pid int, wait time.Duration) ([]unix.SockFilter, error) {
	if mode, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil || mode != 0 {
		return nil, fmt.Errorf("this process is confined by seccomp itself (mode %d, %v), and the kernel reads filters back only for an unconfined one", mode, err)
	}
	const own = 0
	deadline := time.Now().Add(wait)
	for {
		tid, n, err := filteredThread(pid, own)
		if err != nil {
			return nil, err
		}
		switch {
		case n == own+1:
			progs, err := seccompFilters(tid, 1)
			if err != nil {
				return nil, err
			}
			return progs[0], nil
		case n > own+1:
			// libcontainer loads exactly one: more is something this code does not know.
			return nil, fmt.Errorf("the init has %d seccomp filters, want 1", n-own)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the init loaded no seccomp filter within %v", wait)
		}
		time.Sleep(time.Millisecond)
	}
}

// filteredThread returns the thread of process pid with the most seccomp filters, and their
// count, looking at the main thread first and at the others only if it has no more than own.
func filteredThread(pid, own int) (tid, n int, err error) {
	n, err = seccompFilterCount(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil || n > own {
		return pid, n, err
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, 0, err
	}
	tid = pid
	for _, t := range tasks {
		id, err := strconv.Atoi(t.Name())
		if err != nil || id == pid {
			continue
		}
		// A thread may exit meanwhile: it is then not the one that will exec.
		if c, err := seccompFilterCount(fmt.Sprintf("/proc/%d/task/%d/status", pid, id)); err == nil && c > n {
			tid, n = id, c
		}
	}
	return tid, n, nil
}

// seccompFilterCount reads the Seccomp_filters line of a /proc status file (Linux 5.9+).
func seccompFilterCount(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Seccomp_filters:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("%s has no Seccomp_filters line (Linux before 5.9)", path)
}

// seccompFilters reads the n most recent seccomp filters of thread tid (index 0 is the most
// recent) with PTRACE_SECCOMP_GET_FILTER, which needs CAP_SYS_ADMIN, no seccomp filter on this
// process, and a kernel with CONFIG_CHECKPOINT_RESTORE.
//
// Every ptrace call must come from the one thread that attached, so they run in a goroutine
// locked to its thread. ptraceSeccompFilters detaches on every path; should even that fail,
// the goroutine ends still locked, its thread exits with it, and the kernel detaches whatever
// the thread still traced, so that the init is never left stopped with the start waiting for
// it. The main thread is the exception, which the Go runtime never ends (it wedges it
// instead): on it, the work moves to another goroutine, which cannot run on this thread while
// it is locked to the first.
func seccompFilters(tid, n int) ([][]unix.SockFilter, error) {
	type result struct {
		progs [][]unix.SockFilter
		err   error
	}
	ch := make(chan result, 1)
	var trace func()
	trace = func() {
		goruntime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			done := make(chan struct{})
			go func() { trace(); close(done) }()
			<-done
			goruntime.UnlockOSThread()
			return
		}
		progs, err := ptraceSeccompFilters(tid, n)
		if !errors.Is(err, errStillAttached) {
			goruntime.UnlockOSThread()
		}
		ch <- result{progs, err}
	}
	go trace()
	r := <-ch
	return r.progs, r.err
}

// errStillAttached says that the tracer thread could not detach from its tracee.
var errStillAttached = errors.New("still attached")

// cldTrapped is CLD_TRAPPED, the siginfo code of a ptrace stop (<signal.h>).
const cldTrapped = 4

func ptraceSeccompFilters(tid, n int) (_ [][]unix.SockFilter, err error) {
	// PTRACE_SEIZE does not stop the tracee and sends it no signal; PTRACE_INTERRUPT then
	// stops it, even in the middle of a blocking open of its exec fifo, which the kernel
	// restarts once it is detached.
	if err := unix.PtraceSeize(tid); err != nil {
		return nil, fmt.Errorf("PTRACE_SEIZE %d: %w", tid, err)
	}
	var redeliver int // a signal the init was about to receive when it stopped
	defer func() {
		if derr := ptraceDetach(tid, redeliver); derr != nil && err == nil {
			err = fmt.Errorf("%w: %w", errStillAttached, derr)
		} else if derr != nil {
			err = fmt.Errorf("%w (%w: %w)", err, errStillAttached, derr)
		}
	}()
	if err := unix.PtraceInterrupt(tid); err != nil {
		return nil, fmt.Errorf("PTRACE_INTERRUPT %d: %w", tid, err)
	}
	status, err := waitPtraceStop(tid, time.Second)
	if err != nil {
		return nil, err
	}
	if status>>8 == 0 {
		// A signal-delivery stop, not the interrupt's (SIGTRAP | PTRACE_EVENT_STOP<<8): a
		// signal (a `hako stop` during the start, say) reached the init first. The detach
		// hands it back, or it would be lost.
		redeliver = status & 0xff
	}
	progs := make([][]unix.SockFilter, 0, n)
	for i := range n {
		// The first call, with no buffer, returns the number of instructions; the second
		// copies them. A loaded filter never changes, so the count holds.
		count, err := ptraceGetFilter(tid, i, nil)
		if err != nil {
			return nil, fmt.Errorf("PTRACE_SECCOMP_GET_FILTER %d: %w", i, err)
		}
		if count <= 0 {
			return nil, fmt.Errorf("PTRACE_SECCOMP_GET_FILTER %d: %d instructions", i, count)
		}
		prog := make([]unix.SockFilter, count)
		if got, err := ptraceGetFilter(tid, i, prog); err != nil || got != count {
			return nil, fmt.Errorf("PTRACE_SECCOMP_GET_FILTER %d: %d instructions of %d: %v", i, got, count, err)
		}
		progs = append(progs, prog)
	}
	return progs, nil
}

// waitPtraceStop waits for the tracee tid to enter the stop that PTRACE_INTERRUPT asked for.
//
// It uses waitid with WNOWAIT, not wait4: the init is this process's child, and if it died
// meanwhile, reaping it here would take its exit status from the Process's Wait. A ptrace stop
// needs no reaping: ptrace's requests only need the tracee stopped, and the stop's
// notification goes with the detach. It polls, with a deadline, rather than block: a wait for
// the tracee elsewhere in this process (there is none while the init is starting: Process.Wait
// comes later) would take the stop's notification, and a blocking wait would then never
// return, nor the container's start. Between polls the thread sleeps in nanosleep(2) itself,
// not time.Sleep: a locked goroutine's wake-up would wait for the Go scheduler to hand it its
// thread back.
//
// It returns the stop's status (si_status): the stop's signal, with the ptrace event above it.
func waitPtraceStop(tid int, timeout time.Duration) (int, error) {
	for deadline := time.Now().Add(timeout); ; pollPause() {
		info := unix.Siginfo{} // Signo stays 0 when nothing is waitable
		err := unix.Waitid(unix.P_PID, tid, &info, unix.WSTOPPED|unix.WEXITED|unix.WNOWAIT|unix.WALL|unix.WNOHANG, nil)
		switch {
		case err != nil && !errors.Is(err, unix.EINTR):
			return 0, fmt.Errorf("wait for %d to stop: %w", tid, err)
		case err == nil && info.Signo != 0 && info.Code == cldTrapped:
			return int(siStatus(&info)), nil
		case err == nil && info.Signo != 0:
			return 0, fmt.Errorf("thread %d exited instead of stopping (siginfo code %d)", tid, info.Code)
		case time.Now().After(deadline):
			return 0, fmt.Errorf("thread %d did not stop within %v of PTRACE_INTERRUPT", tid, timeout)
		}
	}
}

// siStatus is the si_status of a SIGCHLD siginfo: after si_signo, si_errno, si_code and the
// padding to 8 bytes, then si_pid and si_uid, at byte 24 on the 64-bit Linux ABIs.
func siStatus(info *unix.Siginfo) int32 {
	return *(*int32)(unsafe.Add(unsafe.Pointer(info), 24))
}

// ptraceDetach detaches from tid, delivering sig (0: none). PTRACE_DETACH needs the tracee in a ptrace stop: one that
// PTRACE_INTERRUPT has not stopped yet (when waitPtraceStop gave up) will stop, and is waited
// for; one that is gone needs no detaching.
func ptraceDetach(tid, sig int) error {
	for deadline := time.Now().Add(5 * time.Second); ; pollPause() {
		var err error
		if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(tid), 0, uintptr(sig), 0, 0); e != 0 {
			err = e
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("PTRACE_DETACH %d: %w", tid, err)
		}
		// ESRCH: not in a stop yet, or exited (a zombie thread, which the kernel releases
		// when this thread exits, or no thread at all).
		if state := threadState(tid); state == 0 || state == 'Z' || state == 'X' {
			return fmt.Errorf("PTRACE_DETACH %d: it exited", tid)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("PTRACE_DETACH %d: not stopped after %v", tid, 5*time.Second)
		}
	}
}

// threadState is the state letter of thread tid (field 3 of /proc/TID/stat), 0 when it is gone.
func threadState(tid int) byte {
	f, err := statFields(tid)
	if err != nil || len(f) == 0 || f[0] == "" {
		return 0
	}
	return f[0][0]
}

// statFields are the fields of /proc/PID/stat from the third on (after the command name,
// which may hold spaces and parentheses): f[0] is the state, f[19] the start time.
func statFields(pid int) ([]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil, errors.New("malformed stat")
	}
	return strings.Fields(string(data[i+1:])), nil
}

// pollPause sleeps 20 µs in nanosleep(2) (see waitPtraceStop).
func pollPause() { _ = unix.Nanosleep(&unix.Timespec{Nsec: 20_000}, nil) }

// ptraceGetFilter is PTRACE_SECCOMP_GET_FILTER for filter index of tid: the instruction count,
// and with a buffer (of at least that many) the program.
func ptraceGetFilter(tid, index int, buf []unix.SockFilter) (int, error) {
	var p *unix.SockFilter
	if len(buf) > 0 {
		p = &buf[0]
	}
	r, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER,
		uintptr(tid), uintptr(index), uintptr(unsafe.Pointer(p)), 0, 0)
	goruntime.KeepAlive(buf)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// writeState writes the container's exec profile from st, its libcontainer state with the
// init's PID and start time.
func (ep *execProfile) writeState(root string, st *libcontainer.State) {
	p, err := ep.build(st)
	if err == nil {
		err = fastexec.WriteFile(filepath.Join(root, ep.id, fastexec.ProfileName), p)
	}
	if err != nil {
		logrus.Debugf("container %s: no exec profile: %v", ep.id, err)
	}
}

func (ep *execProfile) build(st *libcontainer.State) (*fastexec.Profile, error) {
	if st.InitProcessPid <= 0 || st.InitProcessStartTime == 0 {
		// The init has exited already (its stat is gone): nothing to exec into.
		return nil, errors.New("the init is gone")
	}
	if st.IntelRdtPath != "" {
		return nil, errors.New("Intel RDT")
	}
	cfg := ep.config
	var p fastexec.Profile
	if ep.process != nil {
		p = *ep.process
	} else {
		var err error
		if p, err = processProfile(ep.id, ep.proc, cfg); err != nil {
			return nil, err
		}
	}
	p.Pid, p.StartTime = st.InitProcessPid, st.InitProcessStartTime
	p.Seccomp, p.SeccompFlags = ep.filter, ep.seccompFlags
	if cfg.Seccomp != nil && len(p.Seccomp) == 0 {
		return nil, errors.New("the container has a seccomp filter, but it was not read back")
	}
	// The namespaces to join, as libcontainer's orderNamespacePaths lists them for an exec.
	for _, t := range configs.NamespaceTypes() {
		if !cfg.Namespaces.Contains(t) {
			continue
		}
		path := st.NamespacePaths[t]
		if path == "" {
			return nil, fmt.Errorf("no path for the %s namespace", configs.NsName(t))
		}
		p.Namespaces = append(p.Namespaces, fastexec.Namespace{Type: configs.NsName(t), Path: path})
	}
	p.Cgroups = cgroupDirs(st.CgroupPaths)
	// On a hybrid host the v1 paths come with a "" one too, the v2 hierarchy beside them
	// (/sys/fs/cgroup/unified): there as on v1, the freezer controller is the one that pauses.
	key, file := "freezer", "freezer.state"
	if cgroups.IsCgroup2UnifiedMode() {
		key, file = "", "cgroup.freeze"
	}
	dir, ok := st.CgroupPaths[key]
	if !ok || dir == "" {
		return nil, errors.New("no freezer cgroup, so no way to tell a paused container")
	}
	p.Freezer = filepath.Join(dir, file)
	return &p, nil
}

// processProfile is what both profiles (docs/exec.md, docs/run.md) say of the container's
// process: user, groups, cwd, environment, no_new_privileges, oom_score_adj, session keyring,
// capabilities and rlimits, as libcontainer's inits apply them.
func processProfile(id string, sp *specs.Process, cfg *configs.Config) (fastexec.Profile, error) {
	p := fastexec.Profile{
		ID:              id,
		UID:             sp.User.UID,
		GID:             sp.User.GID,
		Groups:          slices.Clone(sp.User.AdditionalGids),
		Cwd:             sp.Cwd,
		Env:             slices.Clone(sp.Env),
		NoNewPrivileges: sp.NoNewPrivileges || cfg.NoNewPrivileges,
		OOMScoreAdj:     sp.OOMScoreAdj,
	}
	if p.Cwd == "" {
		p.Cwd = "/" // as Exec does
	}
	if !cfg.NoNewKeyring {
		p.SessionKeyring = "_ses." + id // the standard init creates it, the setns init joins it
	}
	caps := capabilitiesOf(sp)
	if caps == nil {
		caps = cfg.Capabilities
	}
	var err error
	if p.Caps, err = capMasks(caps); err != nil {
		return p, err
	}
	rls, err := rlimitsOf(sp)
	if err != nil {
		return p, err
	}
	for _, rl := range rls {
		p.Rlimits = append(p.Rlimits, fastexec.Rlimit{Resource: rl.Type, Soft: rl.Soft, Hard: rl.Hard})
	}
	return p, nil
}

// cgroupDirs are the distinct cgroup directories of a container's paths, sorted (v1
// controllers mounted together share one).
func cgroupDirs(paths map[string]string) []string {
	var out []string
	for _, dir := range paths {
		if dir != "" && !slices.Contains(out, dir) {
			out = append(out, dir)
		}
	}
	slices.Sort(out)
	return out
}

// capMasks turns capability names into the five masks. As libcontainer's capabilities.New,
// it ignores a name that is unknown or that this kernel does not support.
func capMasks(c *configs.Capabilities) (fastexec.CapSets, error) {
	if c == nil {
		return fastexec.CapSets{}, errors.New("no capabilities")
	}
	supported, err := capability.ListSupported()
	if err != nil {
		return fastexec.CapSets{}, err
	}
	bits := make(map[string]uint64, len(supported))
	for _, cp := range supported {
		bits["CAP_"+strings.ToUpper(cp.String())] = 1 << uint(cp)
	}
	mask := func(names []string) uint64 {
		var m uint64
		for _, n := range names {
			m |= bits[n]
		}
		return m
	}
	return fastexec.CapSets{
		Bounding: mask(c.Bounding), Effective: mask(c.Effective), Permitted: mask(c.Permitted),
		Inheritable: mask(c.Inheritable), Ambient: mask(c.Ambient),
	}, nil
}
