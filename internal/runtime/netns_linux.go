//go:build linux

package runtime

import (
	"fmt"
	"os"
	goruntime "runtime"

	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/fastexec"
)

// earlyNetNS is a network namespace made ahead of the next start (PrepareNetNS).
type earlyNetNS struct {
	done chan struct{}
	f    *os.File // the namespace (an nsfs file), nil if it could not be made
}

// PrepareNetNS starts making, on another thread, the network namespace of the next StartSpec's
// container, with its loopback up. On the C path the init would otherwise make it as S clones
// it: copy_net_ns is ~1 ms of kernel work on the start's critical path, which S and the init
// walk on one core while the other has little to do (perf sched). With one made ahead, S joins
// it as it joins a namespace given by path, and the init has no loopback to bring up.
// The plan takes it only for a configuration of a new network namespace with its loopback
// (every container of network "none"); a start that does not take it (the Go path, another
// network) closes it, as does DropNetNS. One per Runtime, as StartEarly's S; nothing where
// the C path is never taken (as StartEarly: no FastStart, HAKO_RUN_PATH=go, a terminal).
func (r *Runtime) PrepareNetNS(stdio IO) {
	if !r.FastStart || runPath == "go" || stdio.Tty {
		return
	}
	n := &earlyNetNS{done: make(chan struct{})}
	if old := r.netns.Swap(n); old != nil {
		old.drop()
	}
	go func() {
		defer close(n.done)
		var err error
		if n.f, err = newNetNS(); err != nil { // without one, the init makes its own, as before
			phase("rt: no network namespace ahead: " + err.Error())
		}
	}()
}

// DropNetNS closes the namespace that PrepareNetNS made, if no start took it.
func (r *Runtime) DropNetNS() {
	if n := r.netns.Swap(nil); n != nil {
		n.drop()
	}
}

func (n *earlyNetNS) drop() {
	if f := n.take(); f != nil {
		f.Close()
	}
}

// take waits for the namespace and returns it, or nil if there is none.
func (n *earlyNetNS) take() *os.File {
	if n == nil {
		return nil
	}
	<-n.done
	return n.f
}

// newNetNS makes a network namespace with its loopback up, from a locked thread that enters
// it (unshare) and goes back (setns). A thread that cannot go back is not given back to the
// Go runtime: it ends with the calling goroutine, which must therefore end right after (as
// PrepareNetNS's does).
func newNetNS() (*os.File, error) {
	goruntime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		goruntime.UnlockOSThread()
		return nil, fmt.Errorf("open the network namespace: %w", err)
	}
	defer unix.Close(orig)
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		goruntime.UnlockOSThread()
		return nil, fmt.Errorf("new network namespace: %w", err)
	}
	fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		if err = loopbackUp(); err != nil {
			unix.Close(fd)
		}
	}
	if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
		goruntime.UnlockOSThread()
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "network namespace"), nil
}

// loopbackUp brings up lo in the calling thread's network namespace, as the init's
// loopback_up (start.c) does, and libcontainer's loopback network (netlink) for the Go path.
func loopbackUp() error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("unable to bring up the loopback interface: %w", err)
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("unable to bring up the loopback interface: %w", err)
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("unable to bring up the loopback interface: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("unable to bring up the loopback interface: %w", err)
	}
	return nil
}

// joinNetNS makes the plan p join netns, a network namespace with its loopback up, where it
// would have the init make one and bring its loopback up.
func joinNetNS(p *fastexec.StartProfile, netns *os.File) {
	if !p.Loopback {
		return
	}
	for i, ns := range p.Namespaces {
		if ns.Type == "net" && ns.Path == "" {
			if path := netnsPath(netns); path != "" {
				p.Namespaces[i].Path, p.Loopback = path, false
			}
			return
		}
	}
}

// netnsPath is a path by which S (another process, on the host) opens f: this process's
// /proc entry for the descriptor, if it names the same namespace (a /proc of another PID
// namespace would not), else "".
func netnsPath(f *os.File) string {
	path := fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), f.Fd())
	var want, got unix.Stat_t
	if unix.Fstat(int(f.Fd()), &want) != nil || unix.Stat(path, &got) != nil || want.Dev != got.Dev || want.Ino != got.Ino {
		return ""
	}
	return path
}
