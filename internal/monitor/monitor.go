// Package monitor is the per-container supervisor: `hako-monitor --root R --snapshotter S
// __monitor [OPTIONS] -- PLACEHOLDER` (hako itself as `hako __monitor ...` when hako-monitor is
// not next to it; engine.MonitorMain), detached from the command that started it (its own
// session), one per running container. It mounts the container's root filesystem, starts the
// container through the runtime, writes the process's stdout and stderr to the container's log
// (and to the terminal of a foreground `run` that handed it over), reaps, records the exit
// status, and unmounts. It holds the container's monitor lock for its whole life, so that when
// it is killed the record is read as exited rather than running forever.
//
// The starting command and the monitor talk over inherited descriptors, numbered in this order
// (an absent one takes no number):
//
//	3 ready    monitor → command: "ok" once the container runs, or the start error
//	4 exit     monitor → command: the exit code when the container ends, for a foreground run
//	5 stdout   the command's own stdout and stderr, when attached (--attach)
//	6 stderr
//	  stdin    the command's stdin, with -i (--stdin); never handed to the container itself: the
//	           monitor copies it into a pipe (or the pty), so no host descriptor reaches the
//	           container, and its EOF closes the process's stdin
//	  control  command → monitor, with -t (--control): text lines, see below
//	  id       command → monitor, always last: the container's full ID, then EOF. The command
//	           spawns the monitor before it creates the container, so that the monitor's
//	           start-up overlaps the creation; EOF with no ID (the creation failed, or the
//	           command died) makes the monitor exit untouched. Once it has the ID, the monitor
//	           writes it over the placeholder of its command line, where ps shows it.
//
// With -t the process gets a pseudo-terminal: the runtime makes it inside the container and
// hands its master to the monitor, which copies between it and the attached terminal (the
// command keeps its own terminal in raw mode meanwhile, and restores it). The first window size
// comes as --console-size WxH; later ones as lines on the control pipe:
//
//	resize COLS ROWS
//
// which the monitor applies to the pty (TIOCSWINSZ), so the process gets SIGWINCH. Unknown lines
// are ignored, so the protocol can grow. A pipe rather than a socket in the container directory:
// only the command that started the monitor can resize, and there is no path to guard.
//
// # The keeper
//
// A monitor lives as long as its container, so what it keeps resident is paid per running
// container. The Go monitor is a 10 MB binary with the Go runtime: about 12 MB resident, most of
// it the binary's pages that starting the container touched. So once a detached container runs
// (no attached command, no terminal, no healthcheck: package engine, keeper.go), the monitor
// execs itself as the keeper (keeper.c): the same process, so the container's init stays its
// child and the monitor lock (monitor.lock, held on an inherited descriptor) stays held, but a
// C constructor takes it before the Go runtime exists. The keeper copies the output into the
// json-file log exactly as package logs' Writer does, reaps, and once the init has exited and
// the output is drained, execs the Go monitor back (`__monitor --exited ... -- ID STATUS`) to
// record the exit and apply --rm or the restart policy.
package monitor

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Start messages on the ready pipe.
const (
	ReadyOK = "ok"
)

// Handoff is what the starting command passes: the ready and exit pipes, and its own stdio when
// attached (nil when detached).
type Handoff struct {
	Ready, Exit    *os.File
	Stdin          *os.File
	Stdout, Stderr *os.File
	// Control carries resize messages for a terminal (-t); nil otherwise.
	Control *os.File
	// IDPipe carries the container's ID.
	IDPipe *os.File
	// ConsoleWidth and ConsoleHeight are the terminal's first size; zero when unknown.
	ConsoleWidth, ConsoleHeight uint16
	// HandedOver, for a monitor in the run's own process (package cli, runfork.c), is closed
	// once the command's part is done: its output printed, its stdio and working directory
	// given up. The monitor does not exec itself into the keeper before: that would cut the
	// command short and hand the keeper the command's descriptors. nil for a spawned monitor.
	HandedOver <-chan struct{}
	// Exited, for a monitor in the run's own process, is called with the container's exit code
	// as soon as a run of it is over (removed, for --rm) and before Exit has it; never for a
	// start that failed, whose error the command prints. nil otherwise.
	Exited func(code int)
}

// HandoffFromFDs rebuilds the handoff in the monitor process from inherited descriptors 3 and
// up, in the order of the package documentation.
func HandoffFromFDs(attached, stdin, control bool) Handoff {
	h := Handoff{Ready: os.NewFile(3, "ready"), Exit: os.NewFile(4, "exit")}
	fd := uintptr(5)
	if attached {
		h.Stdout, h.Stderr = os.NewFile(5, "stdout"), os.NewFile(6, "stderr")
		fd = 7
	}
	if stdin {
		h.Stdin = os.NewFile(fd, "stdin")
		fd++
	}
	if control {
		h.Control = os.NewFile(fd, "control")
		fd++
	}
	h.IDPipe = os.NewFile(fd, "id")
	return h
}

// ReadID reads the container's ID from the id pipe: "" when the command closed it without one.
func ReadID(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 256))
	return strings.TrimSpace(string(b)), err
}

// ParseConsoleSize reads --console-size COLSxROWS.
func ParseConsoleSize(s string) (width, height uint16, err error) {
	ws, hs, ok := strings.Cut(s, "x")
	w, werr := strconv.ParseUint(ws, 10, 16)
	h, herr := strconv.ParseUint(hs, 10, 16)
	if !ok || werr != nil || herr != nil {
		return 0, 0, fmt.Errorf("invalid console size %q (want COLSxROWS)", s)
	}
	return uint16(w), uint16(h), nil
}

// FormatConsoleSize is the --console-size argument.
func FormatConsoleSize(width, height uint16) string { return fmt.Sprintf("%dx%d", width, height) }

// WriteResize sends one resize message on the control pipe.
func WriteResize(w io.Writer, width, height uint16) error {
	_, err := fmt.Fprintf(w, "resize %d %d\n", width, height)
	return err
}

// ReadControl reads control messages until the pipe ends, calling resize for each resize.
func ReadControl(r io.Reader, resize func(width, height uint16)) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "resize" {
			continue
		}
		w, werr := strconv.ParseUint(f[1], 10, 16)
		h, herr := strconv.ParseUint(f[2], 10, 16)
		if werr == nil && herr == nil && w > 0 && h > 0 {
			resize(uint16(w), uint16(h))
		}
	}
}
