package fastexec

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func fullProfile() *Profile {
	oom := -500
	return &Profile{
		ID:        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		Pid:       4242,
		StartTime: 123456789,
		Namespaces: []Namespace{
			{"user", "/proc/4242/ns/user"}, {"ipc", "/proc/4242/ns/ipc"}, {"uts", "/proc/4242/ns/uts"},
			{"net", "/proc/4242/ns/net"}, {"pid", "/proc/4242/ns/pid"}, {"mnt", "/proc/4242/ns/mnt"},
			{"cgroup", "/proc/4242/ns/cgroup"},
		},
		Cgroups:         []string{"/sys/fs/cgroup/cpu,cpuacct/hako/x", "/sys/fs/cgroup/memory/hako/x"},
		Freezer:         "/sys/fs/cgroup/freezer/hako/x/freezer.state",
		UID:             1000,
		GID:             4294967295,
		Groups:          []uint32{50, 1000},
		Cwd:             "/home/bob",
		Env:             []string{"PATH=/usr/bin:/bin", "MULTI=line one\nline two", "EQ=a=b", "EMPTY="},
		NoNewPrivileges: true,
		Caps:            CapSets{Bounding: 0xa80425fb, Effective: 0xa80425fb, Permitted: 0xa80425fb, Inheritable: 0, Ambient: 1 << 40},
		Rlimits: []Rlimit{
			{Resource: unix.RLIMIT_NOFILE, Soft: 1024, Hard: 4096},
			{Resource: unix.RLIMIT_CORE, Soft: unix.RLIM_INFINITY, Hard: unix.RLIM_INFINITY},
		},
		OOMScoreAdj:    &oom,
		SessionKeyring: "_ses.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		Seccomp: []unix.SockFilter{
			{Code: 0x20, Jt: 0, Jf: 0, K: 4},
			{Code: 0x15, Jt: 1, Jf: 0xfe, K: 0xc000003e},
			{Code: 0x06, Jt: 0, Jf: 0, K: 0x7fff0000},
		},
		SeccompFlags: 4,
	}
}

func entries(data []byte) []string {
	return strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
}

func TestMarshalFormat(t *testing.T) {
	data, err := fullProfile().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if data[len(data)-1] != 0 {
		t.Fatal("the last entry is not NUL-terminated")
	}
	want := []string{
		"v=1",
		"id=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"pid=4242",
		"start=123456789",
		"ns=user:/proc/4242/ns/user", "ns=ipc:/proc/4242/ns/ipc", "ns=uts:/proc/4242/ns/uts",
		"ns=net:/proc/4242/ns/net", "ns=pid:/proc/4242/ns/pid", "ns=mnt:/proc/4242/ns/mnt",
		"ns=cgroup:/proc/4242/ns/cgroup",
		"cgroup=/sys/fs/cgroup/cpu,cpuacct/hako/x", "cgroup=/sys/fs/cgroup/memory/hako/x",
		"freezer=/sys/fs/cgroup/freezer/hako/x/freezer.state",
		"uid=1000",
		"gid=4294967295",
		"groups=50,1000",
		"cwd=/home/bob",
		"env=PATH=/usr/bin:/bin", "env=MULTI=line one\nline two", "env=EQ=a=b", "env=EMPTY=",
		"nnp=1",
		"caps=a80425fb,a80425fb,a80425fb,0,10000000000",
		"rlimit=7,1024,4096",
		"rlimit=4,18446744073709551615,18446744073709551615",
		"oom=-500",
		"keyring=_ses.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		// code 0x0020 jt 0 jf 0 k 4, little-endian: 20 00 00 00 04 00 00 00.
		"seccomp=4:2000000004000000" + "150001fe3e0000c0" + "060000000000ff7f",
	}
	if got := entries(data); !reflect.DeepEqual(got, want) {
		t.Errorf("entries:\n%q\nwant\n%q", got, want)
	}
}

func TestMarshalOmitsUnset(t *testing.T) {
	p := &Profile{ID: "abc", Pid: 1, StartTime: 2, Cwd: "/", Freezer: "/f"}
	data, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"v=1", "id=abc", "pid=1", "start=2", "freezer=/f", "uid=0", "gid=0", "groups=", "cwd=/", "nnp=0", "caps=0,0,0,0,0"}
	if got := entries(data); !reflect.DeepEqual(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.OOMScoreAdj != nil || back.SessionKeyring != "" || back.Seccomp != nil || back.SeccompFlags != 0 || back.Groups != nil {
		t.Errorf("round trip of an empty profile: %+v", back)
	}
}

func TestRoundTrip(t *testing.T) {
	p := fullProfile()
	data, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", back, p)
	}
}

