package runtime

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/cgroups"
	devconfig "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/configs/validate"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/atomicfile"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/fastexec"
	"github.com/hako-dev/hako/internal/ocijson"
)

// The C start path (docs/run.md): the monitor plans a container's init in Go and a C
// constructor in a sealed copy of this binary carries the plan out, without libcontainer's
// re-executed Go init. createFast does what libcontainer's Create would (its checks, its state
// directory), and libcontainer does everything after the start: the state file written here is
// its own.

// runPath is HAKO_RUN_PATH: "go" forces libcontainer's start, "c" makes the C path mandatory
// (a container it would hand to libcontainer is then an error that says why).
var runPath = os.Getenv("HAKO_RUN_PATH")

// testHookBeforeGo runs just before the init (PID pid) is told it may exec the command, once
// the container is recorded (tests make the monitor give up there).
var testHookBeforeGo = func(pid int) error { return nil }

// errNotFast is wrapped by the reasons the C path does not take a container.
var errNotFast = errors.New("the C start path does not take this container")

// fastBlocker says why the C path cannot take a container from its configuration alone (an
// error wrapping errNotFast), or returns nil: planFastStart may then still find a reason.
func fastBlocker(s *specs.Spec, config *configs.Config, stdio IO) error {
	if runPath == "go" {
		return fmt.Errorf("%w: HAKO_RUN_PATH=go", errNotFast)
	}
	if why := startBlocker(s, config, stdio); why != "" {
		return fmt.Errorf("%w: %s", errNotFast, why)
	}
	return nil
}

// planFastStart plans the C start of a container that fastBlocker lets through, or says why
// libcontainer must start it after all (an error wrapping errNotFast).
func (r *Runtime) planFastStart(id string, s *specs.Spec, config *configs.Config) (*fastexec.StartProfile, error) {
	proc, err := processProfile(id, s.Process, config)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotFast, err)
	}
	p := &fastexec.StartProfile{Profile: proc}
	if config.Seccomp != nil {
		flags, err := seccompFilterFlags(config.Seccomp)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errNotFast, err)
		}
		prog, err := r.cachedSeccomp(s.Linux.Seccomp) // config.Seccomp is made from it
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errNotFast, err)
		}
		p.Seccomp, p.SeccompFlags = prog, flags
	}
	p.Args = slices.Clone(s.Process.Args)
	for _, ns := range config.Namespaces {
		p.Namespaces = append(p.Namespaces, fastexec.Namespace{Type: configs.NsName(ns.Type), Path: ns.Path})
		if ns.Type == configs.NEWNET && ns.Path == "" {
			p.Loopback = slices.ContainsFunc(config.Networks, func(n *configs.Network) bool { return n.Type == "loopback" })
		}
	}
	p.Rootfs = config.Rootfs
	p.RootPropagation = uint64(config.RootPropagation) // as configured: 0 means libcontainer's defaults
	p.Hostname, p.Domainname = config.Hostname, config.Domainname
	for _, k := range slices.Sorted(maps.Keys(config.Sysctl)) {
		p.Sysctls = append(p.Sysctls, k+"="+config.Sysctl[k])
	}
	p.MaskPaths = slices.Clone(config.MaskPaths)
	p.ReadonlyPaths = slices.Clone(config.ReadonlyPaths)
	p.ReadonlyRoot = config.Readonlyfs
	return p, nil
}

// startBlocker names what the C path does not do that libcontainer would for this container,
// or returns "". It covers the exec profile's blockers (the finalization is the same code)
// and what only an init does.
func startBlocker(s *specs.Spec, config *configs.Config, stdio IO) string {
	if why := execProfileBlocker(s, config); why != "" {
		return why
	}
	p := s.Process
	switch {
	case stdio.Tty || p.Terminal:
		return "a terminal"
	case config.Namespaces.Contains(configs.NEWUSER) || len(config.UIDMappings) > 0:
		return "a user namespace"
	case config.RootlessEUID || config.RootlessCgroups:
		return "rootless"
	case config.Hooks != nil && len(config.Hooks) > 0:
		return "hooks"
	case config.NoPivotRoot:
		return "no pivot_root"
	case !config.Namespaces.Contains(configs.NEWNS) || config.Namespaces.PathOf(configs.NEWNS) != "":
		return "no new mount namespace"
	case !config.Namespaces.Contains(configs.NEWPID) || config.Namespaces.PathOf(configs.NEWPID) != "":
		return "no new PID namespace"
	case config.RootPropagation != 0 && config.RootPropagation != unix.MS_SLAVE|unix.MS_REC && config.RootPropagation != unix.MS_PRIVATE|unix.MS_REC:
		return "a root propagation other than rslave or rprivate"
	case config.MountLabel != "":
		return "a mount label"
	case config.Cgroups == nil || config.Cgroups.Systemd || config.Cgroups.Path == "":
		return "no cgroup path of hako's own (or the systemd driver)"
	case config.ParentDeathSignal != 0:
		return "a parent death signal"
	case len(config.NetDevices) > 0:
		return "network devices"
	case len(config.Networks) > 0 && slices.ContainsFunc(config.Networks, func(n *configs.Network) bool { return n.Type != "loopback" }):
		return "a network other than loopback"
	case len(config.Routes) > 0:
		return "routes"
	case len(config.Devices) > 0 && slices.ContainsFunc(config.Devices, func(d *devconfig.Device) bool {
		return d.Path != "" && (d.Type != devconfig.CharDevice && d.Type != devconfig.BlockDevice && d.Type != devconfig.FifoDevice)
	}):
		return "a device of unknown type"
	}
	for _, ns := range config.Namespaces {
		switch ns.Type {
		case configs.NEWNS, configs.NEWPID, configs.NEWNET, configs.NEWIPC, configs.NEWUTS, configs.NEWCGROUP:
		default:
			return "a " + configs.NsName(ns.Type) + " namespace"
		}
	}
	for _, m := range config.Mounts {
		if why := mountBlocker(m); why != "" {
			return fmt.Sprintf("mount %s: %s", m.Destination, why)
		}
	}
	if cgroups.IsCgroup2UnifiedMode() {
		return ""
	}
	if config.Namespaces.Contains(configs.NEWCGROUP) && slices.ContainsFunc(config.Mounts, func(m *configs.Mount) bool { return m.Device == "cgroup" }) {
		return "a cgroup v1 mount in a cgroup namespace"
	}
	return ""
}

