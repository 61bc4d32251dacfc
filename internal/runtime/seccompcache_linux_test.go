package runtime

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Every difference between two seccomp sections that config.json would carry, down to one
// argument of one rule, gives another key; equal ones give the same.
func TestSeccompCacheKey(t *testing.T) {
	key := func(sc *specs.LinuxSeccomp) string {
		t.Helper()
		k, err := seccompCacheKey(sc)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	one, two, zero := uint(1), uint(1), uint(0)
	base := func() *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno, DefaultErrnoRet: &one,
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
			Syscalls: []specs.LinuxSyscall{
				{Names: []string{"read", "write"}, Action: specs.ActAllow},
				{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}},
			},
		}
	}
	want := key(base())
	same := base()
	same.DefaultErrnoRet = &two // another pointer to an equal value
	if got := key(same); got != want {
		t.Error("equal sections, different keys")
	}
	changes := map[string]func(*specs.LinuxSeccomp){
		"default action":   func(s *specs.LinuxSeccomp) { s.DefaultAction = specs.ActKill },
		"errno nil":        func(s *specs.LinuxSeccomp) { s.DefaultErrnoRet = nil },
		"errno zero":       func(s *specs.LinuxSeccomp) { s.DefaultErrnoRet = &zero },
		"architectures":    func(s *specs.LinuxSeccomp) { s.Architectures = []specs.Arch{specs.ArchX86, specs.ArchX86_64} },
		"a flag":           func(s *specs.LinuxSeccomp) { s.Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_LOG"} },
		"a rule's name":    func(s *specs.LinuxSeccomp) { s.Syscalls[0].Names[1] = "readv" },
		"names regrouped":  func(s *specs.LinuxSeccomp) { s.Syscalls[0].Names = []string{"readwrite"} },
		"a rule's errno":   func(s *specs.LinuxSeccomp) { s.Syscalls[0].ErrnoRet = &one },
		"an argument":      func(s *specs.LinuxSeccomp) { s.Syscalls[1].Args[0].Value = 9 },
		"an argument's op": func(s *specs.LinuxSeccomp) { s.Syscalls[1].Args[0].Op = specs.OpNotEqual },
		"value two":        func(s *specs.LinuxSeccomp) { s.Syscalls[1].Args[0].ValueTwo = 1 },
		"a rule more": func(s *specs.LinuxSeccomp) {
			s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"open"}})
		},
		"listener":      func(s *specs.LinuxSeccomp) { s.ListenerPath = "/run/x.sock" },
		"listener data": func(s *specs.LinuxSeccomp) { s.ListenerMetadata = "x" },
	}
	seen := map[string]string{want: "base"}
	for name, change := range changes {
		s := base()
		change(s)
		k := key(s)
		if other, ok := seen[k]; ok {
			t.Errorf("%s: the same key as %s", name, other)
		}
		seen[k] = name
	}
}
