//go:build linux && cgo

package monitor

// keeper.c holds the keeper: a constructor that takes `EXE __keep PID LOGPATH MAXSIZE MAXFILE
// ARG...` before the Go runtime exists, copies a detached container's output into its log,
// reaps, and execs `EXE ARG... STATUS` when the container has exited. Linking this package into
// a binary is all it takes; in any other process the constructor looks at argv and returns.
//
// The wrappers below reach the keeper's log writer from Go, for the tests that compare it with
// package logs, which is its reference.

// #cgo CFLAGS: -O2 -Wall -Wno-unused-result -D_GNU_SOURCE
// #include <stdint.h>
// #include <stdlib.h>
// struct hako_keeper_log;
// size_t hako_keeper_record_max(size_t stream_len, size_t n);
// size_t hako_keeper_record(char *dst, const char *stream, size_t stream_len, const unsigned char *line,
//                           size_t n, int64_t sec, long nsec);
// struct hako_keeper_log *hako_keeper_log_open(const char *path, int64_t max_size, int max_file);
// int hako_keeper_log_write(struct hako_keeper_log *w, int stream, const unsigned char *p, size_t n,
//                           int64_t sec, long nsec);
// int hako_keeper_log_close(struct hako_keeper_log *w, int64_t sec, long nsec);
// int hako_keeper_log_error(struct hako_keeper_log *w, char *msg, size_t size);
// void hako_keeper_log_free(struct hako_keeper_log *w);
import "C"

import (
	"errors"
	"time"
	"unsafe"
)

// keepVerb is argv[1] of the keeper.
const keepVerb = "__keep"

// cRecord is the keeper's encoding of one record, logs.AppendRecord's bytes for the time
// sec.nsec (nsec in [0, 1e9)).
func cRecord(stream string, line []byte, sec int64, nsec int32) []byte {
	dst := make([]byte, C.hako_keeper_record_max(C.size_t(len(stream)), C.size_t(len(line))))
	n := C.hako_keeper_record((*C.char)(unsafe.Pointer(&dst[0])),
		(*C.char)(unsafe.Pointer(unsafe.StringData(stream))), C.size_t(len(stream)),
		(*C.uchar)(unsafe.SliceData(line)), C.size_t(len(line)), C.int64_t(sec), C.long(nsec))
	return dst[:n]
}

// cLog is the keeper's log writer, driven from Go: the counterpart of logs.Writer, with the
// time of each write given.
type cLog struct {
	w    *C.struct_hako_keeper_log
	path *C.char
}

// Streams of cLog.write.
const (
	cStdout = 0
	cStderr = 1
)

func openCLog(path string, maxSize int64, maxFile int) (*cLog, error) {
	l := &cLog{path: C.CString(path)}
	l.w = C.hako_keeper_log_open(l.path, C.int64_t(maxSize), C.int(maxFile))
	if l.w == nil {
		C.free(unsafe.Pointer(l.path))
		return nil, errors.New("open log: out of memory")
	}
	if err := l.err(); err != nil {
		l.free()
		return nil, err
	}
	return l, nil
}

func (l *cLog) write(stream int, p []byte, t time.Time) error {
	if C.hako_keeper_log_write(l.w, C.int(stream), (*C.uchar)(unsafe.SliceData(p)), C.size_t(len(p)),
		C.int64_t(t.Unix()), C.long(t.Nanosecond())) < 0 {
		return l.err()
	}
	return nil
}

// close writes the partial lines, closes the file and frees the writer.
func (l *cLog) close(t time.Time) error {
	var err error
	if C.hako_keeper_log_close(l.w, C.int64_t(t.Unix()), C.long(t.Nanosecond())) < 0 {
		err = l.err()
	}
	l.free()
	return err
}

func (l *cLog) err() error {
	var msg [512]C.char
	if C.hako_keeper_log_error(l.w, &msg[0], C.size_t(len(msg))) == 0 {
		return nil
	}
	return errors.New(C.GoString(&msg[0]))
}

func (l *cLog) free() {
	C.hako_keeper_log_free(l.w)
	C.free(unsafe.Pointer(l.path))
}
