package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/image"
	"github.com/hako-dev/hako/internal/runtime"
	"github.com/hako-dev/hako/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ExecOptions are `exec`'s flags.
type ExecOptions struct {
	Cmd        []string
	Env        []string // KEY=VALUE, over the container's environment
	User       string   // "" keeps the container's user
	WorkingDir string   // "" keeps the container's working directory
	Privileged bool
	Tty        bool
	// Stdin is nil without -i. Stdout and Stderr nil discard (exec -d).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	ConsoleWidth   uint16
	ConsoleHeight  uint16
}

// Exec starts a process in a running container, as `docker exec` does, and returns it running:
// the caller is its parent and collects its exit code with Wait (exec -d simply returns; the
// process then belongs to the container's init, which reaps it).
//
// A plain `hako exec` (no -t, -u, --env-file) never gets here: the C constructor of package
// fastexec takes it before Go starts, from the exec profile the monitor writes (docs/exec.md),
// and hands everything else, every error about the container included, to this path.
//
// Why this is sound although Go cannot setns(2) into a mount or PID namespace (those need a
// single-threaded process, and the Go runtime starts threads before main): libcontainer
// re-executes this very binary as `hako init` with its pipes in the environment, and the C
// constructor of runc's nsenter package (imported by internal/runtime/init_linux.go) runs in
// that child before the Go runtime exists. It joins the container's user, mount, PID, network,
// IPC, UTS, cgroup and time namespaces while the process is still one thread, forks once more so
// that the PID namespace applies, and only then lets Go start: runtime.Init finishes the job
// (cgroup, capabilities, no_new_privileges, seccomp, user, rlimits) and execs the user's command.
// The process therefore enters the container exactly as runc exec's does, with nothing of the
// host left in it. libcontainer also runs that child from a sealed copy of the hako binary
// (exeseal: a read-only overlay or a sealed memfd), so a process in the container that reaches
// /proc/<pid>/exe finds a copy it cannot write, never the host's hako (CVE-2019-5736).
func (e *Engine) Exec(ctx context.Context, ref string, o ExecOptions) (*runtime.Process, error) {
	Phase("exec: begin")
	c, err := e.Containers().Get(ref)
	if err != nil {
		return nil, err
	}
	if err := execable(c); err != nil {
		return nil, err
	}
	if len(o.Cmd) == 0 || o.Cmd[0] == "" {
		return nil, errdefs.Invalidf("exec: no command specified")
	}
	p, err := e.execProcess(ctx, c, o)
	if err != nil {
		return nil, err
	}
	rt, err := e.NewRuntime()
	if err != nil {
		return nil, err
	}
	stdio := runtime.IO{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Tty: o.Tty, ConsoleWidth: o.ConsoleWidth, ConsoleHeight: o.ConsoleHeight}
	Phase("exec: process derived, runtime exec")
	proc, err := rt.Exec(ctx, c.ID, p, stdio)
	Phase("exec: runtime exec returned")
	if err != nil {
		if errors.Is(err, errdefs.ErrConflict) {
			// Raced with a stop or pause: say it as Docker does.
			if c2, gerr := e.Containers().Get(c.ID); gerr == nil {
				if xerr := execable(c2); xerr != nil {
					return nil, xerr
				}
			}
		}
		return nil, err
	}
	return proc, nil
}

// execable refuses a container that is not running, or paused, in Docker's words.
func execable(c *container.Container) error {
	switch {
	case c.State.Paused:
		return errdefs.Conflictf("container %s is paused, unpause the container before exec", c.ID)
	case !c.State.Running:
		return errdefs.Conflictf("container %s is not running", c.ID)
	}
	return nil
}

// execProcess derives the exec'd process from the process the container runs (its bundle's
// config.json, written by the monitor at start): the same environment, user, working directory,
// capabilities and rlimits, with the exec's flags over them. Seccomp and no_new_privileges come
// from the container's runtime config and cannot be lifted by an exec.
func (e *Engine) execProcess(ctx context.Context, c *container.Container, o ExecOptions) (specs.Process, error) {
	dir := e.Containers().Dir(c.ID)
	b, err := os.ReadFile(filepath.Join(dir, "bundle", "config.json"))
	if err != nil {
		return specs.Process{}, fmt.Errorf("exec in container %s: read its bundle: %w", c.Name, err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil || s.Process == nil {
		return specs.Process{}, fmt.Errorf("exec in container %s: bad bundle config: %v", c.Name, err)
	}
	p := *s.Process
	p.Args = slices.Clone(o.Cmd)
	p.Terminal = o.Tty
	p.ConsoleSize = nil
	p.Env = slices.Clone(p.Env)
	if o.Tty && !hasEnv(p.Env, "TERM") {
		p.Env = append(p.Env, "TERM=xterm")
	}
	for _, kv := range o.Env {
		k, _, _ := strings.Cut(kv, "=")
		p.Env = image.SetEnv(p.Env, k, strings.TrimPrefix(kv, k+"="))
	}
	if o.WorkingDir != "" {
		if !filepath.IsAbs(o.WorkingDir) {
			return specs.Process{}, errdefs.Invalidf("the working directory '%s' is invalid, it needs to be an absolute path", o.WorkingDir)
		}
		p.Cwd = filepath.Clean(o.WorkingDir)
	}
	if o.User != "" {
		// The container's /etc/passwd and /etc/group, read through the monitor's mount of its
		// root with every path resolved inside it.
		u, err := spec.ResolveUser(filepath.Join(dir, "rootfs"), o.User)
		if err != nil {
			return specs.Process{}, err
		}
		p.User = u
	}
	if o.Privileged {
		// What a --privileged container's process gets, which spec already narrows to this
		// hako's own bounding set (a host root without CAP_SYS_RESOURCE cannot hand it on).
		p.Capabilities = spec.PrivilegedCapabilities()
	}
	return p, nil
}

func hasEnv(env []string, k string) bool {
	return slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, k+"=") })
}
