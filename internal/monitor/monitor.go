// Package monitor is the per-container supervisor: the hako binary re-executed as
// `hako __monitor ID`, detached from the command that started it (its own session), one per
// running container. It mounts the container's root filesystem, starts the container through the
// runtime, writes the process's stdout and stderr to the container's log (and to the terminal of
// a foreground `run` that handed it over), reaps, records the exit status, and unmounts. It holds
// the container's monitor lock for its whole life, so that when it is killed the record is read
// as exited rather than running forever.
//
// The starting command and the monitor talk over two pipes: "ready" (fd 3) carries either "ok"
// once the container runs or the start error; "exit" (fd 4) carries the exit code when the
// container ends, for a foreground run that waits for it.
package monitor

import "os"

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
}

// HandoffFromFDs rebuilds the handoff in the monitor process from inherited descriptors 3..7
// (the order the engine passes them in ExtraFiles; absent ones are closed descriptors).
func HandoffFromFDs(attached bool, stdin bool) Handoff {
	h := Handoff{Ready: os.NewFile(3, "ready"), Exit: os.NewFile(4, "exit")}
	if attached {
		h.Stdout, h.Stderr = os.NewFile(5, "stdout"), os.NewFile(6, "stderr")
	}
	if stdin {
		h.Stdin = os.NewFile(7, "stdin")
	}
	return h
}
