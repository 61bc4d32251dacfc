package spec

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func hasSyscall(s *specs.LinuxSeccomp, name string) bool {
	for _, sc := range s.Syscalls {
		if sc.Action == specs.ActAllow && slices.Contains(sc.Names, name) && len(sc.Args) == 0 {
			return true
		}
	}
	return false
}

func TestSeccompDefault(t *testing.T) {
	img := ocispec.ImageConfig{Cmd: []string{"x"}}
	s, err := Generate(img, Options{ID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	sc := s.Linux.Seccomp
	if sc == nil || sc.DefaultAction != specs.ActErrno || !hasSyscall(sc, "read") {
		t.Fatalf("not Docker's default profile: %+v", sc)
	}
	if hasSyscall(sc, "mount") {
		t.Errorf("mount allowed without CAP_SYS_ADMIN")
	}
	// Docker opens the syscalls of an added capability.
	s, err = Generate(img, Options{ID: "x", CapAdd: []string{"SYS_ADMIN"}})
	if err != nil {
		t.Fatal(err)
	}
	if !hasSyscall(s.Linux.Seccomp, "mount") {
		t.Errorf("mount not allowed with CAP_SYS_ADMIN")
	}
	s, err = Generate(img, Options{ID: "x", Seccomp: SeccompUnconfined})
	if err != nil || s.Linux.Seccomp != nil {
		t.Errorf("unconfined: %v %v", err, s.Linux.Seccomp)
	}
}

func TestSeccompFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(p, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["chmod"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644)
	s, err := Generate(ocispec.ImageConfig{Cmd: []string{"x"}}, Options{ID: "x", Seccomp: p})
	if err != nil {
		t.Fatal(err)
	}
	if s.Linux.Seccomp.DefaultAction != specs.ActAllow || len(s.Linux.Seccomp.Syscalls) != 1 {
		t.Errorf("profile %+v", s.Linux.Seccomp)
	}
	if _, err := Generate(ocispec.ImageConfig{Cmd: []string{"x"}}, Options{ID: "x", Seccomp: p + ".missing"}); err == nil {
		t.Errorf("missing profile file accepted")
	}
}

// The default profile names x32 and x86 only when this kernel runs their programs.
func TestSeccompArchitectures(t *testing.T) {
	s, err := Generate(ocispec.ImageConfig{Cmd: []string{"x"}}, Options{ID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	archs := s.Linux.Seccomp.Architectures
	if runtime.GOARCH == "amd64" && !slices.Contains(archs, specs.ArchX86_64) {
		t.Errorf("architectures %v: want x86-64", archs)
	}
	if want := runtime.GOARCH == "amd64" && ia32Available(); slices.Contains(archs, specs.ArchX86) != want {
		t.Errorf("architectures %v: x86 listed = %v, want %v", archs, !want, want)
	}
	// Probe as the kernel answers, independently of x32Available.
	_, _, errno := unix.RawSyscall(x32SyscallBit|unix.SYS_GETPID, 0, 0, 0)
	if want := runtime.GOARCH == "amd64" && errno != unix.ENOSYS; slices.Contains(archs, specs.ArchX32) != want {
		t.Errorf("architectures %v: x32 listed = %v, want %v (x32 getpid: %v)", archs, !want, want, errno)
	}
	if got := withoutArch([]specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}, specs.ArchX32); !slices.Equal(got, []specs.Arch{specs.ArchX86_64, specs.ArchX86}) {
		t.Errorf("withoutArch: %v", got)
	}
}

// The probe program is a well-formed i386 executable: ELF32, EM_386, its entry at its code.
// Where the kernel runs 32-bit programs it must run and exit 0, or x86 would be dropped from
// the profile wrongly; where it does not, the probe must say so.
func TestIA32Probe(t *testing.T) {
	b := ia32Exit0()
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not an ELF file: %v", err)
	}
	if f.Class != elf.ELFCLASS32 || f.Machine != elf.EM_386 || f.Type != elf.ET_EXEC || len(f.Progs) != 1 {
		t.Fatalf("ELF %v %v %v with %d segments", f.Class, f.Machine, f.Type, len(f.Progs))
	}
	p := f.Progs[0]
	if p.Type != elf.PT_LOAD || p.Filesz != uint64(len(b)) || f.Entry != p.Vaddr+52+32 || p.Flags != elf.PF_R|elf.PF_X {
		t.Fatalf("segment %+v, entry %#x", p.ProgHeader, f.Entry)
	}
	if !bytes.Equal(b[84:], []byte{0xb8, 1, 0, 0, 0, 0x31, 0xdb, 0xcd, 0x80}) {
		t.Fatalf("code % x", b[84:])
	}
	exe := filepath.Join(t.TempDir(), "ia32")
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	err = exec.Command(exe).Run()
	if runtime.GOARCH == "amd64" && ia32Available() != (err == nil) {
		t.Errorf("ia32Available() = %v, but running the probe program: %v", ia32Available(), err)
	}
	// An emulator, when installed, runs it: the program itself is right (qemu-user-static).
	if q, err := exec.LookPath("qemu-i386-static"); err == nil {
		if out, err := exec.Command(q, exe).CombinedOutput(); err != nil {
			t.Errorf("qemu-i386-static: %v %s", err, out)
		}
	}
}

// The ia32 probe's answer is kept per boot in the cache directory: read back as written, and a
// file that says neither is no answer.
func TestIA32Cache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "seccomp-cache")
	if _, ok, file := ia32Cached(dir); ok || file == "" || filepath.Dir(file) != dir {
		t.Fatalf("empty cache: ok %v, file %q", ok, file)
	}
	for _, avail := range []bool{true, false} {
		_, _, file := ia32Cached(dir)
		ia32Remember(file, avail)
		if got, ok, _ := ia32Cached(dir); !ok || got != avail {
			t.Errorf("remembered %v, read back %v (ok %v)", avail, got, ok)
		}
	}
	// Another boot's answer goes when this boot's is written.
	stale := filepath.Join(dir, "ia32-00000000-0000-0000-0000-000000000000")
	os.WriteFile(stale, []byte("1"), 0o600)
	_, _, file := ia32Cached(dir)
	ia32Remember(file, false)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("another boot's answer stays: %v", err)
	}
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if filepath.Base(file) != "ia32-"+strings.TrimSpace(string(boot)) {
		t.Errorf("cache file %s is not this boot's", file)
	}
	os.WriteFile(file, []byte("maybe"), 0o600)
	if _, ok, _ := ia32Cached(dir); ok {
		t.Error("a garbled cache file taken as an answer")
	}
	if _, ok, file := ia32Cached(""); ok || file != "" {
		t.Error("no directory, yet a cache")
	}
	// The probe itself agrees with what the kernel runs (this machine: no ia32 emulation is
	// not assumed; only that probing twice gives one answer).
	if probeIA32() != probeIA32() {
		t.Error("the probe changed its mind")
	}
}
