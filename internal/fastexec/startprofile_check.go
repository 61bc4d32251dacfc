//go:build linux && cgo

package fastexec

// #include <stdlib.h>
// const char *hako_start_check(char *buf, size_t n);
import "C"

// checkStartProfile is what S's parser (start.c's parse_start) says of data: "" when it takes
// it, else why not. For the tests that hold the Go writer and the C reader to one format.
func checkStartProfile(data []byte) string {
	buf := C.CBytes(data)
	defer C.free(buf)
	if why := C.hako_start_check((*C.char)(buf), C.size_t(len(data))); why != nil {
		return C.GoString(why)
	}
	return ""
}
