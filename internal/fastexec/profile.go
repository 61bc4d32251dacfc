// Package fastexec is the C path of `hako exec` (docs/exec.md): a C constructor (fastexec.c)
// that enters a running container before the Go runtime exists, and the exec profile it reads.
//
// This file is the contract between the two halves: package runtime builds a Profile when it
// starts a container's init and writes it with WriteFile, and fastexec.c's parse_profile reads
// it back. The format is defined in docs/exec.md; a change to one side is a change to that
// document and to the other side. Parse is the Go mirror of the C reader, for tests.
package fastexec

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/atomicfile"
)

// ProfileName is the exec profile's file name in the container's runtime state directory
// (<root>/runtime/<id>/), which libcontainer removes with the rest of the state.
const ProfileName = "hako-exec.conf"

// Version is the format version, the value of the first entry (`v=1`). A reader that finds
// another version ignores the file.
const Version = 1

// maxFilterLen is the kernel's BPF_MAXINSNS: seccomp(2) refuses a longer program, so a filter
// read back from a process can never exceed it.
const maxFilterLen = 4096

// sockFilterSize is the size of a struct sock_filter: code u16, jt u8, jf u8, k u32.
const sockFilterSize = 8

// Profile is what an exec into a container needs to know about it, as libcontainer would derive
// it at each exec: see docs/exec.md for the meaning of each entry.
type Profile struct {
	ID        string
	Pid       int    // the init's PID on the host
	StartTime uint64 // field 22 of /proc/<Pid>/stat
	// Namespaces are the namespaces the exec joins, in the order libcontainer joins them.
	Namespaces []Namespace
	// Cgroups are the cgroup directories the process enters: one for v2, one per
	// hierarchy for v1.
	Cgroups []string
	// Freezer is the file that says whether the container is paused: v1 freezer.state,
	// v2 cgroup.freeze.
	Freezer         string
	UID, GID        uint32
	Groups          []uint32 // additional groups
	Cwd             string
	Env             []string // KEY=VALUE, in order
	NoNewPrivileges bool
	Caps            CapSets
	Rlimits         []Rlimit
	OOMScoreAdj     *int   // nil: not set
	SessionKeyring  string // "": no new session keyring
	// Seccomp is the classic BPF program the container's init loaded (struct sock_filter
	// array), empty for none; SeccompFlags are the flags it was loaded with (seccomp(2)'s
	// SECCOMP_FILTER_FLAG_*).
	Seccomp      []unix.SockFilter
	SeccompFlags uint
}

// Namespace is a namespace to join: Type is one of user, mnt, pid, net, ipc, uts, cgroup, and
// Path a file that refers to it (/proc/<pid>/ns/<type>).
type Namespace struct {
	Type string
	Path string
}

// CapSets are the process's capability sets as bit masks (bit N is capability N).
type CapSets struct {
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
}

// Rlimit is a resource limit: Resource is an RLIMIT_* number.
type Rlimit struct {
	Resource   int
	Soft, Hard uint64
}

// nsTypes are the namespace types a profile may name. The time namespace is not one of them:
// a container with one has no profile (libcontainer's time offsets are not part of it).
var nsTypes = []string{"user", "mnt", "pid", "net", "ipc", "uts", "cgroup"}

// Marshal encodes p in the profile format: NUL-terminated key=value entries, `v=1` first. A
// value that holds a NUL byte, which the format cannot carry, is an error that names its key.
func (p *Profile) Marshal() ([]byte, error) {
	if p.ID == "" {
		return nil, errors.New("exec profile: no container id")
	}
	if p.Pid <= 0 {
		return nil, fmt.Errorf("exec profile: bad pid %d", p.Pid)
	}
	e := newEncoder("exec profile", len(p.Seccomp))
	e.put("v", strconv.Itoa(Version))
	e.put("id", p.ID)
	e.put("pid", strconv.Itoa(p.Pid))
	e.put("start", strconv.FormatUint(p.StartTime, 10))
	for _, ns := range p.Namespaces {
		if !slices.Contains(nsTypes, ns.Type) {
			return nil, fmt.Errorf("exec profile: unknown namespace type %q", ns.Type)
		}
		if ns.Path == "" {
			return nil, fmt.Errorf("exec profile: no path for the %s namespace", ns.Type)
		}
		e.put("ns", ns.Type+":"+ns.Path)
	}
	for _, c := range p.Cgroups {
		e.put("cgroup", c)
	}
	e.put("freezer", p.Freezer)
	p.putProcess(e)
	return e.bytes()
}

