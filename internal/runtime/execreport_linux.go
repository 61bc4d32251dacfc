package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/errdefs"
)

// The exec report: how libcontainer's path learns that its init (or exec'd process) never ran
// the command, and why, as the C paths do from their error pipes.
//
// libcontainer's init looks the command up before it reports ready, but execve itself comes
// after: when the kernel refuses the file (a script without #!, a missing interpreter or
// loader: ENOEXEC, ENOENT, EACCES), libcontainer.Init prints `exec NAME: ERROR` on os.Stderr
// and exits 255. Left alone, that line lands in the container's stderr and the container
// "exits" 255, where Docker (and hako's C paths) say 126 or 127.
//
// So the start passes the write end of a pipe as the process's only extra file (fd 3 in the
// init; libcontainer keeps fds below 3 + len(ExtraFiles) open up to the execve). hako's init
// entry (Init) recognises it before libcontainer's init runs, writes one byte (execReportAck),
// marks it close-on-exec and makes it os.Stderr. Then:
//   - a successful execve closes it: EOF with nothing after the acknowledgement;
//   - a failed one has libcontainer.Init print its error into it and exit: EOF after a message.
//
// The command never holds the descriptor, so nothing it prints can be taken for a failure of
// its start, and a program that exits 255 by itself stays 255.
const execReportFD = 3

// execReportAck is the init's first byte on the report pipe: it adopted it. An init that did not
// (a binary whose main does not call Init) would pass the descriptor on to the command, and EOF
// would come only when the container ends: the start then does not wait for it.
const execReportAck = '+'

type execReport struct {
	r, w    *os.File
	adopted bool
}

// newExecReport makes the pipe and gives its write end to lp, as lp's only extra file.
func newExecReport(lp *libcontainer.Process) (*execReport, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("exec report pipe: %w", err)
	}
	lp.ExtraFiles = []*os.File{w}
	return &execReport{r: r, w: w}, nil
}

// started is called once libcontainer's Start (or Run) returned: the init is past Go's start-up,
// so its acknowledgement, if any, is in the pipe. It closes this process's write end.
func (e *execReport) started() {
	_ = e.w.Close()
	rc, err := e.r.SyscallConn()
	if err != nil {
		return
	}
	var b [1]byte
	n := 0
	// One read, without waiting: the pipe is non-blocking (in Go's poller).
	_ = rc.Read(func(fd uintptr) bool {
		n, _ = unix.Read(int(fd), b[:])
		return true
	})
	e.adopted = n == 1 && b[0] == execReportAck
}

// wait waits for the command's execve, once libcontainer has let the process run it, and
// returns nil when it happened, or the process's failure in libcontainer's words after prefix
// (Start's "unable to start container process: error during container init: "), classed 126 or
// 127 as Docker's. Without the init's acknowledgement it returns nil at once.
func (e *execReport) wait(prefix string) error {
	defer e.r.Close()
	if !e.adopted {
		return nil
	}
	msg, _ := io.ReadAll(e.r)
	text := strings.TrimSpace(string(msg))
	if text == "" {
		return nil
	}
	return execFailure(prefix, text)
}

// close releases both ends, on a start that failed before wait.
func (e *execReport) close() {
	_ = e.w.Close()
	_ = e.r.Close()
}

// execFailure is the error of a process that failed after its sync pipe closed, from prefix
// (libcontainer's words for a failed start) and text, what libcontainer's init printed. Its last
// line, `exec NAME: ERROR` for a failed execve (an os.PathError), is 126 or 127 by ERROR in
// classifyExecError's words, as the C paths class the same failure. Anything else (a hook, the
// exec fifo) is a start error of no class (125).
func execFailure(prefix, text string) error {
	err := errors.New(prefix + text)
	last := text
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		last = text[i+1:]
	}
	if !strings.HasPrefix(last, "exec ") {
		return err
	}
	i := strings.LastIndex(last, ": ")
	if i < 0 {
		return err
	}
	if class := execErrorClass(last[i+2:]); class != nil {
		return errClassed{err, class}
	}
	return err
}

// execErrorClass is the class of a failure to find or execute a command by its words (an
// errno's string, or a message that ends with one): errdefs.ErrCommandNotFound (127),
// errdefs.ErrCannotExecute (126), or nil. fastexec.c's classify uses the same words.
func execErrorClass(s string) error {
	switch {
	case strings.Contains(s, "executable file not found"), strings.Contains(s, "no such file or directory"),
		strings.Contains(s, "not a directory"):
		return errdefs.ErrCommandNotFound
	case strings.Contains(s, "permission denied"), strings.Contains(s, "is a directory"),
		strings.Contains(s, "exec format error"):
		return errdefs.ErrCannotExecute
	}
	return nil
}

// adoptExecReport runs in a process that libcontainer re-executed as its init (or exec'd
// process), before libcontainer's init code: if the start passed the report pipe, it
// acknowledges it, makes it close-on-exec and libcontainer's os.Stderr (see execReport).
func adoptExecReport() {
	if passedFiles(os.Getenv) != 1 {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(execReportFD, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return
	}
	if _, err := unix.FcntlInt(execReportFD, unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		// Never to reach the command: the start waits for nothing without the acknowledgement.
		_ = unix.Close(execReportFD)
		return
	}
	if n, err := unix.Write(execReportFD, []byte{execReportAck}); n != 1 || err != nil {
		return
	}
	os.Stderr = os.NewFile(execReportFD, "hako-exec-report")
}

// passedFiles is how many extra files the process was given (libcontainer's Process.ExtraFiles,
// the ones it keeps open for the command): libcontainer puts them at fd 3 on, before its own
// descriptors, whose numbers it passes in the environment. -1 if there is none of those.
func passedFiles(getenv func(string) string) int {
	first := -1
	for _, k := range []string{"_LIBCONTAINER_CONSOLE", "_LIBCONTAINER_INITPIPE", "_LIBCONTAINER_SYNCPIPE",
		"_LIBCONTAINER_LOGPIPE", "_LIBCONTAINER_FIFOFD", "_LIBCONTAINER_PIDFD_SOCK"} {
		v := getenv(k)
		if v == "" {
			continue
		}
		fd, err := strconv.Atoi(v)
		if err != nil || fd < 3 {
			return -1
		}
		if first < 0 || fd < first {
			first = fd
		}
	}
	if first < 0 {
		return -1
	}
	return first - 3
}