func mountBlocker(m *configs.Mount) string {
	switch {
	case m.IDMapping != nil:
		return "an ID-mapped mount"
	case m.RecAttr != nil:
		return "recursive mount attributes"
	case m.Extensions != 0:
		return "a tmpfs copy-up"
	case !filepath.IsAbs(m.Destination) || filepath.Clean(m.Destination) != m.Destination || m.Destination == "/":
		return "a destination that is not absolute and clean"
	}
	under := func(dir string) bool { return strings.HasPrefix(m.Destination+"/", dir+"/") }
	switch m.Device {
	case "bind":
		if under("/proc") || under("/sys") {
			return "a bind mount under /proc or /sys"
		}
		if _, err := os.Stat(m.Source); err != nil {
			return "a source that libcontainer must report on"
		}
	case "proc":
		if m.Destination != "/proc" {
			return "proc elsewhere than /proc"
		}
	case "sysfs":
		if m.Destination != "/sys" {
			return "sysfs elsewhere than /sys"
		}
	case "tmpfs", "devpts", "mqueue", "cgroup":
		if (under("/proc") || under("/sys")) && m.Device != "cgroup" {
			return "a mount under /proc or /sys"
		}
	default:
		return "a mount of type " + m.Device
	}
	return ""
}

// planMounts completes the profile with the mount plan: libcontainer's prepareRootfs
// (mountToRootfs for each mount, then /dev's nodes and links) as steps, with the cgroup paths
// the manager created.
func planMounts(p *fastexec.StartProfile, config *configs.Config, cgroupPaths map[string]string) error {

	setupDev := true
	for _, m := range config.Mounts {
		flags := uint64(m.Flags)
		switch m.Device {
		case "bind":
			if m.Destination == "/dev" {
				setupDev = false
			}
			p.Ops = append(p.Ops, bindOp(m.Source, m.Destination, flags, m.ClearedFlags, m.PropagationFlags))
		case "cgroup":
			if cgroups.IsCgroup2UnifiedMode() {
				p.Ops = append(p.Ops, fastexec.MountOp{Kind: "fs", Src: m.Source, Dst: m.Destination, Type: "cgroup2",
					Flags: flags, Data: m.Data, PropagationFlags: toU64(m.PropagationFlags)})
				continue
			}
			ops, err := cgroupV1Ops(m, cgroupPaths)
			if err != nil {
				return err
			}
			p.Ops = append(p.Ops, ops...)
		default: // proc, sysfs, tmpfs, devpts, mqueue (startBlocker let nothing else through)
			mf := flags
			if m.Device == "tmpfs" || m.Destination == "/dev" {
				// mountPropagate: read-only only after what goes inside.
				mf &^= unix.MS_RDONLY
				if flags&unix.MS_RDONLY != 0 {
					p.LateRemounts = append(p.LateRemounts, fastexec.LateRemount{Dst: m.Destination,
						Flags: flags | unix.MS_BIND | unix.MS_RDONLY})
				}
			}
			p.Ops = append(p.Ops, fastexec.MountOp{Kind: "fs", Src: m.Source, Dst: m.Destination, Type: m.Device,
				Flags: mf, Data: m.Data, PropagationFlags: toU64(m.PropagationFlags)})
		}
	}
	if setupDev {
		for _, d := range config.Devices {
			if d.Path == "" || filepath.Clean(d.Path) == "/dev/ptmx" {
				continue
			}
			mode := uint32(d.FileMode.Perm())
			switch d.Type {
			case devconfig.BlockDevice:
				mode |= unix.S_IFBLK
			case devconfig.CharDevice:
				mode |= unix.S_IFCHR
			case devconfig.FifoDevice:
				mode |= unix.S_IFIFO
			}
			p.Ops = append(p.Ops, fastexec.MountOp{Kind: "mknod", Dst: filepath.Clean(d.Path), Mode: mode,
				Major: d.Major, Minor: d.Minor, UID: d.Uid, GID: d.Gid})
		}
		p.Ops = append(p.Ops,
			fastexec.MountOp{Kind: "unlink", Dst: "/dev/ptmx"},
			fastexec.MountOp{Kind: "symlink", Dst: "/dev/ptmx", Target: "pts/ptmx"})
		links := [][2]string{
			{"/proc/self/fd", "/dev/fd"},
			{"/proc/self/fd/0", "/dev/stdin"},
			{"/proc/self/fd/1", "/dev/stdout"},
			{"/proc/self/fd/2", "/dev/stderr"},
		}
		if _, err := os.Stat("/proc/kcore"); err == nil {
			links = append(links, [2]string{"/proc/kcore", "/dev/core"})
		}
		for _, l := range links {
			p.Ops = append(p.Ops, fastexec.MountOp{Kind: "symlink", Dst: l[1], Target: l[0]})
		}
	}
	p.DevNull = setupDev
	return nil
}

