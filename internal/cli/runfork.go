//go:build linux && cgo

package cli

// #cgo CFLAGS: -O2 -Wall -D_GNU_SOURCE
// #include <stdlib.h>
// #include "runfork.h"
import "C"

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ForkedChild tells whether this process is the child of runfork.c's fork, in hako or in the
// lean hako-monitor that the child executed (cmd/hako-monitor).
func ForkedChild() bool { return C.hako_runfork.exit >= 0 }

// forkParent is the pipe to the parent that waits for this run's code, when this process is
// the child of runfork.c's fork (nil otherwise). It can be called once.
func forkParent() *os.File {
	h := &C.hako_runfork
	if h.exit < 0 {
		return nil
	}
	f := os.NewFile(uintptr(h.exit), "run parent")
	h.exit = -1
	return f
}

// closeInherited closes the descriptors above stdio that this forked child inherited from
// whoever ran hako (runfork.c lists them before Go starts, so none of Go's is among them): the
// process is about to become a container's monitor, which must hold none of them. A pipe held
// open by a detached container's monitor would keep the job that ran hako waiting for ever.
func closeInherited() {
	h := &C.hako_runfork
	for _, fd := range unsafe.Slice(h.inherited, h.ninherited) {
		unix.Close(int(fd))
	}
	C.free(unsafe.Pointer(h.inherited))
	h.inherited, h.ninherited = nil, 0
}

// forkGuess is runfork.c's reading of run's arguments (after the verb): 1 detached, 0
// attached without -i or -t, -1 not sure. For the test that keeps its flag lists in step with
// run's.
func forkGuess(args []string) int {
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
		defer C.free(unsafe.Pointer(argv[i]))
	}
	if len(argv) == 0 {
		return int(C.hako_runfork_scan(0, nil))
	}
	return int(C.hako_runfork_scan(C.int(len(argv)), &argv[0]))
}
