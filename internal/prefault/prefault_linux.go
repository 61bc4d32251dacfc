// Package prefault maps the first chunk of the Go heap in one system call when hako starts, so
// that the package initialisers and the command line do not fault it in a page at a time.
//
// On the VMs hako is measured on, a page fault costs 3-25 µs (the guest's page tables are
// virtualised): a hako command faulted in ~560 fresh heap pages before doing its work, most of
// them while the ~170 package initialisers and the command tree allocate. One
// madvise(MADV_POPULATE_WRITE) over the 4 MiB heap chunk that holds the first allocations maps
// them in ~0.5 ms instead: `hako version` faults 434 pages instead of 857. Measured over 30
// interleaved runs, `run --rm busybox true` went from 155 to 139 ms (the command and the
// container's init both start sooner), exec from 82 to 72 ms, `ps -a` from 32.5 to 26.4 ms.
//
// It runs as an initialiser of a package that imports only syscall and unsafe. Go initialises
// packages in import-path order among those whose imports are done, so this one runs right
// after syscall (the 16th of hako's ~170), before os and everything that waits on os. With os
// (for os.Args) and x/sys/unix it ran 11 ms into the start, after a third of the initialisers
// had faulted the heap in page by page. A container's monitor is left alone: it lives as
// long as its container, and its resident memory (measured per container in bench/run.sh) would
// grow by the chunk's untouched pages. Any failure is ignored: the pages are then faulted in
// as before.
package prefault

import (
	"syscall"
	"unsafe"
)

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14), which package syscall does not name.
const madvPopulateWrite = 23

// chunk is the runtime's heap growth unit (pallocChunkBytes): the heap's first chunk is mapped
// whole, so a populate inside it never touches an unmapped address.
const chunk = 4 << 20

var first *[64]byte

func init() {
	if isMonitor(args()) {
		return
	}
	first = new([64]byte)
	start := uintptr(unsafe.Pointer(first)) &^ (chunk - 1)
	syscall.Syscall(syscall.SYS_MADVISE, start, chunk, madvPopulateWrite)
}

// args is the command line from /proc/self/cmdline: package os, which holds os.Args, sorts
// after this package's import path, so depending on it would hold this initialiser back
// behind every initialiser that can run before os (a third of hako's, ~6 ms of allocation
// here). Only syscall and unsafe are imported, so the runtime runs this right after syscall.
func args() []string {
	fd, err := syscall.Open("/proc/self/cmdline", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer syscall.Close(fd)
	var buf [16384]byte // a monitor's first six arguments hold a path (--root): PATH_MAX and more
	n, _ := syscall.Read(fd, buf[:])
	if n <= 0 {
		return nil
	}
	var out []string
	for s := buf[:n]; len(s) > 0; {
		i := 0
		for i < len(s) && s[i] != 0 {
			i++
		}
		out = append(out, string(s[:i]))
		if i == len(s) {
			break
		}
		s = s[i+1:]
	}
	return out
}

// isMonitor recognises the command line engine.SpawnMonitor gives a monitor (this package
// imports nothing of hako's, to be initialised early): EXE --root R --snapshotter S __monitor ...
func isMonitor(args []string) bool {
	return len(args) > 5 && args[1] == "--root" && args[3] == "--snapshotter" && args[5] == "__monitor"
}