// cgroupV1Ops is libcontainer's mountCgroupV1 without a cgroup namespace: a tmpfs, each host
// hierarchy's cgroup of the container bound into it, and links for the co-mounted ones
// (cpu -> cpu,cpuacct).
func cgroupV1Ops(m *configs.Mount, paths map[string]string) ([]fastexec.MountOp, error) {
	const defaultMountFlags = unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NODEV
	mounts, err := cgroups.GetCgroupMounts(false)
	if err != nil {
		return nil, err
	}
	own, err := cgroups.ParseCgroupFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	ops := []fastexec.MountOp{{Kind: "fs", Src: "tmpfs", Dst: m.Destination, Type: "tmpfs",
		Flags: defaultMountFlags, Data: "mode=755", PropagationFlags: toU64(m.PropagationFlags)}}
	var merged []string
	for _, mm := range mounts {
		// The init's cgroup in this hierarchy: the container's where the manager made one,
		// else the one it inherits from this process.
		src := ""
		for _, ss := range mm.Subsystems {
			// The manager names a named hierarchy "name=systemd"; its mount says "systemd".
			if p := cmp.Or(paths[ss], paths["name="+ss]); p != "" {
				src = p
				break
			}
		}
		if src == "" {
			dir, err := mm.GetOwnCgroup(own)
			if err != nil {
				return nil, err
			}
			rel, err := filepath.Rel(mm.Root, dir)
			if err != nil {
				return nil, err
			}
			src = filepath.Join(mm.Mountpoint, rel)
		}
		base := filepath.Base(mm.Mountpoint)
		if strings.Contains(base, ",") {
			merged = append(merged, base)
		}
		ops = append(ops, bindOp(src, filepath.Join(m.Destination, base), uint64(unix.MS_BIND|unix.MS_REC)|uint64(m.Flags), 0, m.PropagationFlags))
	}
	for _, mc := range merged {
		for _, ss := range strings.Split(mc, ",") {
			ops = append(ops, fastexec.MountOp{Kind: "symlink", Dst: filepath.Join(m.Destination, ss), Target: mc})
		}
	}
	return ops, nil
}

// bindOp is a bind mount step as libcontainer mounts one: the bind, then a remount with
// exactly the flags asked when any (or a cleared one) are.
func bindOp(src, dst string, flags uint64, cleared int, pflags []int) fastexec.MountOp {
	op := fastexec.MountOp{Kind: "bind", Src: src, Dst: dst, Flags: flags, PropagationFlags: toU64(pflags)}
	if flags&^uint64(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) != 0 || cleared != 0 {
		op.Remount = flags | unix.MS_BIND | unix.MS_REMOUNT
	}
	return op
}

func toU64(v []int) []uint64 {
	out := make([]uint64, len(v))
	for i, x := range v {
		out[i] = uint64(x)
	}
	return out
}

// startFast starts the planned init of container c (created by libcontainer.Create, not
// started) through the C path and returns it running. On an error the caller destroys c.
// Its errors carry no "start container ID" prefix: Start adds it.
// earlyStart is S on its way before its plan exists (Runtime.StartEarly, or startFast when
// there is none): the pipes it was given, the container's stdio, and its start, which a
// goroutine makes.
type earlyStart struct {
	pipes                                          []*os.File // every end, closed once more at the end
	profR, profW, errR, errW, pidR, pidW, goR, goW *os.File
	sio                                            *stdioFiles
	starting                                       chan startedS
	st                                             *startedS // once started has received it
}

type startedS struct {
	p   *os.Process
	err error
}

// beginStart starts S with stdio: it waits for its plan on a pipe. S's sealed copy of this
// binary is the overlay of the binary's directory over the runtime's root (SealedSelf's
// dummy: a directory of hako's own that holds no file of the binary's name; the overlay is
// never attached anywhere, and only the binary is opened in it).
func (r *Runtime) beginStart(stdio IO) (*earlyStart, error) {
	es := &earlyStart{starting: make(chan startedS, 1)}
	pipe := func(r, w **os.File) error {
		var err error
		if *r, *w, err = os.Pipe(); err == nil {
			es.pipes = append(es.pipes, *r, *w)
		}
		return err
	}
	for _, p := range [][2]**os.File{{&es.profR, &es.profW}, {&es.errR, &es.errW}, {&es.pidR, &es.pidW}, {&es.goR, &es.goW}} {
		if err := pipe(p[0], p[1]); err != nil {
			es.closePipes()
			return nil, err
		}
	}
	sio, err := newStdio(stdio)
	if err != nil {
		es.closePipes()
		return nil, err
	}
	es.sio = sio
	go func() {
		seal, err := takeSeal(r.root)
		if err != nil {
			es.starting <- startedS{err: err}
			return
		}
		defer seal.Close()
		s, err := os.StartProcess("/proc/self/fd/7", []string{os.Args[0], "__faststart"}, &os.ProcAttr{
			Env:   []string{},
			Files: []*os.File{sio.child[0], sio.child[1], sio.child[2], es.profR, es.errW, es.pidW, es.goR, seal},
		})
		if err != nil {
			err = fmt.Errorf("start the sealed hako: %w", err)
		}
		es.starting <- startedS{s, err}
	}()
	return es, nil
}

