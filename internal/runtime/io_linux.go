package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"
)

// run starts lp with stdio and returns the running Process, whose Wait reaps it. start starts
// lp in its container once its standard streams are set: c.Run(lp) for an exec, c.Start then
// c.Exec for an init (Runtime.Start does its own work between the two).
//
// stderrUID is the host UID the process runs as (-1: unknown). libcontainer's init gives the
// process its standard streams (fixStdioPermissions) so that a user other than root can reopen
// them (/dev/stderr); with the exec report (execreport_linux.go) its os.Stderr is the report
// pipe, so the stderr given here is handed over by this process instead (ownStderr), which
// therefore makes the pipe itself when stdio.Stderr is not a file.
func run(lp *libcontainer.Process, stdio IO, stderrUID int, start func() error) (*Process, error) {
	var afterStart []io.Closer // the child's ends: ours to close once it has them
	closeAll := func() {
		for _, f := range afterStart {
			_ = f.Close()
		}
	}
	var consoleParent *os.File
	var stderrDone chan struct{} // the copy of a stderr pipe made here ended
	if stdio.Tty {
		// libcontainer makes the pty inside the container and sends its master over this
		// socket; the slave side is the process's stdin, stdout and stderr.
		parent, child, err := utils.NewSockPair("console")
		if err != nil {
			return nil, fmt.Errorf("console socket: %w", err)
		}
		consoleParent = parent
		afterStart = append(afterStart, child)
		lp.ConsoleSocket = child
		if stdio.ConsoleWidth > 0 && stdio.ConsoleHeight > 0 {
			lp.ConsoleWidth, lp.ConsoleHeight = stdio.ConsoleWidth, stdio.ConsoleHeight
		}
	} else {
		switch in := stdio.Stdin.(type) {
		case nil:
		case *os.File:
			lp.Stdin = in
		default:
			pr, _, err := pipeFrom(in)
			if err != nil {
				return nil, fmt.Errorf("stdin pipe: %w", err)
			}
			lp.Stdin = pr
			afterStart = append(afterStart, pr)
		}
		lp.Stdout, lp.Stderr = stdio.Stdout, stdio.Stderr
		switch w := stdio.Stderr.(type) {
		case nil:
		case *os.File:
			ownStderr(w, stderrUID)
		default:
			pr, pw, err := os.Pipe()
			if err != nil {
				closeAll()
				return nil, fmt.Errorf("stderr pipe: %w", err)
			}
			ownStderr(pw, stderrUID)
			lp.Stderr = pw
			if sameWriter(stdio.Stdout, w) {
				// One pipe for both, as exec.Cmd makes for one writer: never two
				// goroutines writing into it at once (the healthcheck's buffer).
				lp.Stdout = pw
			}
			afterStart = append(afterStart, pw)
			stderrDone = make(chan struct{})
			go func() {
				_, _ = io.Copy(w, pr)
				_ = pr.Close()
				close(stderrDone)
			}()
		}
	}

	if err := start(); err != nil {
		closeAll()
		if consoleParent != nil {
			_ = consoleParent.Close()
		}
		return nil, err
	}
	closeAll()

	pid, err := lp.Pid()
	if err != nil {
		return nil, err
	}
	p := &Process{Pid: pid, done: make(chan struct{}), signal: lp.Signal}
	var outputDone chan struct{}
	if consoleParent != nil {
		master, err := utils.RecvFile(consoleParent)
		_ = consoleParent.Close()
		if err != nil {
			_ = lp.Signal(unix.SIGKILL)
			_, _ = lp.Wait()
			return nil, fmt.Errorf("receive console: %w", err)
		}
		p.console = master
		if stdio.Stdin != nil {
			go func() { _, _ = io.Copy(master, stdio.Stdin) }()
		}
		out := stdio.Stdout
		if out == nil {
			out = io.Discard
		}
		outputDone = make(chan struct{})
		go func() {
			// Ends with EIO once the last holder of the terminal's slave side exits.
			_, _ = io.Copy(out, master)
			close(outputDone)
		}()
	}
	if stdio.CallerReaps && consoleParent == nil {
		p.callerReaps = true
		return p, nil
	}
	go func() {
		ps, err := lp.Wait()
		p.exit, p.err = exitCode(ps, err)
		if stderrDone != nil {
			<-stderrDone
		}
		if outputDone != nil {
			<-outputDone
			_ = p.console.Close()
		}
		close(p.done)
	}()
	return p, nil
}

// pipeFrom returns a pipe that a goroutine fills from in, closing its write end at in's EOF
// (closing it sooner ends the copy): the process's stdin when it is not a file. Handing
// exec.Cmd a plain reader would make Wait wait for it to reach EOF, which an attached
// client's stdin may never do.
func pipeFrom(in io.Reader) (r, w *os.File, err error) {
	if r, w, err = os.Pipe(); err != nil {
		return nil, nil, err
	}
	go func() {
		_, _ = io.Copy(w, in)
		_ = w.Close()
	}()
	return r, w, nil
}

func exitCode(ps *os.ProcessState, err error) (int, error) {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ps = ee.ProcessState
	} else if err != nil && ps == nil {
		return -1, fmt.Errorf("wait for container process: %w", err)
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return ps.ExitCode(), nil
	}
	return ExitCode(ws), nil
}

// ExitCode is a wait status in Docker's convention: the status the process exited with, or
// 128+N when signal N killed it.
func ExitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.signal(sig) }

// Resize sets the size of the process's terminal (IO.Tty).
func (p *Process) Resize(width, height uint16) error {
	if p.console == nil {
		return errors.New("resize: the process has no terminal")
	}
	return unix.IoctlSetWinsize(int(p.console.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: height, Col: width})
}

// ownStderr gives f, the stderr of a process about to run as host UID uid, to that UID, as
// libcontainer's fixStdioPermissions does inside the init for each standard stream: unless it
// is owned so already or is /dev/null, and leaving it as it is when the chown is refused.
func ownStderr(f *os.File, uid int) {
	if uid < 0 {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || int(st.Uid) == uid {
		return
	}
	if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == unix.Mkdev(1, 3) {
		return // /dev/null
	}
	_ = f.Chown(uid, -1)
}

// sameWriter is exec.Cmd's test of one writer for stdout and stderr: equal interfaces, of a
// comparable type.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}
