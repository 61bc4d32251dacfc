// Package stdiofile writes a command's output to the standard streams it was given.
package stdiofile

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// eagainWriter writes to f and waits out EAGAIN. Go's os.File polls a descriptor that was
// non-blocking when the file was made (os.Stdout: at the process's start); one made
// non-blocking later (the caller shares the pipe's open file description, and flips it after
// hako started) returns EAGAIN from Write, which would end the copy of a container's output
// (exec's, and a run's attached one).
type eagainWriter struct{ f *os.File }

func (w eagainWriter) Write(p []byte) (int, error) {
	done := 0
	for {
		n, err := w.f.Write(p[done:])
		done += n
		if err == nil || !errors.Is(err, unix.EAGAIN) {
			return done, err
		}
		// Its descriptor without Fd, which would make a polled file blocking.
		rc, cerr := w.f.SyscallConn()
		if cerr != nil {
			return done, err
		}
		rc.Control(func(fd uintptr) {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
			for {
				if _, err := unix.Poll(fds, -1); !errors.Is(err, unix.EINTR) {
					return
				}
			}
		})
	}
}

// Writer is w, made to wait out EAGAIN where it is a file, and never an *os.File (a runtime
// given one would hand its descriptor to the container's process).
func Writer(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok {
		return eagainWriter{f}
	}
	return struct{ io.Writer }{w}
}
