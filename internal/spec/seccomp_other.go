//go:build !linux

package spec

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hako-dev/hako/internal/errdefs"
)

// seccompProfile: seccomp is Linux's; elsewhere only "unconfined" can be honoured.
func seccompProfile(_ *specs.Spec, opts Options) (*specs.LinuxSeccomp, error) {
	if opts.Seccomp == SeccompUnconfined || opts.Privileged {
		return nil, nil
	}
	return nil, errdefs.NotImplemented(errors.New("generate spec: seccomp profiles need Linux"))
}

// ProbeKernel has nothing to ask outside Linux.
func ProbeKernel() {}

// SetKernelCache has nothing to keep outside Linux.
func SetKernelCache(cacheDir string) {}
