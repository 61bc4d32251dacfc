package cli

import (
	"fmt"
	"os"

	"github.com/hako-dev/hako/internal/engine"
	"golang.org/x/sys/unix"
)

// handOver is the end of a forked run's command part (runfork.c): the process stays as the
// container's monitor, and its parent, which the user waits for, must go with the run's code.
type handOver struct {
	parent  *os.File // the pipe the parent reads the code from
	monitor *engine.PendingMonitor
}

// finish gives up what the command had (its stdio, which a caller such as `$(hako run -d …)`
// reads to EOF, and its working directory), sends the parent the code, and returns once the
// monitor has ended. With HAKO_DEBUG, stderr stays: the monitor's timing lines go there, as a
// spawned monitor's do.
func (h *handOver) finish(code int) {
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
	h.monitor.HandOver()
	<-h.monitor.Done()
}