// sealAhead is the sealed copy of this binary made ahead for the next S (PrepareSeal).
type sealAhead struct {
	dummy string
	done  chan struct{}
	f     *os.File
	err   error
}

var earlySeal atomic.Pointer[sealAhead]

// PrepareSeal makes, in a goroutine, the sealed copy of this binary (fastexec.SealedSelf, with
// dummy the runtime's root) that the next start's S is executed from: the overlay's mount is
// 0.4-0.8 ms of S's way to its plan, which the monitor's start (the container's creation,
// which keeps the other core idle) has time for. A monitor calls it as it starts.
func PrepareSeal(dummy string) {
	abs, err := filepath.Abs(dummy)
	if err != nil {
		return
	}
	sa := &sealAhead{dummy: abs, done: make(chan struct{})}
	if old := earlySeal.Swap(sa); old != nil {
		go old.drop()
	}
	go func() {
		sa.f, sa.err = fastexec.SealedSelf(abs)
		close(sa.done)
	}()
}

func (sa *sealAhead) drop() {
	<-sa.done
	if sa.f != nil {
		sa.f.Close()
	}
}

// DropSeal closes the sealed copy made ahead that no start took (libcontainer's path): a
// monitor holds no more than it needs while its container runs.
func DropSeal() {
	if sa := earlySeal.Swap(nil); sa != nil {
		go sa.drop()
	}
}

// takeSeal is the sealed copy made ahead for dummy, or a new one.
func takeSeal(dummy string) (*os.File, error) {
	if sa := earlySeal.Swap(nil); sa != nil {
		if sa.dummy == dummy {
			<-sa.done
			return sa.f, sa.err
		}
		go sa.drop()
	}
	return fastexec.SealedSelf(dummy)
}

// started waits for S to have started (or failed to): the ends it was given are its own then.
func (es *earlyStart) started() startedS {
	if es.st == nil {
		st := <-es.starting
		es.st = &st
		for _, f := range []*os.File{es.profR, es.errW, es.pidW, es.goR} {
			f.Close()
		}
		es.sio.closeChild()
	}
	return *es.st
}

// abort ends an S that has no plan: it finds its plan pipe empty and exits; it is killed and
// reaped anyway. The container's stdio pipes end.
func (es *earlyStart) abort() {
	es.profW.Close()
	if st := es.started(); st.p != nil {
		_ = st.p.Kill()
		_, _ = st.p.Wait()
	}
	// The copies of the container's output end before the writers are given to another
	// start (libcontainer's, after DropEarly): no two copies into one writer at once.
	es.sio.abort()
	es.sio.wait()
	es.closePipes()
}

func (es *earlyStart) closePipes() { // a second Close does nothing
	for _, f := range es.pipes {
		f.Close()
	}
}

// StartEarly starts the C start path's first process, S, for the next StartSpec, which must
// be given the same stdio (one S per Runtime: a Runtime that starts containers concurrently
// must not use it): its exec and its C start-up (1.5 ms here, more when the cores are
// busy) then run while the caller mounts the root filesystem and writes the spec, instead of
// after the cgroups are made. A container that the C path does not take (StartSpec decides,
// from the spec), or a caller that fails before StartSpec, ends it: DropEarly. It does
// nothing where the C path is not taken anyway (no FastStart, HAKO_RUN_PATH=go, a terminal),
// for a stdin that is a reader to copy from, or when S cannot be prepared (StartSpec then
// starts one itself).
func (r *Runtime) StartEarly(stdio IO) {
	r.DropEarly() // first: its output copies end before the same writers get new ones
	_, stdinFile := stdio.Stdin.(*os.File)
	// Not for a stdin reader: its copy would start now, and what it read be lost if S is
	// dropped.
	if r.FastStart && runPath != "go" && !stdio.Tty && (stdio.Stdin == nil || stdinFile) {
		if es, err := r.beginStart(stdio); err == nil {
			r.early.Store(es)
		}
	}
}

// DropEarly ends the S that StartEarly started, if no StartSpec took it.
func (r *Runtime) DropEarly() {
	if es := r.early.Swap(nil); es != nil {
		es.abort()
	}
}

// cgroupsMaking is the making of a container's cgroups (the manager, then Apply and Set of its
// configuration), in a goroutine.
type cgroupsMaking struct {
	located chan struct{} // closed once paths (or err, or skipped) is set
	done    chan struct{} // closed once the making is over
	cm      cgroups.Manager
	paths   map[string]string
	skipped bool  // early, and the ID's cgroup existed: nothing was made
	locErr  error // the manager's, set before located is closed
	err     error // Apply's or Set's, set before done is closed
}

// created is the container StartSpec starts: libcontainer's (Create) or, on the C path with
// its cgroups made early, a fastContainer.
type created interface {
	ID() string
	State() (*libcontainer.State, error)
	Destroy() error
}