// encoder writes NUL-terminated key=value entries and keeps the first error.
type encoder struct {
	b    bytes.Buffer
	err  error
	what string // "exec profile" or "start profile", for errors
}

// newEncoder sizes the buffer for a profile with a seccomp program of filterLen instructions
// once, rather than doubling it several times: a profile is encoded in a fresh process, where
// each new page of memory costs a fault.
func newEncoder(what string, filterLen int) *encoder {
	e := &encoder{what: what}
	e.b.Grow(8<<10 + 2*sockFilterSize*filterLen)
	return e
}

func (e *encoder) put(key, value string) {
	if e.err == nil && strings.IndexByte(value, 0) >= 0 {
		e.err = fmt.Errorf("%s: the value of %q holds a NUL byte", e.what, key)
	}
	e.b.WriteString(key)
	e.b.WriteByte('=')
	e.b.WriteString(value)
	e.b.WriteByte(0)
}

func (e *encoder) fail(format string, args ...any) {
	if e.err == nil {
		e.err = fmt.Errorf(e.what+": "+format, args...)
	}
}

func (e *encoder) bytes() ([]byte, error) {
	if e.err != nil {
		return nil, e.err
	}
	return e.b.Bytes(), nil
}

// putProcess writes the entries that describe the process, which the exec and the start
// profiles share (uid to seccomp, in this order).
func (p *Profile) putProcess(e *encoder) {
	e.put("uid", strconv.FormatUint(uint64(p.UID), 10))
	e.put("gid", strconv.FormatUint(uint64(p.GID), 10))
	groups := make([]string, len(p.Groups))
	for i, g := range p.Groups {
		groups[i] = strconv.FormatUint(uint64(g), 10)
	}
	e.put("groups", strings.Join(groups, ","))
	e.put("cwd", p.Cwd)
	for _, kv := range p.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			e.fail("environment entry %q is not KEY=VALUE", kv)
		}
		e.put("env", kv)
	}
	e.put("nnp", boolValue(p.NoNewPrivileges))
	c := p.Caps
	e.put("caps", strings.Join([]string{
		strconv.FormatUint(c.Bounding, 16), strconv.FormatUint(c.Effective, 16),
		strconv.FormatUint(c.Permitted, 16), strconv.FormatUint(c.Inheritable, 16),
		strconv.FormatUint(c.Ambient, 16),
	}, ","))
	for _, rl := range p.Rlimits {
		if rl.Resource < 0 {
			e.fail("bad rlimit resource %d", rl.Resource)
		}
		e.put("rlimit", fmt.Sprintf("%d,%d,%d", rl.Resource, rl.Soft, rl.Hard))
	}
	if p.OOMScoreAdj != nil {
		e.put("oom", strconv.Itoa(*p.OOMScoreAdj))
	}
	if p.SessionKeyring != "" {
		e.put("keyring", p.SessionKeyring)
	}
	if len(p.Seccomp) > maxFilterLen {
		e.fail("seccomp program of %d instructions, more than the kernel's %d", len(p.Seccomp), maxFilterLen)
	}
	if len(p.Seccomp) == 0 && p.SeccompFlags != 0 {
		// Flags without a program would be dropped silently: say it instead.
		e.fail("seccomp flags without a seccomp program")
	}
	if len(p.Seccomp) > 0 {
		// As put("seccomp", FLAGS:HEX), without the ~15 KB hex string and its copies.
		raw := EncodeFilter(p.Seccomp)
		e.b.Grow(len("seccomp=") + 21 + hex.EncodedLen(len(raw)) + 1)
		e.b.WriteString("seccomp=")
		e.b.WriteString(strconv.FormatUint(uint64(p.SeccompFlags), 10))
		e.b.WriteByte(':')
		e.b.Write(hex.AppendEncode(e.b.AvailableBuffer(), raw))
		e.b.WriteByte(0)
	}
}

