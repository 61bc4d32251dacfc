package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/fastexec"
	"github.com/hako-dev/hako/internal/spec"
)

func (c *ctr) profilePath() string {
	return filepath.Join(c.rt.root, c.id, fastexec.ProfileName)
}

// startSleeping starts the container's sh, which waits for its child sleep 100; the test's
// cleanup kills both.
func (c *ctr) startSleeping(opts spec.Options, edit func(*specs.Spec)) (*specs.Spec, *Process) {
	c.t.Helper()
	s := c.writeSpec(opts, "sh", "-c", "sleep 100 & wait")
	if edit != nil {
		edit(s)
		c.saveSpec(s)
	}
	p, err := c.start(nil, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := os.Stat(c.profilePath()); err == nil {
		c.t.Fatal("Start wrote the exec profile itself: it is the caller's to write, off the start's path")
	}
	p.WriteExecProfile()
	return s, p
}

func (c *ctr) readProfile() ([]byte, *fastexec.Profile) {
	c.t.Helper()
	data, err := os.ReadFile(c.profilePath())
	if err != nil {
		c.t.Fatalf("no exec profile: %v", err)
	}
	if fi, _ := os.Stat(c.profilePath()); fi.Mode().Perm() != 0o600 {
		c.t.Errorf("profile mode %v, want 0600", fi.Mode().Perm())
	}
	prof, err := fastexec.Parse(data)
	if err != nil {
		c.t.Fatalf("parse the exec profile: %v", err)
	}
	return data, prof
}

// startTimeOf is field 22 of /proc/PID/stat.
func startTimeOf(t *testing.T, pid int) uint64 {
	t.Helper()
	v, err := procStartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// childOf waits for the container's second process (the init's sleep) and returns its PID.
func childOf(t *testing.T, prof *fastexec.Profile, init int) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		procs, err := os.ReadFile(filepath.Join(prof.Cgroups[0], "cgroup.procs"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range strings.Fields(string(procs)) {
			if pid, _ := strconv.Atoi(f); pid != init && pid > 0 {
				return pid
			}
		}
	}
	t.Fatal("the container's sleep never started")
	return 0
}

var nsNames = map[specs.LinuxNamespaceType]string{
	specs.UserNamespace: "user", specs.MountNamespace: "mnt", specs.PIDNamespace: "pid",
	specs.NetworkNamespace: "net", specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts",
	specs.CgroupNamespace: "cgroup",
}

func TestExecProfile(t *testing.T) {
	for _, nnp := range []bool{false, true} {
		// libcontainer loads the filter before it drops capabilities without
		// no_new_privileges, and as late as it can with it: both must be read back.
		t.Run("nnp="+strconv.FormatBool(nnp), func(t *testing.T) {
			c := newCtr(t, nil)
			s, p := c.startSleeping(spec.Options{NoNewPrivileges: nnp, Env: []string{"MULTI=a\nb"}, User: "bob", WorkingDir: "/tmp"}, nil)
			data, prof := c.readProfile()
			if prof.ID != c.id || prof.Pid != p.Pid {
				t.Errorf("id %q pid %d, want %q %d", prof.ID, prof.Pid, c.id, p.Pid)
			}
			if want := startTimeOf(t, p.Pid); prof.StartTime != want {
				t.Errorf("start %d, want %d", prof.StartTime, want)
			}
			var want []string
			for _, ns := range s.Linux.Namespaces {
				want = append(want, nsNames[ns.Type])
			}
			var got []string
			for _, ns := range prof.Namespaces {
				got = append(got, ns.Type)
				if ns.Path != fmt.Sprintf("/proc/%d/ns/%s", p.Pid, ns.Type) {
					t.Errorf("namespace %s at %s", ns.Type, ns.Path)
				}
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("namespaces %q, want %q", got, want)
			}
			if len(prof.Cgroups) == 0 || !slices.IsSorted(prof.Cgroups) {
				t.Errorf("cgroups %q", prof.Cgroups)
			}
			for _, dir := range prof.Cgroups {
				if procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs")); err != nil || !slices.Contains(strings.Fields(string(procs)), strconv.Itoa(p.Pid)) {
					t.Errorf("the init is not in cgroup %s: %q %v", dir, procs, err)
				}
			}
			if st, err := os.ReadFile(prof.Freezer); err != nil || !(strings.HasPrefix(string(st), "THAWED") || string(st) == "0\n") {
				t.Errorf("freezer %s: %q %v", prof.Freezer, st, err)
			}
			if prof.UID != 1000 || prof.GID != 1000 || !slices.Equal(prof.Groups, s.Process.User.AdditionalGids) ||
				prof.Cwd != "/tmp" || !slices.Equal(prof.Env, s.Process.Env) || prof.NoNewPrivileges != nnp {
				t.Errorf("process: %+v", prof)
			}
			if prof.SessionKeyring != "_ses."+c.id {
				t.Errorf("keyring %q", prof.SessionKeyring)
			}
			caps := s.Process.Capabilities
			if got := fmt.Sprintf("%016x", prof.Caps.Bounding); got != capMask(caps.Bounding) {
				t.Errorf("bounding %s, want %s", got, capMask(caps.Bounding))
			}
			if got := fmt.Sprintf("%016x", prof.Caps.Effective); got != capMask(caps.Effective) {
				t.Errorf("effective %s, want %s", got, capMask(caps.Effective))
			}

			if !seccompSupported {
				t.Skip("SECCOMP NOT TESTED: build with -tags seccomp (needs libseccomp-dev) to run it")
			}
			if len(prof.Seccomp) == 0 {
				t.Fatalf("no seccomp program in the profile of a container with the default profile")
			}
			// The init's child has the init's filter, the most recent one (index 0). The init
			// itself is not traced: its Process.Wait, waiting, would take the ptrace stop.
			child := childOf(t, prof, p.Pid)
			progs, err := seccompFilters(child, 1)
			if err != nil {
				t.Fatal(err)
			}
			// A read-back that fails with the tracee stopped (there is no second filter)
			// leaves it running and untraced.
			if _, err := seccompFilters(child, 2); err == nil {
				t.Error("read back a second filter")
			}
			if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", child)); !bytes.Contains(st, []byte("\nTracerPid:\t0\n")) || bytes.Contains(st, []byte("(tracing stop)")) {
				t.Errorf("after a failed read-back:\n%s", st)
			}
			if len(progs[0]) != len(prof.Seccomp) {
				t.Errorf("profile's program: %d instructions, the container's filter %d", len(prof.Seccomp), len(progs[0]))
			} else if !slices.Equal(progs[0], prof.Seccomp) {
				t.Errorf("the profile's program differs from the container's filter")
			}
			// specconv asks for SPEC_ALLOW when libseccomp and the kernel have it, and the
			// default profile asks for nothing else.
			if prof.SeccompFlags&^unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW != 0 {
				t.Errorf("seccomp flags %d", prof.SeccompFlags)
			}
			t.Logf("%d bytes, seccomp program of %d instructions, flags %d", len(data), len(prof.Seccomp), prof.SeccompFlags)
		})
	}
}

