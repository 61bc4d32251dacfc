package fastexec

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func goodStart() *StartProfile {
	oom := 0
	return &StartProfile{
		Profile: Profile{
			ID: "abc", Cgroups: []string{"/sys/fs/cgroup/memory/hako/abc"}, UID: 1000, GID: 1000,
			Groups: []uint32{1000, 50}, Cwd: "/w", Env: []string{"PATH=/bin", "M=a\nb"},
			Caps: CapSets{Bounding: 0x20, Effective: 0x20, Permitted: 0x20}, OOMScoreAdj: &oom,
			Rlimits: []Rlimit{{Resource: 7, Soft: 512, Hard: 1024}}, SessionKeyring: "_ses.abc",
			Seccomp: []unix.SockFilter{{Code: 6, K: 0x7fff0000}}, SeccompFlags: 4,
		},
		Args:            []string{"sh", "-c", "echo hi"},
		Namespaces:      []Namespace{{Type: "mnt"}, {Type: "net", Path: "/run/netns/x"}, {Type: "pid"}},
		Rootfs:          "/var/lib/hako/containers/abc/rootfs",
		RootPropagation: unix.MS_SLAVE | unix.MS_REC,
		Hostname:        "box",
		Sysctls:         []string{"net.ipv4.ping_group_range=0 2147483647"},
		Ops: []MountOp{
			{Kind: "fs", Src: "proc", Dst: "/proc", Type: "proc", Flags: unix.MS_NOSUID},
			{Kind: "bind", Src: "/host/etc/hosts", Dst: "/etc/hosts", Flags: unix.MS_BIND | unix.MS_REC,
				PropagationFlags: []uint64{unix.MS_PRIVATE | unix.MS_REC}},
			{Kind: "bind", Src: "/data", Dst: "/ro", Flags: unix.MS_BIND | unix.MS_RDONLY,
				Remount: unix.MS_BIND | unix.MS_RDONLY | unix.MS_REMOUNT},
			{Kind: "mknod", Dst: "/dev/null", Mode: unix.S_IFCHR | 0o666, Major: 1, Minor: 3},
			{Kind: "unlink", Dst: "/dev/ptmx"},
			{Kind: "symlink", Dst: "/dev/ptmx", Target: "pts/ptmx"},
		},
		DevNull:       true,
		LateRemounts:  []LateRemount{{Dst: "/scratch", Flags: unix.MS_BIND | unix.MS_RDONLY}},
		MaskPaths:     []string{"/proc/kcore"},
		ReadonlyPaths: []string{"/proc/sys"},
		ReadonlyRoot:  true,
	}
}

func TestStartProfileMarshal(t *testing.T) {
	data, err := goodStart().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"v=1", "id=abc", "ns=mnt", "ns=net:/run/netns/x", "ns=pid", "cgroup=/sys/fs/cgroup/memory/hako/abc",
		"uid=1000", "gid=1000", "groups=1000,50", "cwd=/w", "env=PATH=/bin", "env=M=a\nb", "nnp=0",
		"caps=20,20,20,0,0", "rlimit=7,512,1024", "oom=0", "keyring=_ses.abc", "seccomp=4:060000000000ff7f",
		"arg=sh", "arg=-c", "arg=echo hi", "rootfs=/var/lib/hako/containers/abc/rootfs", "rootprop=540672",
		"hostname=box", "sysctl=net.ipv4.ping_group_range=0 2147483647",
		"op=fs", "src=proc", "dst=/proc", "type=proc", "flags=2",
		"op=bind", "src=/host/etc/hosts", "dst=/etc/hosts", "flags=20480", "pflag=278528",
		"op=bind", "src=/data", "dst=/ro", "flags=4097", "remount=4129",
		"op=mknod", "dst=/dev/null", "mode=20666", "major=1", "minor=3", "uid=0", "gid=0",
		"op=unlink", "dst=/dev/ptmx",
		"op=symlink", "dst=/dev/ptmx", "target=pts/ptmx",
		"devnull=1", "lateremount=4097:/scratch",
		"mask=/proc/kcore", "ropath=/proc/sys", "rootro=1", "end=1",
	}
	if got := entries(data); !reflect.DeepEqual(got, want) {
		t.Errorf("entries:\n%q\nwant\n%q", got, want)
	}
}

func TestStartProfileRefusals(t *testing.T) {
	for what, edit := range map[string]func(*StartProfile){
		"no command":            func(p *StartProfile) { p.Args = nil },
		"no id":                 func(p *StartProfile) { p.ID = "" },
		"relative rootfs":       func(p *StartProfile) { p.Rootfs = "rootfs" },
		"unclean rootfs":        func(p *StartProfile) { p.Rootfs = "/a/../b" },
		"user namespace":        func(p *StartProfile) { p.Namespaces = append(p.Namespaces, Namespace{Type: "user"}) },
		"relative destination":  func(p *StartProfile) { p.Ops[0].Dst = "proc" },
		"unclean destination":   func(p *StartProfile) { p.Ops[1].Dst = "/etc/../../hosts" },
		"the root itself":       func(p *StartProfile) { p.Ops[0].Dst = "/" },
		"relative bind source":  func(p *StartProfile) { p.Ops[1].Src = "hosts" },
		"unknown op":            func(p *StartProfile) { p.Ops[0].Kind = "remount" },
		"relative late remount": func(p *StartProfile) { p.LateRemounts[0].Dst = "scratch" },
		"NUL in an argument":    func(p *StartProfile) { p.Args[1] = "a\x00b" },
		"NUL in a destination":  func(p *StartProfile) { p.Ops[2].Dst = "/r\x00o" },
		"unclean masked path":   func(p *StartProfile) { p.MaskPaths = []string{"/proc/../etc"} },
		"relative ro path":      func(p *StartProfile) { p.ReadonlyPaths = []string{"proc/sys"} },
		"env without =":         func(p *StartProfile) { p.Env = append(p.Env, "X") },
		"sysctl without =":      func(p *StartProfile) { p.Sysctls = []string{"kernel.x"} },
		"flags without program": func(p *StartProfile) { p.Seccomp = nil },
	} {
		p := goodStart()
		edit(p)
		if _, err := p.Marshal(); err == nil || !strings.HasPrefix(err.Error(), "start profile: ") {
			t.Errorf("%s: %v, want a start profile error", what, err)
		}
	}
}

// TestStartProfileCutShort: S reads its profile from a pipe, so a writer that dies in the
// middle leaves it a prefix. S's parser takes the whole profile and refuses every prefix of it,
// cut at an entry's boundary or inside one, and anything after the end entry.
func TestStartProfileCutShort(t *testing.T) {
	data, err := goodStart().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if why := checkStartProfile(data); why != "" {
		t.Fatalf("the whole profile refused: %s", why)
	}
	for n := 1; n < len(data); n++ {
		if checkStartProfile(data[:n]) == "" {
			t.Fatalf("a profile cut after %d of %d bytes taken (%q)", n, len(data), data[max(0, n-20):n])
		}
	}
	if why := checkStartProfile(append(append([]byte{}, data...), "mask=/x\x00"...)); why == "" {
		t.Fatal("an entry after the end taken")
	}
}
