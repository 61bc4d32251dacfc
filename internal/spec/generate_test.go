package spec

import (
	"errors"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hako-dev/hako/internal/errdefs"
)

const testID = "0123456789abcdef0123"

func gen(t *testing.T, img ocispec.ImageConfig, opts Options) *specs.Spec {
	t.Helper()
	if opts.ID == "" {
		opts.ID = testID
	}
	if opts.Seccomp == "" {
		opts.Seccomp = SeccompUnconfined // the seccomp tests are Linux-only
	}
	s, err := Generate(img, opts)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return s
}

func TestArgs(t *testing.T) {
	empty := []string{}
	ep := []string{"/ep"}
	tests := []struct {
		name    string
		img     ocispec.ImageConfig
		opts    Options
		want    []string
		wantErr bool
	}{
		{name: "image cmd", img: ocispec.ImageConfig{Cmd: []string{"/bin/sh", "-c", "echo hi"}}, want: []string{"/bin/sh", "-c", "echo hi"}},
		{name: "entrypoint and cmd", img: ocispec.ImageConfig{Entrypoint: []string{"/e", "x"}, Cmd: []string{"c"}}, want: []string{"/e", "x", "c"}},
		{name: "run cmd replaces image cmd", img: ocispec.ImageConfig{Entrypoint: []string{"/e"}, Cmd: []string{"c"}}, opts: Options{Cmd: []string{"d"}}, want: []string{"/e", "d"}},
		{name: "--entrypoint resets cmd", img: ocispec.ImageConfig{Entrypoint: []string{"/e"}, Cmd: []string{"c"}}, opts: Options{Entrypoint: &ep}, want: []string{"/ep"}},
		{name: "--entrypoint with cmd", img: ocispec.ImageConfig{Cmd: []string{"c"}}, opts: Options{Entrypoint: &ep, Cmd: []string{"a"}}, want: []string{"/ep", "a"}},
		{name: "empty --entrypoint", img: ocispec.ImageConfig{Entrypoint: []string{"/e"}}, opts: Options{Entrypoint: &empty, Cmd: []string{"ls"}}, want: []string{"ls"}},
		{name: "nothing", img: ocispec.ImageConfig{Entrypoint: []string{"/e"}}, opts: Options{Entrypoint: &empty}, wantErr: true},
		{name: "init", img: ocispec.ImageConfig{Cmd: []string{"top"}}, opts: Options{Init: true, InitBinary: "/usr/bin/tini"}, want: []string{InitPath, "--", "top"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.ID = testID
			tt.opts.Seccomp = SeccompUnconfined
			s, err := Generate(tt.img, tt.opts)
			if tt.wantErr {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want InvalidArgument", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.Process.Args, tt.want) {
				t.Errorf("args = %q, want %q", s.Process.Args, tt.want)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	img := ocispec.ImageConfig{Env: []string{"PATH=/img/bin", "A=1", "B=2"}, Cmd: []string{"x"}}
	s := gen(t, img, Options{Env: []string{"B=3", "C=4"}, Tty: true})
	want := []string{"PATH=/img/bin", "HOSTNAME=" + testID[:12], "TERM=xterm", "A=1", "B=3", "C=4"}
	if !slices.Equal(s.Process.Env, want) {
		t.Errorf("env = %q, want %q", s.Process.Env, want)
	}
	s = gen(t, ocispec.ImageConfig{Cmd: []string{"x"}}, Options{})
	want = []string{"PATH=" + DefaultPathEnv, "HOSTNAME=" + testID[:12]}
	if !slices.Equal(s.Process.Env, want) {
		t.Errorf("env = %q, want %q", s.Process.Env, want)
	}
}

func TestDefaults(t *testing.T) {
	s := gen(t, ocispec.ImageConfig{Cmd: []string{"x"}, WorkingDir: "/w/"}, Options{Hostname: "h"})
	if s.Root.Path != "rootfs" || s.Root.Readonly {
		t.Errorf("root = %+v", s.Root)
	}
	if s.Hostname != "h" || s.Process.Cwd != "/w" {
		t.Errorf("hostname %q cwd %q", s.Hostname, s.Process.Cwd)
	}
	if !slices.Equal(s.Process.Capabilities.Bounding, DefaultCapabilities()) ||
		!slices.Equal(s.Process.Capabilities.Effective, DefaultCapabilities()) ||
		len(s.Process.Capabilities.Inheritable) != 0 {
		t.Errorf("caps = %+v", s.Process.Capabilities)
	}
	var dests []string
	for _, m := range s.Mounts {
		dests = append(dests, m.Destination)
	}
	for _, d := range []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"} {
		if !slices.Contains(dests, d) {
			t.Errorf("no default mount on %s", d)
		}
	}
	for _, m := range s.Mounts {
		if (m.Destination == "/sys" || m.Destination == "/sys/fs/cgroup") && !slices.Contains(m.Options, "ro") {
			t.Errorf("%s not read-only: %v", m.Destination, m.Options)
		}
	}
	if !slices.Contains(s.Linux.MaskedPaths, "/proc/kcore") || !slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys") {
		t.Errorf("masked %v readonly %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	var ns []specs.LinuxNamespaceType
	for _, n := range s.Linux.Namespaces {
		ns = append(ns, n.Type)
	}
	if !slices.Equal(ns, []specs.LinuxNamespaceType{"mount", "network", "uts", "pid", "ipc"}) {
		t.Errorf("namespaces = %v", ns)
	}
	if s.Linux.CgroupsPath != "/hako/"+testID {
		t.Errorf("cgroups path %q", s.Linux.CgroupsPath)
	}
	if s.Process.OOMScoreAdj != nil {
		t.Errorf("oom_score_adj set: a negative one is refused here, and Docker leaves it alone")
	}
}

func TestWorkdirRelative(t *testing.T) {
	_, err := Generate(ocispec.ImageConfig{Cmd: []string{"x"}}, Options{ID: "x", WorkingDir: "rel", Seccomp: SeccompUnconfined})
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("err = %v", err)
	}
}

func TestHostNetwork(t *testing.T) {
	s := gen(t, ocispec.ImageConfig{Cmd: []string{"x"}}, Options{NetworkMode: "host"})
	for _, n := range s.Linux.Namespaces {
		if n.Type == specs.NetworkNamespace {
			t.Errorf("host network has a network namespace")
		}
	}
	if s.Linux.Sysctl != nil {
		t.Errorf("net sysctls with host network: %v", s.Linux.Sysctl)
	}
	s = gen(t, ocispec.ImageConfig{Cmd: []string{"x"}}, Options{NetNSPath: "/run/netns/x"})
	if s.Linux.Namespaces[1] != (specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/run/netns/x"}) {
		t.Errorf("namespaces %v", s.Linux.Namespaces)
	}
	if _, err := Generate(ocispec.ImageConfig{Cmd: []string{"x"}}, Options{ID: "x", NetworkMode: "weird"}); !errors.Is(err, errdefs.ErrNotImplemented) {
		t.Errorf("err = %v", err)
	}
}

func TestResources(t *testing.T) {
	ul := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}}
	s := gen(t, ocispec.ImageConfig{Cmd: []string{"x"}}, Options{Memory: 64 << 20, NanoCPUs: 1_500_000_000, PidsLimit: 10, Ulimits: ul, CgroupParent: "p/q"})
	r := s.Linux.Resources
	if *r.Memory.Limit != 64<<20 || *r.Memory.Swap != 128<<20 {
		t.Errorf("memory %d swap %d", *r.Memory.Limit, *r.Memory.Swap)
	}
	if *r.CPU.Period != 100000 || *r.CPU.Quota != 150000 {
		t.Errorf("cpu %d/%d", *r.CPU.Quota, *r.CPU.Period)
	}
	if r.Pids.Limit == nil || *r.Pids.Limit != 10 {
		t.Errorf("pids %+v", r.Pids)
	}
	if !slices.Equal(s.Process.Rlimits, ul) {
		t.Errorf("rlimits %v", s.Process.Rlimits)
	}
	if s.Linux.CgroupsPath != "/p/q/"+testID {
		t.Errorf("cgroups path %q", s.Linux.CgroupsPath)
	}
	s = gen(t, ocispec.ImageConfig{Cmd: []string{"x"}}, Options{Memory: 1 << 20, MemorySwap: -1})
	if *s.Linux.Resources.Memory.Swap != -1 {
		t.Errorf("swap %d", *s.Linux.Resources.Memory.Swap)
	}
	s = gen(t, ocispec.ImageConfig{Cmd: []string{"x"}}, Options{})
	if r := s.Linux.Resources; r.Memory != nil || r.CPU != nil || r.Pids != nil {
		t.Errorf("limits without options: %+v", r)
	}
}

func TestReadOnlyAndPrivileged(t *testing.T) {
	s := gen(t, ocispec.ImageConfig{Cmd: []string{"x"}}, Options{ReadOnly: true, NoNewPrivileges: true})
	if !s.Root.Readonly || !s.Process.NoNewPrivileges {
		t.Errorf("readonly %v nnp %v", s.Root.Readonly, s.Process.NoNewPrivileges)
	}
	s = gen(t, ocispec.ImageConfig{Cmd: []string{"x"}}, Options{Privileged: true, Seccomp: ""})
	if len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 || s.Linux.Seccomp != nil {
		t.Errorf("privileged keeps confinement: masked %v seccomp %v", s.Linux.MaskedPaths, s.Linux.Seccomp != nil)
	}
	if !slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN") {
		t.Errorf("privileged lacks CAP_SYS_ADMIN")
	}
	for _, m := range s.Mounts {
		if m.Destination == "/sys" && slices.Contains(m.Options, "ro") {
			t.Errorf("privileged /sys is read-only")
		}
	}
}

