package engine

import (
	"runtime"
	"runtime/debug"
	"time"
)

// settleAfter is how long a container runs before its monitor is trimmed.
const settleAfter = 250 * time.Millisecond

// settleMonitor trims a monitor once its container runs. From then on, for as long as the
// container lives, the monitor only waits for it, copies its output into the log and records the
// exit: one process per running container, so what it keeps resident is paid per container.
// One P (fewer idle Ps and their caches), a low GC target (the steady state allocates only log
// lines), and the heap that starting took (image config, spec, libcontainer's state) goes back to
// the kernel. See bench/README.md for what stays resident and why.
func settleMonitor() {
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(20)
	debug.FreeOSMemory()
}