// fastContainer is what libcontainer's Create leaves for a container, made without it for the
// C path: the ID and the configuration checked (libcontainer's validator), the state directory
// made. Create would also find every cgroup mount again (~60 system calls, ~1.5 ms here, on
// the core where makeCgroups does the same search) and look at the ID's cgroups; makeCgroups
// looks at those for the C path: early, it makes nothing if they exist, and startFast then
// refuses them with processes in them or frozen, as Create does.
type fastContainer struct {
	root, id string
	config   *configs.Config
	cg       *cgroupsMaking // the cgroups startFast put the container in, once it has
}

// createFast is libcontainer.Create for the C path, with its errors (ErrInvalidID, ErrExist).
func createFast(root, id string, config *configs.Config) (*fastContainer, error) {
	if !validID(id) {
		return nil, libcontainer.ErrInvalidID
	}
	if err := validate.Validate(config); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(root, id), 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, libcontainer.ErrExist
		}
		return nil, err
	}
	return &fastContainer{root: root, id: id, config: config}, nil
}

// validID is libcontainer's rule for a container ID: letters, digits, "_+-." and not a
// path's "." or "..".
func validID(id string) bool {
	if id == "" || id == "." || id == ".." {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_+-.", r)) {
			return false
		}
	}
	return true
}

func (f *fastContainer) ID() string { return f.id }

// State is libcontainer's State of a created container: no init yet (startFast adds it).
func (f *fastContainer) State() (*libcontainer.State, error) {
	st := &libcontainer.State{
		BaseState:      libcontainer.BaseState{ID: f.id, Config: *f.config, InitProcessPid: -1},
		NamespacePaths: map[configs.NamespaceType]string{},
	}
	if f.cg != nil {
		st.CgroupPaths = maps.Clone(f.cg.paths)
	}
	return st, nil
}

// Destroy is libcontainer's destroy of a container whose init has exited (or never ran): its
// cgroups and its state directory. The C path takes only containers with a PID namespace of
// their own (startBlocker), whose processes all die with the init, so there is nothing left to
// kill first, as libcontainer's destroy does for a shared one.
func (f *fastContainer) Destroy() error {
	var err error
	if f.cg != nil {
		err = f.cg.destroy()
	}
	if rerr := os.RemoveAll(filepath.Join(f.root, f.id)); err == nil {
		err = rerr
	}
	return err
}

// cgroupSearch is where the cgroups of path would be, found ahead of the start that makes them
// (PrepareCgroups).
type cgroupSearch struct {
	path  string
	done  chan struct{}
	paths map[string]string
	err   error
}

// PrepareCgroups starts looking for where the next container's cgroups (the spec's cgroups
// path, path) will be: in v1, each hierarchy's mount (~70 system calls and mountinfo, 1.5-2 ms
// here), which the cgroup making otherwise does first, while StartSpec waits for the paths to
// plan with. A monitor calls it as it starts, before it mounts the root filesystem; a start
// whose configuration asks for other cgroups searches again. The store's previous start kept
// its search, which is taken instead where the cgroup mounts are the same (cgroupsearch_linux.go).
func (r *Runtime) PrepareCgroups(path string) {
	cs := &cgroupSearch{path: path, done: make(chan struct{})}
	r.search.Store(cs)
	go func() {
		defer close(cs.done)
		digest, points := cgroupMountsDigest()
		if cs.paths = r.cachedSearch(path, digest, points); cs.paths != nil {
			return
		}
		cm, err := manager.New(&cgroups.Cgroup{Path: path, Resources: &cgroups.Resources{}})
		if err != nil {
			cs.err = err
			return
		}
		cs.paths = cm.GetPaths()
		// Kept if the mounts did not change during the search.
		if after, _ := cgroupMountsDigest(); after == digest {
			if err := r.keepSearch(path, digest, cs.paths); err != nil {
				logrus.Debugf("cgroup search: %v", err)
			}
		}
	}()
}

// pathsFor returns what the search found if it was for c's cgroups, or nil.
func (cs *cgroupSearch) pathsFor(c *cgroups.Cgroup) map[string]string {
	if cs == nil || c.Path != cs.path || c.Name != "" || c.Parent != "" || c.Systemd || c.Rootless || c.SkipDevices {
		return nil
	}
	<-cs.done
	if cs.err != nil {
		return nil
	}
	return maps.Clone(cs.paths)
}