func boolValue(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

// DecodeFilter is EncodeFilter's inverse; it refuses what the kernel would: an empty program,
// a partial instruction, more than BPF_MAXINSNS instructions.
func DecodeFilter(raw []byte) ([]unix.SockFilter, error) {
	if len(raw) == 0 || len(raw)%sockFilterSize != 0 || len(raw)/sockFilterSize > maxFilterLen {
		return nil, fmt.Errorf("a program of %d bytes is not 1 to %d instructions", len(raw), maxFilterLen)
	}
	prog := make([]unix.SockFilter, 0, len(raw)/sockFilterSize)
	for b := raw; len(b) > 0; b = b[sockFilterSize:] {
		prog = append(prog, unix.SockFilter{
			Code: binary.LittleEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.LittleEndian.Uint32(b[4:]),
		})
	}
	return prog, nil
}

// EncodeFilter lays the program out as the kernel's struct sock_filter array, little-endian as
// on every machine hako runs on (the C reader casts the decoded bytes to that array).
func EncodeFilter(prog []unix.SockFilter) []byte {
	out := make([]byte, 0, len(prog)*sockFilterSize)
	for _, ins := range prog {
		out = binary.LittleEndian.AppendUint16(out, ins.Code)
		out = append(out, ins.Jt, ins.Jf)
		out = binary.LittleEndian.AppendUint32(out, ins.K)
	}
	return out
}

// WriteFile writes p to path atomically, mode 0600: a reader sees the old profile or the new
// one, never part of one. It does not fsync: the file lives with libcontainer's state on a
// tmpfs and means nothing after a reboot.
func WriteFile(path string, p *Profile) error {
	data, err := p.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.Replace(path, data, 0o600)
}

// ErrVersion is Parse's error for a profile of another format version, which a reader ignores.
var ErrVersion = errors.New("exec profile: unsupported version")

// Parse decodes a profile. It is the Go mirror of fastexec.c's parse_profile, for tests, and
// is stricter than the C reader: it also refuses unknown keys, a key repeated that may not be,
// and numbers or hex that the writer would not produce, so that a round trip catches any drift
// of Marshal from the format.
func Parse(data []byte) (*Profile, error) {
	if len(data) == 0 || data[len(data)-1] != 0 {
		return nil, errors.New("exec profile: not NUL-terminated")
	}
	entries := strings.Split(string(data[:len(data)-1]), "\x00")
	if entries[0] != "v="+strconv.Itoa(Version) {
		if strings.HasPrefix(entries[0], "v=") {
			return nil, fmt.Errorf("%w %q", ErrVersion, strings.TrimPrefix(entries[0], "v="))
		}
		return nil, errors.New("exec profile: the first entry is not the version")
	}
	p := &Profile{}
	seen := map[string]bool{}
	for _, e := range entries[1:] {
		key, value, ok := strings.Cut(e, "=")
		if !ok {
			return nil, fmt.Errorf("exec profile: entry %q is not key=value", e)
		}
		switch key {
		case "ns", "cgroup", "env", "rlimit":
		default:
			if seen[key] {
				return nil, fmt.Errorf("exec profile: %q repeated", key)
			}
		}
		seen[key] = true
		if err := p.parseEntry(key, value); err != nil {
			return nil, fmt.Errorf("exec profile: %s: %w", key, err)
		}
	}
	for _, key := range []string{"id", "pid", "start", "freezer", "uid", "gid", "groups", "cwd", "nnp", "caps"} {
		if !seen[key] {
			return nil, fmt.Errorf("exec profile: no %q", key)
		}
	}
	return p, nil
}

func (p *Profile) parseEntry(key, value string) error {
	var err error
	switch key {
	case "v":
		return errors.New("repeated")
	case "id":
		if value == "" {
			return errors.New("empty")
		}
		p.ID = value
	case "pid":
		var pid uint64
		pid, err = parseDecimal(value, 31)
		if err == nil && pid == 0 {
			err = errors.New("zero")
		}
		p.Pid = int(pid)
	case "start":
		p.StartTime, err = parseDecimal(value, 64)
	case "ns":
		typ, path, ok := strings.Cut(value, ":")
		switch {
		case !ok || !slices.Contains(nsTypes, typ):
			return fmt.Errorf("%q is not TYPE:PATH with a known type", value)
		case path == "":
			return fmt.Errorf("no path for the %s namespace", typ)
		}
		p.Namespaces = append(p.Namespaces, Namespace{Type: typ, Path: path})
	case "cgroup":
		p.Cgroups = append(p.Cgroups, value)
	case "freezer":
		p.Freezer = value
	case "uid", "gid":
		var id uint64
		id, err = parseDecimal(value, 32)
		if key == "uid" {
			p.UID = uint32(id)
		} else {
			p.GID = uint32(id)
		}
	case "groups":
		p.Groups = nil
		if value == "" {
			return nil
		}
		for _, g := range strings.Split(value, ",") {
			id, err := parseDecimal(g, 32)
			if err != nil {
				return err
			}
			p.Groups = append(p.Groups, uint32(id))
		}
	case "cwd":
		p.Cwd = value
	case "env":
		if k, _, ok := strings.Cut(value, "="); !ok || k == "" {
			return fmt.Errorf("%q is not KEY=VALUE", value)
		}
		p.Env = append(p.Env, value)
	case "nnp":
		switch value {
		case "0", "1":
			p.NoNewPrivileges = value == "1"
		default:
			return fmt.Errorf("%q is neither 0 nor 1", value)
		}
	case "caps":
		m, err := numbers(value, 5, "five masks", parseHexMask)
		if err != nil {
			return err
		}
		p.Caps = CapSets{Bounding: m[0], Effective: m[1], Permitted: m[2], Inheritable: m[3], Ambient: m[4]}
	case "rlimit":
		v, err := numbers(value, 3, "RESOURCE,SOFT,HARD", func(s string) (uint64, error) { return parseDecimal(s, 64) })
		if err != nil {
			return err
		}
		if v[0] > 1<<16 {
			return fmt.Errorf("resource %d", v[0])
		}
		p.Rlimits = append(p.Rlimits, Rlimit{Resource: int(v[0]), Soft: v[1], Hard: v[2]})
	case "oom":
		n, err := strconv.Atoi(value)
		if err != nil || strconv.Itoa(n) != value {
			return fmt.Errorf("%q is not a decimal integer", value)
		}
		p.OOMScoreAdj = &n
	case "keyring":
		if value == "" {
			return errors.New("empty")
		}
		p.SessionKeyring = value
	case "seccomp":
		flags, prog, ok := strings.Cut(value, ":")
		if !ok {
			return errors.New("not FLAGS:HEX")
		}
		f, err := parseDecimal(flags, 32)
		if err != nil {
			return err
		}
		if prog != strings.ToLower(prog) {
			return errors.New("the program is not lower-case hex")
		}
		raw, err := hex.DecodeString(prog)
		if err != nil {
			return err
		}
		if p.Seccomp, err = DecodeFilter(raw); err != nil {
			return err
		}
		p.SeccompFlags = uint(f)
	default:
		return errors.New("unknown key")
	}
	return err
}

// numbers reads value as n comma-separated numbers, each with parse; what names the form
// expected, for the error.
func numbers(value string, n int, what string, parse func(string) (uint64, error)) ([]uint64, error) {
	f := strings.Split(value, ",")
	if len(f) != n {
		return nil, fmt.Errorf("%q is not %s", value, what)
	}
	out := make([]uint64, n)
	for i, s := range f {
		var err error
		if out[i], err = parse(s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseDecimal accepts what strconv.FormatUint writes: digits only, no sign, no leading zero.
func parseDecimal(s string, bits int) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}
	return strconv.ParseUint(s, 10, bits)
}

// parseHexMask accepts what strconv.FormatUint(x, 16) writes: lower-case hex, no 0x.
func parseHexMask(s string) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || strings.TrimLeft(s, "0123456789abcdef") != "" {
		return 0, fmt.Errorf("%q is not a lower-case hex mask", s)
	}
	return strconv.ParseUint(s, 16, 64)
}