func TestMarshalRefusesNUL(t *testing.T) {
	tests := map[string]func(p *Profile){
		`"env"`:     func(p *Profile) { p.Env = append(p.Env, "A=b\x00c") },
		`"cwd"`:     func(p *Profile) { p.Cwd = "/a\x00b" },
		`"id"`:      func(p *Profile) { p.ID = "x\x00" },
		`"ns"`:      func(p *Profile) { p.Namespaces[0].Path = "/proc/1/ns/\x00user" },
		`"cgroup"`:  func(p *Profile) { p.Cgroups[1] = "\x00" },
		`"freezer"`: func(p *Profile) { p.Freezer = "/x\x00" },
		`"keyring"`: func(p *Profile) { p.SessionKeyring = "_ses.\x00" },
	}
	for key, mutate := range tests {
		p := fullProfile()
		mutate(p)
		_, err := p.Marshal()
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "NUL") {
			t.Errorf("a NUL in %s: err = %v", key, err)
		}
	}
}

func TestMarshalRefusesBadValues(t *testing.T) {
	tests := map[string]func(p *Profile){
		"no id":               func(p *Profile) { p.ID = "" },
		"no pid":              func(p *Profile) { p.Pid = 0 },
		"time namespace":      func(p *Profile) { p.Namespaces = append(p.Namespaces, Namespace{"time", "/proc/1/ns/time"}) },
		"namespace sans path": func(p *Profile) { p.Namespaces[0].Path = "" },
		"env sans =":          func(p *Profile) { p.Env = append(p.Env, "NOVALUE") },
		"env sans key":        func(p *Profile) { p.Env = append(p.Env, "=x") },
		"flags sans program":  func(p *Profile) { p.Seccomp = nil },
		"long program":        func(p *Profile) { p.Seccomp = make([]unix.SockFilter, maxFilterLen+1) },
		"negative rlimit":     func(p *Profile) { p.Rlimits[0].Resource = -1 },
	}
	for name, mutate := range tests {
		p := fullProfile()
		mutate(p)
		if _, err := p.Marshal(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	good, err := fullProfile().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	replace := func(old, new string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("%q not in the profile", old)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	tests := map[string][]byte{
		"empty":              nil,
		"unterminated":       good[:len(good)-1],
		"version not first":  append([]byte("id=x\x00"), good...),
		"repeated id":        append(bytes.Clone(good), "id=y\x00"...),
		"repeated version":   append(bytes.Clone(good), "v=1\x00"...),
		"unknown key":        append(bytes.Clone(good), "frob=1\x00"...),
		"entry sans =":       append(bytes.Clone(good), "frob\x00"...),
		"no caps":            replace("caps=a80425fb,a80425fb,a80425fb,0,10000000000\x00", ""),
		"four caps":          replace("caps=a80425fb,a80425fb,a80425fb,0,10000000000", "caps=a80425fb,a80425fb,a80425fb,0"),
		"upper-case caps":    replace("caps=a80425fb", "caps=A80425FB"),
		"0x caps":            replace("caps=a80425fb", "caps=0xa80425fb"),
		"signed pid":         replace("pid=4242", "pid=+4242"),
		"zero pid":           replace("pid=4242", "pid=0"),
		"uid above 32 bits":  replace("uid=1000", "uid=4294967296"),
		"bad group":          replace("groups=50,1000", "groups=50,,1000"),
		"nnp yes":            replace("nnp=1", "nnp=yes"),
		"unknown namespace":  replace("ns=user:", "ns=time:"),
		"rlimit of two":      replace("rlimit=7,1024,4096", "rlimit=7,1024"),
		"odd seccomp hex":    replace("seccomp=4:2000", "seccomp=4:200"),
		"short instruction":  replace("060000000000ff7f", "060000000000"),
		"upper-case seccomp": replace("060000000000ff7f", "060000000000FF7F"),
		"seccomp sans flags": replace("seccomp=4:", "seccomp="),
		"bad oom":            replace("oom=-500", "oom=-0500"),
	}
	for name, data := range tests {
		if _, err := Parse(data); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	if _, err := Parse([]byte("v=2\x00id=x\x00")); !errors.Is(err, ErrVersion) {
		t.Errorf("version 2: err = %v, want ErrVersion", err)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ProfileName)
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := fullProfile()
	if err := WriteFile(path, p); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if back, err := Parse(data); err != nil || !reflect.DeepEqual(back, p) {
		t.Errorf("written profile: %+v, %v", back, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("the directory holds %d files, want only the profile", len(ents))
	}
	// A profile that cannot be encoded leaves the old one in place.
	p.Cwd = "\x00"
	if err := WriteFile(path, p); err == nil {
		t.Error("WriteFile of a profile with a NUL: no error")
	}
	if data2, _ := os.ReadFile(path); !bytes.Equal(data2, data) {
		t.Error("a failed WriteFile changed the file")
	}
}
