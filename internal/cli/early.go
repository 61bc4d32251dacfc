//go:build linux && cgo

package cli

// #cgo CFLAGS: -O2 -Wall -D_GNU_SOURCE
// #include <stdlib.h>
// #include "early.h"
import "C"

import (
	"os"
	"path/filepath"
	"unsafe"

	"github.com/hako-dev/hako/internal/engine"
	"golang.org/x/sys/unix"
)

// earlyMonitor returns the monitor early.c started for this `run`, if it was started for
// exactly this one: detached or attached (without stdin or a terminal) as asked, for e's root
// and the snapshotter asked for, from the executable engine.SpawnMonitor would run. Otherwise it
// lets that monitor go (it exits at EOF on its ID pipe, touching nothing) and returns nil. It
// can be called once.
func earlyMonitor(a *app, e *engine.Engine, at *engine.Attach, detach bool) *engine.PendingMonitor {
	h := &C.hako_early
	if h.ready < 0 {
		return nil
	}
	ready, exit, id := os.NewFile(uintptr(h.ready), "ready"), os.NewFile(uintptr(h.exit), "exit"), os.NewFile(uintptr(h.id), "id")
	h.ready, h.exit, h.id = -1, -1, -1
	// Reaped if it ends while we are still here (not adopted, say), as SpawnMonitor's are.
	go func(pid int) {
		for {
			if _, err := unix.Wait4(pid, nil, 0, nil); err != unix.EINTR {
				return
			}
		}
	}(int(h.pid))
	path, root, snap := C.GoString(&h.path[0]), C.GoString(&h.root[0]), C.GoString(&h.snapshotter[0])
	want, err := engine.MonitorExecutable()
	same := err == nil && path == want && filepath.Clean(root) == e.Root && snap == a.snapshotter &&
		(h.detached != 0) == detach
	if !detach {
		same = same && at != nil && at.Stdin == nil && at.Resize == nil &&
			at.Stdout != nil && at.Stdout.Fd() == 1 && at.Stderr != nil && at.Stderr.Fd() == 2
	}
	if !same {
		id.Close()
		ready.Close()
		exit.Close()
		return nil
	}
	engine.Phase("start: early monitor adopted")
	return engine.AdoptMonitor(path, at, ready, exit, id)
}

// earlyGuess is early.c's reading of run's arguments (after the verb): 1 detached, 0 attached
// without -i or -t, -1 not sure. For the test that keeps its flag lists in step with run's.
func earlyGuess(args []string) int {
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
		defer C.free(unsafe.Pointer(argv[i]))
	}
	if len(argv) == 0 {
		return int(C.hako_early_scan(0, nil))
	}
	return int(C.hako_early_scan(C.int(len(argv)), &argv[0]))
}
