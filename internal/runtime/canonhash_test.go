package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func canonKey(t *testing.T, v any) string {
	t.Helper()
	h := sha256.New()
	if err := canonHash(h, reflect.ValueOf(v)); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Every difference between two seccomp configurations, down to one argument of one rule or a
// nil against an empty list, gives another key; equal ones give the same.
func TestCanonHashSeccomp(t *testing.T) {
	one, two := uint(1), uint(1)
	base := func() *configs.Seccomp {
		return &configs.Seccomp{
			DefaultAction: configs.Errno, DefaultErrnoRet: &one,
			Architectures: []string{"amd64", "x86"},
			Syscalls: []*configs.Syscall{
				{Name: "read", Action: configs.Allow},
				{Name: "personality", Action: configs.Allow, Args: []*configs.Arg{{Index: 0, Value: 8, Op: configs.EqualTo}}},
			},
		}
	}
	want := canonKey(t, base())
	same := base()
	same.DefaultErrnoRet = &two // another pointer to an equal value
	if got := canonKey(t, same); got != want {
		t.Error("equal configurations, different keys")
	}
	changes := map[string]func(*configs.Seccomp){
		"default action":   func(s *configs.Seccomp) { s.DefaultAction = configs.Kill },
		"errno nil":        func(s *configs.Seccomp) { s.DefaultErrnoRet = nil },
		"architectures":    func(s *configs.Seccomp) { s.Architectures = []string{"x86", "amd64"} },
		"empty flags":      func(s *configs.Seccomp) { s.Flags = []specs.LinuxSeccompFlag{} },
		"a flag":           func(s *configs.Seccomp) { s.Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_LOG"} },
		"a rule's name":    func(s *configs.Seccomp) { s.Syscalls[0].Name = "readv" },
		"an argument":      func(s *configs.Seccomp) { s.Syscalls[1].Args[0].Value = 9 },
		"an argument's op": func(s *configs.Seccomp) { s.Syscalls[1].Args[0].Op = configs.NotEqualTo },
		"empty args":       func(s *configs.Seccomp) { s.Syscalls[0].Args = []*configs.Arg{} },
		"a rule more":      func(s *configs.Seccomp) { s.Syscalls = append(s.Syscalls, &configs.Syscall{Name: "write"}) },
		"listener":         func(s *configs.Seccomp) { s.ListenerPath = "/run/x.sock" },
		// Strings that would join to the same bytes without their lengths.
		"names shifted": func(s *configs.Seccomp) { s.Architectures = []string{"amd64x", "86"} },
	}
	seen := map[string]string{want: "base"}
	for name, change := range changes {
		s := base()
		change(s)
		k := canonKey(t, s)
		if other, ok := seen[k]; ok {
			t.Errorf("%s: the same key as %s", name, other)
		}
		seen[k] = name
	}
	if err := canonHash(sha256.New(), reflect.ValueOf(struct{ F func() }{})); err == nil {
		t.Error("a func hashed")
	}
	m1 := canonKey(t, map[string]int{"a": 1, "b": 2})
	if m2 := canonKey(t, map[string]int{"b": 2, "a": 1}); m1 != m2 {
		t.Error("a map's key depends on its order")
	}
}

// The key of a configuration larger than canonHash's buffer (Docker's default profile, as a
// container gets it) stays what it was when the walk went into one buffer: the seccomp cache's
// entries keep their names.
func TestCanonHashChunked(t *testing.T) {
	var b strings.Builder
	sc := &configs.Seccomp{DefaultAction: configs.Errno, Architectures: []string{"amd64"}}
	for i := range 600 {
		b.WriteString("x")
		sc.Syscalls = append(sc.Syscalls, &configs.Syscall{Name: fmt.Sprintf("call%d%s", i, b.String()[:i%40]), Action: configs.Allow,
			Args: []*configs.Arg{{Index: uint(i % 6), Value: uint64(i), Op: configs.EqualTo}}})
	}
	if got, want := canonKey(t, sc), "bda7a7967eb9a39ceab89d76f6908a2864d2cd8c5877bb3f948e3e0a8f3a9651"; got != want {
		t.Errorf("key %s, was %s", got, want)
	}
}
