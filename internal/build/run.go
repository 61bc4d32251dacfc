package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// PipesDir is where a RUN heredoc that starts with #! is mounted as an executable, as BuildKit
// does.
const PipesDir = "/dev/pipes"

// RunSpec is a RUN step's process: what the Executor starts in the step's filesystem.
type RunSpec struct {
	Args       []string
	Env        []string // the image's ENV, then the ARGs in scope that ENV does not set
	User       string
	WorkingDir string
	Network    string // "none" (the default) or "host"
	// Files are heredoc scripts, mounted read-only under PipesDir.
	Files []InlineFile
	// Mounts are the RUN's --mount flags.
	Mounts []RunMount
}

// InlineFile is a file made from a heredoc.
type InlineFile struct {
	Name string
	Data string
	Mode os.FileMode
}

// RunRequest is one RUN for an Executor.
type RunRequest struct {
	// ID is unique to this run; the Executor may use it for the container's name.
	ID string
	// Rootfs is the step's snapshot, mounted read-write. What the process changes there becomes
	// the step's layer.
	Rootfs string
	Spec   RunSpec
	// Mounts are Spec.Mounts as the builder prepared them on the host.
	Mounts []MountPoint
	// SecretEnv are secrets given as environment variables ("K=V"): added to the process's
	// environment and nowhere else (no file on disk may hold them).
	SecretEnv []string
	// Private, when set, is a directory in memory (a tmpfs) for what the run must not leave
	// on disk: the runtime bundle when SecretEnv is set.
	Private string
	Stdout  io.Writer
	Stderr  io.Writer
}

// Executor runs RUN steps: the builder's implementation starts a container on the real runtime;
// tests use a fake.
type Executor interface {
	// Run runs the process to completion. A process that exits non-zero is an *ExitError.
	Run(ctx context.Context, req RunRequest) error
}

// ExitError is a RUN process that exited with a non-zero code.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit code: %d", e.Code) }

// RunError is a failed RUN step: the command, its exit code and its last lines of output.
type RunError struct {
	Command string
	Code    int
	Tail    []string
	Err     error
}

func (e *RunError) Error() string {
	msg := fmt.Sprintf("process %q did not complete successfully: exit code: %d", e.Command, e.Code)
	if e.Code < 0 {
		msg = fmt.Sprintf("process %q did not complete successfully: %v", e.Command, e.Err)
	}
	if len(e.Tail) > 0 {
		msg += ": last output: " + strings.Join(e.Tail, " | ")
	}
	return msg
}
func (e *RunError) Unwrap() error { return e.Err }

// runStep prepares a RUN instruction.
func (s *Stage) runStep(st *Step, x *instructions.RunCommand) error {
	st.Kind = KindRun
	args := x.CmdLine
	spec := &RunSpec{User: s.Config.Config.User, WorkingDir: s.Config.Config.WorkingDir, Network: "none"}
	if spec.WorkingDir == "" {
		spec.WorkingDir = "/"
	}
	if n := instructions.GetNetwork(x); n == "host" {
		spec.Network = "host"
	}
	mounts, err := s.runMounts(x, spec.WorkingDir)
	if err != nil {
		return err
	}
	spec.Mounts = mounts
	if len(x.Files) > 0 {
		if len(args) != 1 || !x.PrependShell {
			return fmt.Errorf("parsing produced an invalid run command: %v", args)
		}
		if h := parser.MustParseHeredoc(args[0]); h != nil {
			f := x.Files[0]
			data := f.Data
			if f.Chomp {
				data = parser.ChompHeredocContent(data)
			}
			if strings.HasPrefix(data, "#!") {
				spec.Files = append(spec.Files, InlineFile{Name: f.Name, Data: data, Mode: 0o755})
				args = []string{path.Join(PipesDir, f.Name)}
				x = &instructions.RunCommand{ShellDependantCmdLine: instructions.ShellDependantCmdLine{CmdLine: args}}
			} else {
				args = []string{data}
			}
		} else {
			full := args[0]
			for _, f := range x.Files {
				full += "\n" + f.Data + f.Name
			}
			args = []string{full}
		}
	}
	if x.PrependShell {
		spec.Args = append(s.shell(), strings.Join(args, " "))
	} else {
		spec.Args = append([]string{}, args...)
	}
	argEnv := s.buildArgEnv()
	spec.Env = append(append(append([]string{}, s.Config.Config.Env...), argEnv...), s.proxyEnv()...)
	spec.Env = addSSHAuthSock(spec.Env, spec.Mounts)
	st.Run = spec
	st.Args = argEnv
	prefix := ""
	if len(argEnv) > 0 {
		prefix = fmt.Sprintf("|%d %s ", len(argEnv), strings.Join(argEnv, " "))
	}
	st.CreatedBy = "RUN " + prefix + strings.Join(spec.Args, " ") + " # buildkit"
	st.KeyText = fmt.Sprintf("RUN %q network=%s user=%q workdir=%q env=%q files=%q", spec.Args, spec.Network, spec.User, spec.WorkingDir, spec.Env, spec.Files)
	if len(spec.Mounts) > 0 {
		st.KeyText += " mounts=" + mountKeyText(spec.Mounts)
	}
	return nil
}

// Run carries out a RUN step in rootfs (the step's mounted snapshot): it makes the working
// directory, runs the process through ex with its output going to out, and turns a failure into
// a *RunError with the last lines of output.
func Run(ctx context.Context, ex Executor, id, rootfs string, spec *RunSpec, out io.Writer) error {
	return RunWith(ctx, ex, RunRequest{ID: id, Rootfs: rootfs, Spec: *spec}, out)
}

// RunWith is Run for a request with mounts: req.Stdout and req.Stderr are set here.
func RunWith(ctx context.Context, ex Executor, req RunRequest, out io.Writer) error {
	spec, rootfs := &req.Spec, req.Rootfs
	if spec.WorkingDir != "" && spec.WorkingDir != "/" {
		// Docker creates a WORKDIR that does not exist yet; it becomes part of this layer.
		p, err := securejoin.SecureJoin(rootfs, spec.WorkingDir)
		if err != nil {
			return fmt.Errorf("working directory %s: %w", spec.WorkingDir, err)
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return fmt.Errorf("working directory %s: %w", spec.WorkingDir, err)
		}
	}
	tail := &tailWriter{max: 10}
	w := io.MultiWriter(out, tail)
	req.Stdout, req.Stderr = w, w
	err := ex.Run(ctx, req)
	if err == nil {
		return nil
	}
	cmd := strings.Join(spec.Args, " ")
	var ee *ExitError
	if errors.As(err, &ee) {
		return &RunError{Command: cmd, Code: ee.Code, Tail: tail.Lines(), Err: err}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &RunError{Command: cmd, Code: -1, Tail: tail.Lines(), Err: err}
}

// tailWriter keeps the last max lines written to it.
type tailWriter struct {
	mu    sync.Mutex
	max   int
	lines []string
	part  []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, p...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		t.add(string(t.part[:i]))
		t.part = t.part[i+1:]
	}
	if len(t.part) > 4096 {
		t.add(string(t.part))
		t.part = nil
	}
	return len(p), nil
}

func (t *tailWriter) add(l string) {
	l = strings.TrimRight(l, "\r")
	t.lines = append(t.lines, l)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

// Lines are the last lines, the unterminated one included.
func (t *tailWriter) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string{}, t.lines...)
	if len(t.part) > 0 {
		out = append(out, string(t.part))
	}
	if len(out) > t.max {
		out = out[len(out)-t.max:]
	}
	return out
}
