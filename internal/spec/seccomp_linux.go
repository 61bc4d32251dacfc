package spec

import (
	"fmt"
	"os"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

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
