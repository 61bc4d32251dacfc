package spec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/atomicfile"
	"github.com/hako-dev/hako/internal/errdefs"
)

// seccompProfile returns Docker's default profile, the profile in the opts.Seccomp file, or nil
// for "unconfined" and privileged containers. It needs s.Process.Capabilities set: the default
// profile allows the syscalls of the capabilities the container has (Docker's rule).
func seccompProfile(s *specs.Spec, opts Options) (*specs.LinuxSeccomp, error) {
	switch {
	case opts.Seccomp == SeccompUnconfined:
		return nil, nil
	case opts.Privileged && opts.Seccomp == "":
		return nil, nil
	case opts.Seccomp == "":
		p, err := seccomp.GetDefaultProfile(s)
		if err != nil {
			return nil, fmt.Errorf("generate spec: default seccomp profile: %w", err)
		}
		if !x32Available() {
			p.Architectures = withoutArch(p.Architectures, specs.ArchX32)
		}
		if !ia32Available() {
			p.Architectures = withoutArch(p.Architectures, specs.ArchX86)
		}
		return p, nil
	}
	body, err := os.ReadFile(opts.Seccomp)
	if err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("opening seccomp profile (%s) failed: %w", opts.Seccomp, err))
	}
	p, err := seccomp.LoadProfile(string(body), s)
	if err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("load seccomp profile %s: %w", opts.Seccomp, err))
	}
	return p, nil
}

// ProbeKernel asks the kernel what Docker's default profile depends on (x32Available,
// ia32Available), once per process: a monitor calls it on another core while it waits for its
// container, so that generating the spec later does not wait for the ia32 probe's process (a
// profile generated before the probe ends waits for it). With a cache directory set first
// (SetKernelCache: the store's seccomp cache), the ia32 probe's answer is kept there for this
// boot (ia32-BOOTID), and another boot's deleted: the probe is a process to start (a vfork
// and a failed exec, and Go's pidfd check, another process), and a kernel's ia32 emulation
// changes only with a reboot.
func ProbeKernel() {
	x32Available()
	ia32Available()
}

// SetKernelCache sets the directory of ProbeKernel's answers, before anything asks.
func SetKernelCache(cacheDir string) {
	ia32CacheDir.Store(&cacheDir)
}

// ia32CacheDir is SetKernelCache's directory, read by ia32Available.
var ia32CacheDir atomic.Pointer[string]

// ia32Cached is ia32Available's answer kept in dir for this boot, if any, and the file that
// holds (or will hold) it.
func ia32Cached(dir string) (avail, ok bool, file string) {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if dir == "" || err != nil || len(bytes.TrimSpace(boot)) == 0 {
		return false, false, ""
	}
	file = filepath.Join(dir, "ia32-"+string(bytes.TrimSpace(boot)))
	switch b, _ := os.ReadFile(file); string(b) {
	case "1":
		return true, true, file
	case "0":
		return false, true, file
	}
	return false, false, file
}

// x32Available reports whether this kernel runs x32 system calls (x86-64 numbers with bit 30
// set), which most distributions build in but leave off (syscall.x32=n): an x32 getpid then
// fails with ENOSYS. Asked once per process.
var x32Available = sync.OnceValue(func() bool {
	if runtime.GOARCH != "amd64" {
		return false
	}
	_, _, errno := unix.RawSyscall(x32SyscallBit|unix.SYS_GETPID, 0, 0, 0)
	return errno != unix.ENOSYS
})

const x32SyscallBit = 0x40000000

// ia32Available reports whether this kernel runs 32-bit x86 programs. Kernels since 6.7 can
// be built or booted with the ia32 emulation off (ia32_emulation=false, as this machine's):
// a 32-bit program then cannot start (execve fails with ENOEXEC) and the profile's x86
// section is dead weight too. The probe executes a 93-byte i386 program that exits 0 from a
// memfd, once per process; anything but ENOEXEC (success, another error, a memfd that cannot
// be executed) keeps x86 in the profile.
var ia32Available = sync.OnceValue(func() bool {
	if runtime.GOARCH != "amd64" {
		return false
	}
	dir := ""
	if d := ia32CacheDir.Load(); d != nil {
		dir = *d
	}
	avail, ok, file := ia32Cached(dir)
	if ok {
		return avail
	}
	avail = probeIA32()
	if file != "" {
		ia32Remember(file, avail)
	}
	return avail
})

