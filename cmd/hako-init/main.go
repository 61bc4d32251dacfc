// Command hako-init is the init that `hako run --init` puts in front of a container's command,
// bind-mounted read-only at /sbin/docker-init: it runs as PID 1, starts the command as its only
// child, forwards every signal it receives to that child, reaps every process that is reparented
// to it (orphans of the container's process tree), and exits with the child's status (128+N
// when signal N killed it), as tini, Docker's docker-init, does.
//
// It must run inside any image, whose root has none of the host's libraries: it imports no
// package that needs cgo, so `go build ./cmd/hako-init` makes a static binary even where cgo is
// enabled (hako itself is dynamically linked, for libseccomp and libcontainer's nsenter). hako
// looks for it next to its own executable (`go build -o DIR/ ./cmd/...` or `go install
// ./cmd/...` put both there), then at $HAKO_INIT_PATH, then as hako-init, docker-init,
// tini-static or catatonit on $PATH.
//
//	hako-init [--] COMMAND [ARG...]
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "hako-init: usage: hako-init [--] COMMAND [ARG...]")
		return 125
	}
	// Every signal is caught before the child exists, so none sent in between is lost: a PID 1
	// without a handler would ignore it.
	sigs := make(chan os.Signal, 128)
	signal.Notify(sigs)

	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "hako-init: exec %s: %v\n", args[0], unwrap(err))
		return execCode(err)
	}
	cmd := &exec.Cmd{Path: path, Args: args, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	// The child gets its own process group; on a terminal that group becomes the foreground
	// one, so ^C reaches the child from the terminal once, not twice through us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		cmd.SysProcAttr.Foreground = true
		cmd.SysProcAttr.Ctty = 0
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "hako-init: exec %s: %v\n", args[0], unwrap(err))
		return execCode(err)
	}
	child := cmd.Process.Pid
	for sig := range sigs {
		s := sig.(syscall.Signal)
		switch s {
		case syscall.SIGCHLD:
			if code, done := reap(child); done {
				return code
			}
		case syscall.SIGURG, syscall.SIGTTIN, syscall.SIGTTOU:
			// SIGURG is the Go runtime's own preemption signal; the terminal's job-control
			// signals concern us, not the child.
		default:
			syscall.Kill(child, s)
		}
	}
	return 0
}

// reap collects every exited process; done reports that the child was one of them, with its
// exit code in Docker's convention.
func reap(child int) (code int, done bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return code, done
		}
		if pid == child {
			done = true
			if ws.Signaled() {
				code = 128 + int(ws.Signal())
			} else {
				code = ws.ExitStatus()
			}
		}
	}
}

func execCode(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return 127
	}
	return 126
}

func unwrap(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}
