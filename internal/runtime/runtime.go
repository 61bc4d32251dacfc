package runtime

import (
	"errors"
	"io"
	"os"
	"time"
)

// IO is the standard input and output of a container process.
type IO struct {
	Stdin          io.Reader // nil: /dev/null
	Stdout, Stderr io.Writer // nil: /dev/null
	// Tty gives the process a pseudo-terminal (docker run -t): Stdin feeds it and Stdout receives
	// everything it prints; Stderr is unused. The spec's process.terminal must agree.
	Tty bool
	// ConsoleWidth and ConsoleHeight set the terminal's first size.
	ConsoleWidth, ConsoleHeight uint16
	// CallerReaps leaves the process to the caller, who waits for it by PID itself (it is the
	// caller's child): nothing in this package waits for it, and Process.Wait fails at once.
	// The monitor's keeper (package monitor) reaps a detached container's init after the Go
	// monitor has exec'd into it. Stdout and Stderr must then be files (or nil), so that no
	// goroutine copies them.
	CallerReaps bool
}

// Status is a container's state in Docker's words.
type Status string

const (
	StatusCreated Status = "created"
	StatusRunning Status = "running"
	StatusPaused  Status = "paused"
	StatusStopped Status = "stopped"
)

// State describes a container known to the runtime.
type State struct {
	ID      string
	Status  Status
	Pid     int // of the container's init in the host's PID namespace; 0 once stopped
	Bundle  string
	Created time.Time
	// OOMKilled reports that the kernel's OOM killer killed a process of the container
	// (memory.oom_control on cgroup v1, memory.events on v2). It stays readable after the
	// container stopped, until Delete.
	OOMKilled bool
}

// Process is a process started in a container by Start or Exec.
type Process struct {
	Pid int // in the host's PID namespace

	signal  func(os.Signal) error
	console *os.File      // the terminal's master side for IO.Tty
	done    chan struct{} // closed once reaped; never for IO.CallerReaps
	exit    int
	err     error
	// callerReaps: IO.CallerReaps
	callerReaps bool
	// execProfile writes the container's exec profile; nil for an exec, or for a container
	// that gets none.
	execProfile func()
	// For a container's init (nil for an exec): its cgroup directories, and the removal of
	// the container once the init has exited (libcontainer's Destroy, without loading the
	// state from disk again).
	cgroupPaths map[string]string
	destroy     func() error
}

// Reaped tells the Process of an init started with IO.CallerReaps that the caller reaped it,
// with exit code code: Wait returns it from then on, and Delete may remove the container.
func (p *Process) Reaped(code int) {
	if p.callerReaps {
		p.callerReaps = false
		p.exit = code
		close(p.done)
	}
}

// WriteExecProfile writes the exec profile (docs/exec.md) of the container whose init Start
// returned, so that its execs can take the C path. It is left to the caller so that the
// caller can do it once it has told its own caller that the container runs: it is off the
// start's path. Calling it more than once, or for an exec, does nothing.
func (p *Process) WriteExecProfile() {
	if f := p.execProfile; f != nil {
		p.execProfile = nil
		f()
	}
}

// Wait waits for the process to exit and returns its exit code in Docker's convention: the
// status it exited with, or 128+N when signal N killed it (137 for SIGKILL, the OOM killer's).
// It is safe to call more than once and from several goroutines. For a process started with
// IO.CallerReaps it fails at once.
func (p *Process) Wait() (int, error) {
	if p.callerReaps {
		return -1, errors.New("wait: the caller reaps this process (IO.CallerReaps)")
	}
	<-p.done
	return p.exit, p.err
}