// ia32Remember keeps avail in file (best effort; atomicfile: a concurrent reader sees the
// answer or nothing), and deletes earlier boots' answers.
func ia32Remember(file string, avail bool) {
	dir := filepath.Dir(file)
	if os.MkdirAll(dir, 0o700) != nil || atomicfile.Replace(file, []byte(map[bool]string{true: "1", false: "0"}[avail]), 0o600) != nil {
		return
	}
	if old, err := filepath.Glob(filepath.Join(dir, "ia32-*")); err == nil {
		for _, o := range old {
			if o != file {
				os.Remove(o)
			}
		}
	}
}

// probeIA32 executes the 93-byte i386 program from a memfd.
func probeIA32() bool {
	fd, err := unix.MemfdCreate("hako-ia32-probe", unix.MFD_CLOEXEC)
	if err != nil {
		return true
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, ia32Exit0()); err != nil {
		return true
	}
	err = exec.Command("/proc/self/fd/" + strconv.Itoa(fd)).Run()
	return !errors.Is(err, unix.ENOEXEC)
}

// ia32Exit0 is a static i386 ELF executable: one PT_LOAD segment of the whole file at
// 0x08048000, whose code is exit(0) (mov eax, 1; xor ebx, ebx; int 0x80).
func ia32Exit0() []byte {
	const base, ehsize, phsize = 0x08048000, 52, 32
	code := []byte{0xb8, 1, 0, 0, 0, 0x31, 0xdb, 0xcd, 0x80}
	size := uint32(ehsize + phsize + len(code))
	le := binary.LittleEndian
	b := []byte{0x7f, 'E', 'L', 'F', 1 /* 32-bit */, 1 /* little-endian */, 1 /* version */, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	b = le.AppendUint16(b, 2)                  // e_type: ET_EXEC
	b = le.AppendUint16(b, 3)                  // e_machine: EM_386
	b = le.AppendUint32(b, 1)                  // e_version
	b = le.AppendUint32(b, base+ehsize+phsize) // e_entry: the code
	b = le.AppendUint32(b, ehsize)             // e_phoff
	b = le.AppendUint32(b, 0)                  // e_shoff
	b = le.AppendUint32(b, 0)                  // e_flags
	b = le.AppendUint16(b, ehsize)             // e_ehsize
	b = le.AppendUint16(b, phsize)             // e_phentsize
	b = le.AppendUint16(b, 1)                  // e_phnum
	b = append(b, 0, 0, 0, 0, 0, 0)            // e_shentsize, e_shnum, e_shstrndx
	b = le.AppendUint32(b, 1)                  // p_type: PT_LOAD
	b = le.AppendUint32(b, 0)                  // p_offset
	b = le.AppendUint32(b, base)               // p_vaddr
	b = le.AppendUint32(b, base)               // p_paddr
	b = le.AppendUint32(b, size)               // p_filesz
	b = le.AppendUint32(b, size)               // p_memsz
	b = le.AppendUint32(b, 5)                  // p_flags: R+X
	b = le.AppendUint32(b, 0x1000)             // p_align
	return append(b, code...)
}

// withoutArch drops an architecture from a profile. Docker's profile lists x32 beside x86-64 and
// x86; when the kernel cannot run x32 its section of the filter is dead weight, and compiling
// it is a third of the compile, which the container's init does at every start and exec (about
// 40 ms here). An x32 call still meets the filter: libseccomp sends the x86-64 numbers with the
// x32 bit to the bad-architecture action, and the kernel refuses them anyway.
func withoutArch(archs []specs.Arch, drop specs.Arch) []specs.Arch {
	out := make([]specs.Arch, 0, len(archs))
	for _, a := range archs {
		if a != drop {
			out = append(out, a)
		}
	}
	return out
}