func TestExecProfileUnconfined(t *testing.T) {
	c := newCtr(t, nil)
	_, p := c.startSleeping(spec.Options{Seccomp: spec.SeccompUnconfined}, nil)
	data, prof := c.readProfile()
	if prof.Seccomp != nil || prof.SeccompFlags != 0 || bytes.Contains(data, []byte("\x00seccomp=")) {
		t.Errorf("unconfined container: seccomp %d instructions, flags %d", len(prof.Seccomp), prof.SeccompFlags)
	}
	// A process without a filter: the read-back gives up at its deadline (and traces nothing).
	if prog, err := initSeccompFilter(p.Pid, 50*time.Millisecond); err == nil {
		t.Errorf("read back a filter of %d instructions from an unconfined init", len(prog))
	}
	// The profile goes with libcontainer's state.
	if err := c.rt.Delete(c.id, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.profilePath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("profile after Delete: %v", err)
	}
}

// A container whose spec asks for what the C path does not do has no profile, and starts.
// TestExecProfileOnlyForMonitors: a runtime without ExecProfiles (a build's RUN steps) neither
// reads the filter back nor writes a profile.
func TestExecProfileOnlyForMonitors(t *testing.T) {
	c := newCtr(t, nil)
	c.rt = &Runtime{root: c.rt.root}
	c.writeSpec(spec.Options{}, "sh", "-c", "sleep 100 & wait")
	p, err := c.start(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.WriteExecProfile()
	if _, err := os.Stat(c.profilePath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("profile of a container started without ExecProfiles: %v", err)
	}
}

func TestExecProfileBlocked(t *testing.T) {
	umask := uint32(0o027)
	c := newCtr(t, nil)
	c.startSleeping(spec.Options{}, func(s *specs.Spec) { s.Process.User.Umask = &umask })
	if _, err := os.Stat(c.profilePath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("profile of a container with a umask: %v", err)
	}
}