// makeCgroups starts making the cgroups of config. Their paths are known as soon as the
// manager exists (from search when it was for these cgroups, else found: each hierarchy's
// mount, some 60 system calls in v1), to plan with while they are made. It refuses what
// libcontainer's Create refuses (a cgroup of the ID with processes, or frozen); early (beside
// the container's creation), it makes nothing (skipped) where the ID's cgroup exists or is
// frozen, and startFast calls it again after the creation, which refuses those or takes the
// empty one.
func makeCgroups(config *configs.Config, early bool, search *cgroupSearch) *cgroupsMaking {
	m := &cgroupsMaking{located: make(chan struct{}), done: make(chan struct{})}
	// The manager's own copy: fs2's Set writes the resources back into its configuration,
	// which libcontainer's Create reads meanwhile.
	cgc := *config.Cgroups
	go func() {
		defer close(m.done)
		located := func() { close(m.located) }
		var cm cgroups.Manager
		var err error
		if paths := search.pathsFor(&cgc); paths != nil {
			cm, err = manager.NewWithPaths(&cgc, paths)
		} else {
			cm, err = manager.New(&cgc)
		}
		if err != nil {
			m.locErr = err
			located()
			return
		}
		// What libcontainer's Create refuses, in its words: a cgroup of the ID with processes
		// in it, or a frozen one (left by a monitor that died, say). In v1, Exists looks at the
		// devices hierarchy only, so the freezer is asked either way. Early, either makes
		// nothing (skipped), and the call after the create refuses them.
		exists := cm.Exists()
		if exists && early {
			m.skipped = true
		} else if exists {
			pids, err := cm.GetAllPids()
			// Reading them races with a removal of the cgroups: ENOENT and ENODEV are none.
			if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENODEV) {
				m.locErr = fmt.Errorf("unable to get cgroup PIDs: %w", err)
			} else if len(pids) != 0 {
				m.locErr = fmt.Errorf("container's cgroup is not empty: %d process(es) found", len(pids))
			}
		}
		if !m.skipped && m.locErr == nil {
			if st, err := cm.GetFreezerState(); err != nil {
				m.locErr = fmt.Errorf("unable to get cgroup freezer state: %w", err)
			} else if st == cgroups.Frozen {
				m.skipped = early
				if !early {
					m.locErr = errors.New("container's cgroup unexpectedly frozen")
				}
			}
		}
		if m.skipped || m.locErr != nil {
			located()
			return
		}
		m.cm, m.paths = cm, maps.Clone(cm.GetPaths())
		located()
		if err := cm.Apply(-1); err != nil {
			m.err = fmt.Errorf("unable to apply cgroup configuration: %w", err)
			return
		}
		if err := cm.Set(config.Cgroups.Resources); err != nil {
			m.err = fmt.Errorf("unable to set cgroup configuration: %w", err)
		}
	}()
	return m
}

// location waits for the cgroups' paths: nil with the error if the manager could not be made
// (or the making was skipped).
func (m *cgroupsMaking) location() (map[string]string, error) {
	<-m.located
	return m.paths, m.locErr
}

// wait returns once the cgroups are made, or failed to be.
func (m *cgroupsMaking) wait() error {
	<-m.done
	if m.locErr != nil {
		return m.locErr
	}
	return m.err
}

// undo removes what was made of the cgroups, once the making is over.
func (m *cgroupsMaking) undo() {
	_ = m.destroy()
}

// destroy is undo with its error.
func (m *cgroupsMaking) destroy() error {
	<-m.done
	if m.cm != nil {
		return m.cm.Destroy()
	}
	return nil
}

