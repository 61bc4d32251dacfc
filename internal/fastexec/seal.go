//go:build linux && cgo

package fastexec

// #include <stdlib.h>
// int hako_sealed_self(const char *dummy);
import "C"

import (
	"errors"
	"fmt"
	"os"
	"unsafe"
)

// SealedSelf opens this binary through a read-only, detached overlay of its directory (the
// C path's sealed copy, fastexec.c), as an O_PATH descriptor to execute: a process that
// reaches the executed file through /proc/PID/exe cannot write it (CVE-2019-5736). dummy is
// a directory of hako's own, the overlay's second lower layer, below the binary's: it must
// not hold a file of the binary's name (the overlay is never attached anywhere, and only the
// binary is opened in it). Where overlayfs refuses (dummy and the binary's directory overlap: a
// store under that directory), the copy is a sealed memfd, as libcontainer falls back to.
func SealedSelf(dummy string) (*os.File, error) {
	cs := C.CString(dummy)
	defer C.free(unsafe.Pointer(cs))
	fd, err := C.hako_sealed_self(cs)
	if fd < 0 {
		if err == nil {
			err = errors.New("neither overlayfs nor a sealed memfd")
		}
		return nil, fmt.Errorf("sealed copy of this binary: %w", err)
	}
	return os.NewFile(uintptr(fd), "hako (sealed)"), nil
}
