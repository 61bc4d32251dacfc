package stdiofile

import (
	"bytes"
	"io"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pipeFlipped is a pipe whose writing file was made while blocking (Go does not poll it) and
// whose descriptor is non-blocking since.
func pipeFlipped(t *testing.T) (r, w *os.File) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	r, w = os.NewFile(uintptr(p[0]), "r"), os.NewFile(uintptr(p[1]), "w")
	if err := unix.SetNonblock(p[1], true); err != nil {
		t.Fatal(err)
	}
	return r, w
}

// Through eagainWriter every byte arrives, read late; a plain Write ends with EAGAIN.
func TestEagainWriter(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, 16 pipes full
	r, w := pipeFlipped(t)
	if _, err := w.Write(data); err == nil {
		t.Fatal("a plain Write of 1 MiB into a non-blocking pipe nobody reads: no EAGAIN")
	}
	r.Close()
	w.Close()

	r, w = pipeFlipped(t)
	defer r.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := eagainWriter{w}.Write(data)
		w.Close()
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond) // the writer finds the pipe full
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("eagainWriter: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("%d bytes of %d arrived", len(got), len(data))
	}
}