func (r *Runtime) startFast(c created, p *fastexec.StartProfile, config *configs.Config, stdio IO, ep *execProfile, cg *cgroupsMaking, planned func()) (*Process, error) {
	id := c.ID()
	stateDir := filepath.Join(r.root, id)
	// The cgroups, with their limits, before anything runs in them (started while the container
	// was created: StartSpec); S enters them once it has its plan, and its clone of the init
	// the v2 one (hako_host_setup). The mounts are planned while they are made.
	if cg != nil {
		if <-cg.located; cg.skipped {
			cg = nil
		}
	}
	if cg == nil {
		cg = makeCgroups(config, false, r.search.Load())
	}
	defer cg.wait() // done before the caller's clean-up destroys the cgroups
	if fc, ok := c.(*fastContainer); ok {
		fc.cg = cg
	}
	// S starts first (or has started: StartEarly), and waits for its plan on a pipe: its exec
	// and its C start-up run while the cgroups are made and the mounts planned.
	es := r.early.Swap(nil)
	if es == nil {
		var err error
		if es, err = r.beginStart(stdio); err != nil {
			return nil, err
		}
	}
	defer es.closePipes()
	sio := es.sio
	profW, errR, pidR, goW := es.profW, es.errR, es.pidR, es.goW
	started := es.started
	// A failure before S has its plan. The making is over first, for the caller's clean-up.
	abort := func(err error) (*Process, error) {
		_ = cg.wait()
		es.abort()
		return nil, err
	}
	paths, err := cg.location()
	if err != nil {
		return abort(err)
	}
	ss := started()
	if ss.err != nil {
		return abort(ss.err)
	}
	s := ss.p
	p.Cgroups = cgroupDirs(paths)
	// The network namespace made ahead (PrepareNetNS), taken as late as the plan allows: it is
	// made on the other core meanwhile.
	if netns := r.netns.Swap(nil).take(); netns != nil {
		defer netns.Close() // S has joined it, or is gone, once this returns
		joinNetNS(p, netns)
	}
	if err := planMounts(p, config, paths); err != nil {
		return abort(fmt.Errorf("plan the container's mounts: %w", err))
	}
	data, err := p.Marshal()
	if err != nil {
		return abort(err)
	}
	phase("rt: C start planned")
	if err := cg.wait(); err != nil {
		return abort(err)
	}
	phase("rt: C start cgroups made")
	// The plan. Only this process holds the pipe's other end; a write that fails (S died)
	// leaves S's own report, read below.
	profW.Write(data)
	profW.Close()
	phase("rt: C start S started")
	// libcontainer's state, all but the init's PID and start time, is put into JSON while S
	// and the init work: the configuration (Docker's seccomp profile and all) takes
	// milliseconds to encode. The caller's work waits for it (planned): on two cores, S and
	// the init on one, two encodings at once on the other would take turns with them.
	stateJSON := make(chan stateParts, 1)
	if st, err := c.State(); err != nil {
		stateJSON <- stateParts{err: err}
		planned()
	} else {
		st.CgroupPaths = paths
		go func() {
			stateJSON <- encodeState(st)
			planned()
		}()
	}
	// The PID pipe carries S's "PID\n" and, once the init has found the command and waits for
	// the word to exec it, its "R". The two writes are atomic (under PIPE_BUF) but their order
	// is not: S may be descheduled between its clone and its write, and the init's "R" come
	// first. EOF comes when both have closed it, S by exiting, the init after its "R" or by
	// dying.
	var pidText []byte
	pid := 0
	for buf := make([]byte, 32); ; {
		n, err := pidR.Read(buf)
		pidText = append(pidText, buf[:n]...)
		if t := strings.Replace(string(pidText), "R", "", 1); strings.HasSuffix(t, "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(t))
			break
		}
		if err != nil {
			break
		}
	}
	// libcontainer's state file, with the init's PID and start time, is written while the init
	// sets the container up (as libcontainer reads the init's descriptors as soon as it runs):
	// the start time and descriptors first, before the init re-opens /dev/null on its stdio
	// (start.c), then the rest when it is encoded. A failure counts only if the init gets
	// ready: one that does not says why itself. S writes its PID line in one write, so a pipe
	// that ends without one has no init to wait for.
	var parts stateParts
	var start uint64
	var stateErr, goErr error // goErr: why the word was not given
	if pid > 0 {
		stateErr = func() error {
			var err error
			if start, err = procStartTime(pid); err != nil {
				return fmt.Errorf("the init: %w", err)
			}
			stdio := stdioPaths(pid)
			if parts = <-stateJSON; parts.err != nil {
				return parts.err
			}
			js, err := parts.complete(pid, start, config, stdio)
			if err != nil {
				return err
			}
			if err := atomicfile.Replace(filepath.Join(stateDir, "state.json"), js, 0o600); err != nil {
				return fmt.Errorf("save state: %w", err)
			}
			phase("rt: C start state written")
			return nil
		}()
		// The container is recorded: the word goes now, while the init is still setting up,
		// which reads it once it is ready, instead of a round trip through this process after
		// its "R" (S waited for, the word written, the init woken). An init that fails before
		// it is ready never reads it; S does nothing after its clone but write the PID line.
		if stateErr == nil {
			if goErr = testHookBeforeGo(pid); goErr == nil {
				if _, err := goW.Write([]byte("G")); err != nil {
					goErr = errors.New("the init is gone")
				}
			}
		}
	}
	rest, _ := io.ReadAll(pidR)
	pidText = append(pidText, rest...)
	sst, _ := s.Wait()
	phase("rt: C start init ready")
	ready := strings.Count(string(pidText), "R") == 1
	var init *os.Process
	if pid > 0 {
		init, _ = os.FindProcess(pid) // a pidfd: the init is our child (CLONE_PARENT)
	}
	fail := func(err error) (*Process, error) {
		goW.Close() // an init that waits for the word exits
		if init != nil {
			_ = init.Kill()
			_, _ = init.Wait()
		}
		sio.abort()
		return nil, err
	}
	if !ready || pid <= 0 {
		// An init waiting for the word (S failed after its clone) exits at EOF on the go
		// pipe and closes the error pipe; one that failed has said why there already.
		goW.Close()
		msg, _ := io.ReadAll(errR)
		return fail(fastStartError(msg, sst))
	}
	if stateErr != nil {
		return fail(stateErr)
	}
	if goErr != nil {
		return fail(goErr)
	}
	// The word was given above, once the container was recorded: the init may exec the
	// command. EOF on the error pipe is the exec (the pipe is close-on-exec); a message is a
	// command that could not be executed.
	goW.Close()
	if msg, _ := io.ReadAll(errR); len(msg) > 0 {
		return fail(fastStartError(msg, sst))
	}
	phase("rt: C start command executed")
	proc := &Process{Pid: pid, done: make(chan struct{}), signal: init.Signal, cgroupPaths: paths, destroy: c.Destroy}
	if ep != nil {
		// From what is known here: no state to load.
		ep.filter, ep.process = p.Seccomp, &p.Profile
		est := &libcontainer.State{CgroupPaths: paths, NamespacePaths: parts.nsPaths}
		est.InitProcessPid, est.InitProcessStartTime = pid, start
		proc.execProfile = func() {
			ep.writeState(r.root, est)
			phase("rt: exec profile written")
		}
	}
	if stdio.CallerReaps {
		proc.callerReaps = true
		return proc, nil
	}
	go func() {
		ps, err := init.Wait()
		sio.wait()
		proc.exit, proc.err = exitCode(ps, err)
		close(proc.done)
	}()
	return proc, nil
}

// fastStartError turns what the C path reported ("CODE\nMESSAGE") into Start's error, in
// libcontainer's words and classes.
func fastStartError(msg []byte, s *os.ProcessState) error {
	code, text, ok := bytes.Cut(msg, []byte("\n"))
	if !ok || len(text) == 0 {
		return fmt.Errorf("the C start path failed without a word (%v)", s)
	}
	err := errors.New(string(text))
	switch string(code) {
	case "127":
		return errClassed{err, errdefs.ErrCommandNotFound}
	case "126":
		return errClassed{err, errdefs.ErrCannotExecute}
	}
	return err
}

