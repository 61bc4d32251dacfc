package spec

import (
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

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

// withoutArch drops an architecture from a profile. Docker's profile lists x32 beside x86-64 and
// x86; when the kernel cannot run x32 its section of the filter is dead weight, and compiling
// it is a third of the compile, which the container's init does at every start and exec (about
// 15 ms here). An x32 call still meets the filter: libseccomp sends the x86-64 numbers with the
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
