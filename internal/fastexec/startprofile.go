package fastexec

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// StartProfile is what the C start path (docs/run.md, start.c) needs to start a container's
// init: the process, as in the exec profile, and the plan of the container's root, which the
// monitor computes from libcontainer's configuration. Process fields that only an exec has
// (Pid, StartTime, Freezer, Namespaces) are ignored.
type StartProfile struct {
	Profile
	Args []string // the command and its arguments
	// Namespaces are created (Path "") or joined (Path set). The user namespace is not
	// one the C path takes.
	Namespaces []Namespace
	// Loopback brings lo up: a new network namespace of hako's own.
	Loopback bool
	Rootfs   string // absolute host path
	// RootPropagation is libcontainer's RootPropagation as configured: "/" gets it (0:
	// MS_SLAVE|MS_REC) and the rootfs's parent mount becomes a slave if it has MS_SLAVE,
	// else private.
	RootPropagation      uint64
	Hostname, Domainname string
	Sysctls              []string // KEY=VALUE, in the order written
	Ops                  []MountOp
	// DevNull: hako made the container's /dev, so stdio that is the host's /dev/null is
	// reopened on the container's (libcontainer's reOpenDevNull).
	DevNull bool
	// LateRemounts are remounted (MS_REMOUNT | Flags) after pivot_root and the working
	// directory: the tmpfs, /dev among them, asked read-only (libcontainer's finalizeRootfs).
	LateRemounts  []LateRemount
	MaskPaths     []string
	ReadonlyPaths []string
	ReadonlyRoot  bool
}

// LateRemount is a mount made read-only at the end of the start (StartProfile.LateRemounts).
type LateRemount struct {
	Dst   string
	Flags uint64
}

// MountOp is one step of a start profile's mount plan (docs/run.md). Kind is one of fs, bind,
// mknod, symlink, unlink; the fields a kind does not use stay zero.
type MountOp struct {
	Kind             string
	Src, Dst         string
	Type, Data       string
	Flags, Remount   uint64
	PropagationFlags []uint64
	Mode             uint32 // mknod: st_mode, type and permissions
	Major, Minor     int64
	UID, GID         uint32
	Target           string // symlink
}

var startNsTypes = []string{"mnt", "pid", "net", "ipc", "uts", "cgroup"}

// Marshal encodes the profile (docs/run.md), refusing what the C reader could misread: a
// relative or unclean path inside the root, an unknown namespace type or op kind, a NUL
// byte anywhere.
func (p *StartProfile) Marshal() ([]byte, error) {
	e := newEncoder("start profile", len(p.Seccomp))
	if p.ID == "" {
		e.fail("no container id")
	}
	if len(p.Args) == 0 {
		e.fail("no command")
	}
	if !path.IsAbs(p.Rootfs) || path.Clean(p.Rootfs) != p.Rootfs {
		e.fail("rootfs %q is not an absolute, clean path", p.Rootfs)
	}
	e.put("v", strconv.Itoa(Version))
	e.put("id", p.ID)
	for _, ns := range p.Namespaces {
		if !slices.Contains(startNsTypes, ns.Type) {
			e.fail("namespace type %q", ns.Type)
		}
		if ns.Path == "" {
			e.put("ns", ns.Type)
		} else {
			e.put("ns", ns.Type+":"+ns.Path)
		}
	}
	for _, c := range p.Cgroups {
		e.put("cgroup", c)
	}
	p.putProcess(e)
	for _, a := range p.Args {
		e.put("arg", a)
	}
	if p.Loopback {
		e.put("lo", "1")
	}
	e.put("rootfs", p.Rootfs)
	e.put("rootprop", strconv.FormatUint(p.RootPropagation, 10))
	if p.Hostname != "" {
		e.put("hostname", p.Hostname)
	}
	if p.Domainname != "" {
		e.put("domainname", p.Domainname)
	}
	for _, kv := range p.Sysctls {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.Contains(k, "/") && strings.Contains(k, "..") {
			e.fail("sysctl %q", kv)
		}
		e.put("sysctl", kv)
	}
	inRoot := func(what, p string) {
		if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
			e.fail("%s %q is not an absolute, clean path below the root", what, p)
		}
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	for _, op := range p.Ops {
		e.put("op", op.Kind)
		inRoot(op.Kind+" destination", op.Dst)
		switch op.Kind {
		case "fs", "bind":
			if op.Kind == "bind" && !path.IsAbs(op.Src) {
				e.fail("bind source %q is not absolute", op.Src)
			}
			e.put("src", op.Src)
			e.put("dst", op.Dst)
			if op.Kind == "fs" {
				e.put("type", op.Type)
			}
			e.put("flags", u(op.Flags))
			if op.Data != "" {
				e.put("data", op.Data)
			}
			if op.Remount != 0 {
				e.put("remount", u(op.Remount))
			}
			for _, pf := range op.PropagationFlags {
				e.put("pflag", u(pf))
			}
		case "mknod":
			e.put("dst", op.Dst)
			e.put("mode", strconv.FormatUint(uint64(op.Mode), 8))
			e.put("major", strconv.FormatInt(op.Major, 10))
			e.put("minor", strconv.FormatInt(op.Minor, 10))
			e.put("uid", u(uint64(op.UID)))
			e.put("gid", u(uint64(op.GID)))
		case "symlink":
			e.put("dst", op.Dst)
			e.put("target", op.Target)
		case "unlink":
			e.put("dst", op.Dst)
		default:
			e.fail("mount op %q", op.Kind)
		}
	}
	if p.DevNull {
		e.put("devnull", "1")
	}
	for _, l := range p.LateRemounts {
		inRoot("late remount", l.Dst)
		e.put("lateremount", u(l.Flags)+":"+l.Dst)
	}
	for _, m := range p.MaskPaths {
		inRoot("masked path", m)
		e.put("mask", m)
	}
	for _, r := range p.ReadonlyPaths {
		inRoot("read-only path", r)
		e.put("ropath", r)
	}
	if p.ReadonlyRoot {
		e.put("rootro", "1")
	}
	// Last: S reads the profile from a pipe, and tells a whole one by this, without waiting for
	// the EOF (start.c): no other entry ends with it, as no value holds a NUL.
	e.put("end", "1")
	data, err := e.bytes()
	if err != nil {
		return nil, err
	}
	if len(data) >= maxProfileSize { // the C reader refuses a full buffer
		return nil, fmt.Errorf("start profile: %d bytes, more than the C reader's %d", len(data), maxProfileSize)
	}
	return data, nil
}

// maxProfileSize is what the C reader takes (start.c's START_PROFILE_MAX).
const maxProfileSize = 4 << 20