// procStartTime is field 22 of /proc/PID/stat, as libcontainer records it.
func procStartTime(pid int) (uint64, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 20 {
		return 0, errors.New("malformed stat")
	}
	return strconv.ParseUint(f[19], 10, 64) // field 22; f[0] is field 3
}

// stdioFiles are the init's stdin, stdout and stderr as files, with pipes and copying
// goroutines for a reader or writer that is not one (as exec.Cmd does).
type stdioFiles struct {
	child   [3]*os.File
	closers []*os.File // ours to close once the child has them
	copying sync.WaitGroup
	parents []*os.File // our ends, closed on abort
}

func newStdio(stdio IO) (*stdioFiles, error) {
	s := &stdioFiles{}
	devNull := func() (*os.File, error) {
		f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err == nil {
			s.closers = append(s.closers, f)
		}
		return f, err
	}
	var err error
	switch in := stdio.Stdin.(type) {
	case nil:
		s.child[0], err = devNull()
	case *os.File:
		s.child[0] = in
	default:
		var pr, pw *os.File
		if pr, pw, err = pipeFrom(in); err == nil {
			s.child[0] = pr
			s.closers = append(s.closers, pr)
			s.parents = append(s.parents, pw)
		}
	}
	for i, w := range []io.Writer{stdio.Stdout, stdio.Stderr} {
		if err != nil {
			break
		}
		if _, file := w.(*os.File); i == 1 && w != nil && !file && sameWriter(stdio.Stdout, w) {
			// One writer for both (a build step's output): one pipe, one goroutine writing
			// into it, as exec.Cmd does (and run, io_linux.go).
			s.child[2] = s.child[1]
			continue
		}
		switch out := w.(type) {
		case nil:
			s.child[i+1], err = devNull()
		case *os.File:
			s.child[i+1] = out
		default:
			var pr, pw *os.File
			if pr, pw, err = os.Pipe(); err == nil {
				s.child[i+1] = pw
				s.closers = append(s.closers, pw)
				s.parents = append(s.parents, pr)
				s.copying.Add(1)
				go func() {
					defer s.copying.Done()
					_, _ = io.Copy(out, pr)
					_ = pr.Close()
				}()
			}
		}
	}
	if err != nil {
		s.closeChild()
		s.abort()
		return nil, fmt.Errorf("stdio: %w", err)
	}
	return s, nil
}

func (s *stdioFiles) closeChild() {
	for _, f := range s.closers {
		_ = f.Close()
	}
	s.closers = nil
}

// abort closes our ends, ending the copying.
func (s *stdioFiles) abort() {
	for _, f := range s.parents {
		_ = f.Close()
	}
}

// wait waits for the output to be copied (EOF: every holder of the pipes exited).
func (s *stdioFiles) wait() { s.copying.Wait() }

// stateParts is libcontainer's state as JSON, without the init's members: the object, encoded
// once while S and the init work, which complete then opens with the init's.
type stateParts struct {
	body    []byte                           // {...}: every member but the late ones
	nsPaths map[configs.NamespaceType]string // set by complete
	err     error
}

// encodeState encodes libcontainer's State without the members that complete adds
// (ocijson.StateBody), with package ocijson's generated encoder: encoding/json would build its
// encoders for the state's ~60 types first, by reflection, in every run (docs/run.md).
func encodeState(st *libcontainer.State) stateParts {
	js, err := ocijson.MarshalStateBody(st)
	if err == nil && (len(js) < 2 || js[0] != '{' || js[1] == '}') {
		err = fmt.Errorf("libcontainer's state encoded as %.20q", js)
	}
	return stateParts{body: js, err: err}
}

// complete adds the init: its PID and start time, and its namespaces' paths (for each type,
// as libcontainer's currentState lists them: the configured ones, then every other type the
// kernel has, which is the host's, seen through the init).
func (sp *stateParts) complete(pid int, start uint64, config *configs.Config, stdio []string) ([]byte, error) {
	nsPaths := make(map[configs.NamespaceType]string)
	sp.nsPaths = nsPaths
	for _, ns := range config.Namespaces {
		nsPaths[ns.Type] = ns.GetPath(pid)
	}
	for _, t := range configs.NamespaceTypes() {
		if _, ok := nsPaths[t]; !ok && configs.IsNamespaceSupported(t) {
			nsPaths[t] = (&configs.Namespace{Type: t}).GetPath(pid)
		}
	}
	late, err := ocijson.MarshalStateLate(&ocijson.StateLate{
		InitProcessPid:       pid,
		InitProcessStartTime: start,
		NamespacePaths:       nsPaths,
		Created:              time.Now().UTC(), // libcontainer's Start sets it; Create does not
		ExternalDescriptors:  stdio,
	})
	if err != nil {
		return nil, err
	}
	// {late...} and {body...} make {late..., body...}.
	out := make([]byte, 0, len(late)+len(sp.body))
	out = append(append(out, late[:len(late)-1]...), ',')
	return append(out, sp.body[1:]...), nil
}

// stdioPaths are what the init's stdin, stdout and stderr are, as libcontainer records them
// (its ExternalDescriptors, for checkpoints): /proc/PID/fd/N's links.
func stdioPaths(pid int) []string {
	out := make([]string, 3)
	for fd := range out {
		out[fd], _ = os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
	}
	return out
}
