package cli

import (
	"fmt"
	"os"
	"sync"

	"github.com/hako-dev/hako/internal/engine"
	"golang.org/x/sys/unix"
)

// handOver is the end of a forked run's command part (runfork.c): the process stays as the
// container's monitor, and its parent, which the user waits for, must go with the run's code.
type handOver struct {
	parent  *os.File // the pipe the parent reads the code from
	monitor *engine.PendingMonitor
	once    sync.Once
}

// finish gives up what the command had and sends the parent the code (giveUp), unless the
// monitor has done so already, and returns once the monitor has ended.
func (h *handOver) finish(code int) {
	h.giveUp(code)
	h.monitor.HandOver()
	<-h.monitor.Done()
}

// giveUp, the first time only, gives up what the command had (its stdio, which a caller such
// as `$(hako run -d …)` reads to EOF, and its working directory) and sends the parent the code.
// With HAKO_DEBUG, stderr stays: the monitor's timing lines go there, as a spawned monitor's do.
//
// A foreground run's monitor calls it itself with the container's exit code, as soon as the run
// is over (engine.PendingMonitor.OnExit): the command has nothing left to say then (the
// container's output went out before its exit was known, and an exit code is no error to
// print), and going through the command's own return (the exit pipe, a goroutine, the
// command's unwinding) cost 1.4 ms between the monitor's answer and the parent's exit.
func (h *handOver) giveUp(code int) {
	h.once.Do(func() {
		if null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err == nil {
			last := 2
			if os.Getenv("HAKO_DEBUG") != "" {
				last = 1
			}
			for fd := 0; fd <= last; fd++ {
				unix.Dup3(int(null.Fd()), fd, 0)
			}
			null.Close()
		}
		os.Chdir("/")
		fmt.Fprintf(h.parent, "%d\n", code)
		h.parent.Close()
	})
}
