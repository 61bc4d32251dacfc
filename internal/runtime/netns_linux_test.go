package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/spec"
)

// preparedNetNS is the inode of the namespace that PrepareNetNS made, once it exists.
func preparedNetNS(t *testing.T, rt *Runtime) uint64 {
	t.Helper()
	f := rt.netns.Load().take()
	if f == nil {
		t.Fatal("PrepareNetNS made no namespace")
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// heldNetNS counts this process's descriptors of the network namespace of inode ino.
func heldNetNS(ino uint64) int {
	n := 0
	fds, _ := filepath.Glob("/proc/self/fd/*")
	for _, fd := range fds {
		if l, _ := os.Readlink(fd); l == fmt.Sprintf("net:[%d]", ino) {
			n++
		}
	}
	return n
}

// A network namespace made ahead (PrepareNetNS) is the container's on the C path, with its
// loopback up as the init would have brought it up; no start keeps it open afterwards, and
// one that does not take it (the Go path, another network) or DropNetNS closes it.
func TestPrepareNetNS(t *testing.T) {
	warmSeccomp(t, spec.Options{})
	withRunPath(t, "c")
	probe := []string{"sh", "-c", "readlink /proc/self/ns/net; cat /sys/class/net/lo/flags /sys/class/net/lo/operstate; ls /sys/class/net"}
	host, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}

	// Made afresh by the init, for reference.
	c := newCtr(t, nil)
	fresh := c.mustRun(spec.Options{}, probe...)
	_, freshRest, _ := strings.Cut(fresh.stdout, "\n")

	c = newCtr(t, nil)
	c.rt.PrepareNetNS(IO{})
	ino := preparedNetNS(t, c.rt)
	r := c.mustRun(spec.Options{}, probe...)
	ns, rest, _ := strings.Cut(r.stdout, "\n")
	if r.exit != 0 || ns != fmt.Sprintf("net:[%d]", ino) || ns == host || rest != freshRest {
		t.Errorf("prepared: exit %d, stdout %q (want the namespace net:[%d], then %q), stderr %q", r.exit, r.stdout, ino, freshRest, r.stderr)
	}
	if c.rt.netns.Load() != nil || heldNetNS(ino) != 0 {
		t.Errorf("the start left the namespace open (%d descriptors)", heldNetNS(ino))
	}

	// Dropped, replaced: closed.
	c.rt.PrepareNetNS(IO{})
	ino = preparedNetNS(t, c.rt)
	c.rt.DropNetNS()
	c.rt.DropNetNS() // twice: nothing
	if heldNetNS(ino) != 0 {
		t.Error("DropNetNS left the namespace open")
	}
	c.rt.PrepareNetNS(IO{})
	ino = preparedNetNS(t, c.rt)
	c.rt.PrepareNetNS(IO{})
	if heldNetNS(ino) != 0 {
		t.Error("a second PrepareNetNS left the first namespace open")
	}
	c.rt.DropNetNS()

	// Not taken: a container of the host's network, and one that libcontainer starts.
	withRunPath(t, "")
	for _, kind := range []string{"host network", "Go path"} {
		c := newCtr(t, nil)
		sp := c.writeSpec(spec.Options{}, probe...)
		if kind == "host network" {
			sp.Linux.Namespaces = slices.DeleteFunc(sp.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace })
			sp.Linux.Sysctl = nil // net.* only in a network namespace of its own
		} else { // no PID namespace of its own: the C path hands it over
			sp.Linux.Namespaces = slices.DeleteFunc(sp.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.PIDNamespace })
		}
		c.saveSpec(sp)
		c.rt.PrepareNetNS(IO{})
		ino := preparedNetNS(t, c.rt)
		var out strings.Builder
		p, err := c.rt.Start(context.Background(), c.id, c.bundle, IO{Stdout: &out})
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if code, err := waitTimeout(t, p, 10*time.Second); code != 0 || err != nil {
			t.Errorf("%s: exit %d %v", kind, code, err)
		}
		got, _, _ := strings.Cut(out.String(), "\n")
		if got == fmt.Sprintf("net:[%d]", ino) || (kind == "host network") != (got == host) {
			t.Errorf("%s: the container's namespace is %s (prepared net:[%d], the host's %s)", kind, got, ino, host)
		}
		if heldNetNS(ino) != 0 {
			t.Errorf("%s: the prepared namespace is still open", kind)
		}
	}

	// Nothing where the C path is never taken.
	withRunPath(t, "go")
	c.rt.PrepareNetNS(IO{})
	if c.rt.netns.Load() != nil {
		t.Error("PrepareNetNS under HAKO_RUN_PATH=go made a namespace")
	}
	withRunPath(t, "")
	c.rt.PrepareNetNS(IO{Tty: true})
	if c.rt.netns.Load() != nil {
		t.Error("PrepareNetNS with a terminal made a namespace")
	}
}
