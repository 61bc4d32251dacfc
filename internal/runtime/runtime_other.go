//go:build !linux

package runtime

import (
	"context"
	"errors"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hako-dev/hako/internal/errdefs"
)

var errLinuxOnly = errdefs.NotImplemented(errors.New("containers need Linux"))

// Init returns false: only Linux re-executes hako as a container init.
func Init() bool { return false }

// Runtime runs containers on Linux only.
type Runtime struct {
	SeccompCache            string
	ExecProfiles, FastStart bool
	AfterPlan               func()
}

func New(string) (*Runtime, error) { return nil, errLinuxOnly }

func (*Runtime) Start(context.Context, string, string, IO) (*Process, error) {
	return nil, errLinuxOnly
}
func (*Runtime) StartSpec(context.Context, string, string, *specs.Spec, IO) (*Process, error) {
	return nil, errLinuxOnly
}
func (*Runtime) StartEarly(IO)         {}
func (*Runtime) DropEarly()            {}
func (*Runtime) PrepareCgroups(string) {}
func (*Runtime) PrepareNetNS(IO)       {}
func (*Runtime) DropNetNS()            {}
func (*Runtime) Exec(context.Context, string, specs.Process, IO) (*Process, error) {
	return nil, errLinuxOnly
}
func (*Runtime) Signal(string, os.Signal, bool) error { return errLinuxOnly }
func (*Runtime) State(string) (State, error)          { return State{}, errLinuxOnly }
func (*Runtime) OOMKilled(string) (bool, error)       { return false, errLinuxOnly }
func (*Runtime) Delete(string, bool) error            { return errLinuxOnly }
func (*Runtime) Pause(string) error                   { return errLinuxOnly }
func (*Runtime) Resume(string) error                  { return errLinuxOnly }

func (p *Process) Signal(sig os.Signal) error        { return errLinuxOnly }
func (p *Process) Resize(width, height uint16) error { return errLinuxOnly }

// PrepareSeal: no C start path here.
func PrepareSeal(string) {}

// DropSeal: no C start path here.
func DropSeal() {}