func TestMountsReplaceDefaults(t *testing.T) {
	shm := specs.Mount{Destination: "/dev/shm", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1g"}}
	s := gen(t, ocispec.ImageConfig{Cmd: []string{"x"}}, Options{Mounts: []specs.Mount{shm}})
	n := 0
	for _, m := range s.Mounts {
		if m.Destination == "/dev/shm" {
			n++
			if !slices.Contains(m.Options, "size=1g") {
				t.Errorf("default /dev/shm kept")
			}
		}
	}
	if n != 1 {
		t.Errorf("%d mounts on /dev/shm", n)
	}
}

func TestCapabilities(t *testing.T) {
	def := DefaultCapabilities()
	tests := []struct {
		name       string
		add, drop  []string
		want       []string
		wantAbsent []string
		wantErr    bool
	}{
		{name: "default", want: def},
		{name: "add", add: []string{"net_admin"}, want: append(slices.Clone(def), "CAP_NET_ADMIN")},
		{name: "drop", drop: []string{"CAP_CHOWN", "kill"}, wantAbsent: []string{"CAP_CHOWN", "CAP_KILL"}},
		{name: "drop all add one", drop: []string{"ALL"}, add: []string{"NET_BIND_SERVICE"}, want: []string{"CAP_NET_BIND_SERVICE"}},
		{name: "drop all", drop: []string{"all"}, want: []string{}},
		{name: "add all drop one", add: []string{"ALL"}, drop: []string{"SYS_ADMIN"}, wantAbsent: []string{"CAP_SYS_ADMIN"}},
		{name: "unknown", add: []string{"FLY"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tweakCapabilities(def, tt.add, tt.drop, false)
			if tt.wantErr {
				if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "unknown capability") {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil && !slices.Equal(got, tt.want) {
				t.Errorf("caps = %v, want %v", got, tt.want)
			}
			for _, c := range tt.wantAbsent {
				if slices.Contains(got, c) {
					t.Errorf("%s still there", c)
				}
			}
		})
	}
}

func TestUserNS(t *testing.T) {
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s := gen(t, ocispec.ImageConfig{Cmd: []string{"x"}}, Options{UserNS: true, UIDMappings: m, GIDMappings: m})
	if s.Linux.Namespaces[len(s.Linux.Namespaces)-1].Type != specs.UserNamespace || len(s.Linux.UIDMappings) != 1 {
		t.Errorf("namespaces %v maps %v", s.Linux.Namespaces, s.Linux.UIDMappings)
	}
	if got := s.Linux.Sysctl["net.ipv4.ping_group_range"]; got != "0 65535" {
		t.Errorf("ping_group_range %q: must stay within the mapped gids", got)
	}
	if _, err := Generate(ocispec.ImageConfig{Cmd: []string{"x"}}, Options{ID: "x", UserNS: true, Seccomp: SeccompUnconfined}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("err = %v", err)
	}
}

func TestNumericUserWithoutRootfs(t *testing.T) {
	s := gen(t, ocispec.ImageConfig{Cmd: []string{"x"}, User: "1000:1001"}, Options{})
	if s.Process.User.UID != 1000 || s.Process.User.GID != 1001 {
		t.Errorf("user %+v", s.Process.User)
	}
	if _, err := Generate(ocispec.ImageConfig{Cmd: []string{"x"}}, Options{ID: "x", User: "bob", Seccomp: SeccompUnconfined}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("err = %v", err)
	}
}

// In a user namespace that does not own the network namespace (--network host), sysfs cannot be
// mounted: /sys is the host's, bound read-only.
func TestUserNSHostNetworkBindsSys(t *testing.T) {
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	for _, tc := range []struct {
		net  string
		want string
	}{{"none", "sysfs"}, {"host", "bind"}} {
		s := gen(t, ocispec.ImageConfig{Cmd: []string{"x"}}, Options{UserNS: true, UIDMappings: m, GIDMappings: m, NetworkMode: tc.net})
		for _, mnt := range s.Mounts {
			if mnt.Destination == "/sys" && (mnt.Type != tc.want || !slices.Contains(mnt.Options, "ro")) {
				t.Errorf("network %s: /sys is %s %v, want %s, ro", tc.net, mnt.Type, mnt.Options, tc.want)
			}
		}
	}
	bad := []specs.LinuxIDMapping{{ContainerID: 1, HostID: 100000, Size: 65536}}
	if _, err := Generate(ocispec.ImageConfig{Cmd: []string{"x"}}, Options{ID: "x", UserNS: true, UIDMappings: bad, GIDMappings: m, Seccomp: SeccompUnconfined}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("unmapped root: %v", err)
	}
}
