package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"
)

// maxLine is the longest line written as one record; Docker's log copier reads in 16 KiB
// buffers and emits a partial record when one fills up without a newline.
const maxLine = 16 * 1024

// Writer writes a container's output to a json-file log, rotating it by Options. One Writer per
// path at a time: rotation renames files, and two writers would rotate each other's files away.
type Writer struct {
	path string
	opts Options
	now  func() time.Time

	mu      sync.Mutex
	f       *os.File
	size    int64
	buf     []byte
	streams []*streamWriter
	torn    bool // the file ends in the middle of a record: start the next one on a new line
	closed  bool
}

// NewWriter opens or creates the log at path (…/<id>-json.log) for appending. Rotated files are
// path.1 (newest) to path.(MaxFile-1) (oldest), as Docker names them.
func NewWriter(path string, o Options) (*Writer, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	w := &Writer{path: path, opts: o, now: time.Now}
	if err := w.open(); err != nil {
		return nil, err
	}
	if w.size > 0 {
		// A Writer killed mid-record leaves a torn line; end it so that the next record is whole.
		var last [1]byte
		if _, err := w.f.ReadAt(last[:], w.size-1); err != nil {
			w.f.Close()
			return nil, fmt.Errorf("open log %s: %w", path, err)
		}
		w.torn = last[0] != '\n'
	}
	if o.MaxSize > 0 {
		// Files beyond MaxFile are left over from a larger max-file: the reader would show them.
		for i := o.MaxFile; ; i++ {
			if err := os.Remove(rotatedName(path, i)); err != nil {
				break
			}
		}
	}
	return w, nil
}

func rotatedName(path string, i int) string { return fmt.Sprintf("%s.%d", path, i) }

func (w *Writer) open() error {
	f, err := os.OpenFile(w.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open log: %w", err)
	}
	w.f, w.size = f, fi.Size()
	return nil
}

// SetClock replaces the clock that stamps the records (time.Now): for tests that compare
// another writer of the same format (the monitor's keeper, in C) with this one.
func (w *Writer) SetClock(now func() time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = now
}

// Stream returns the writer for one output stream, "stdout" or "stderr". Each stream buffers
// its own partial line; the writers of different streams may be used concurrently.
func (w *Writer) Stream(stream string) io.Writer {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.streams {
		if s.name == stream {
			return s
		}
	}
	s := &streamWriter{w: w, name: stream}
	w.streams = append(w.streams, s)
	return s
}

type streamWriter struct {
	w       *Writer
	name    string
	pending []byte // a line without its newline yet
}

// Write records every complete line in p, and keeps the rest until its newline arrives. All
// records of one Write carry the same time and go to the file in one write(2).
func (s *streamWriter) Write(p []byte) (int, error) {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, fmt.Errorf("write log %s: %w", w.path, os.ErrClosed)
	}
	t := w.now()
	w.buf = w.buf[:0]
	var err error
	for rest := p; len(rest) > 0 && err == nil; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			s.pending = append(s.pending, rest...)
			for len(s.pending) > maxLine && err == nil {
				err = w.add(s.name, s.pending[:maxLine], t)
				s.pending = s.pending[:copy(s.pending, s.pending[maxLine:])]
			}
			break
		}
		line := rest[:i+1]
		rest = rest[i+1:]
		if len(s.pending) > 0 {
			s.pending = append(s.pending, line...)
			line = s.pending
		}
		for len(line)-1 > maxLine && err == nil {
			err = w.add(s.name, line[:maxLine], t)
			line = line[maxLine:]
		}
		if err == nil {
			err = w.add(s.name, line, t)
		}
		s.pending = s.pending[:0]
	}
	if err == nil {
		err = w.flush()
	}
	if err != nil {
		w.buf = w.buf[:0]
		return 0, err
	}
	return len(p), nil
}

// add encodes one record into w.buf, first writing out what is buffered and rotating if the
// record would take the file past MaxSize. A record larger than MaxSize gets a file of its own.
func (w *Writer) add(stream string, line []byte, t time.Time) error {
	start := len(w.buf)
	w.buf = AppendRecord(w.buf, stream, line, t)
	if w.opts.MaxSize <= 0 || w.size+int64(len(w.buf)) <= w.opts.MaxSize || w.size+int64(start) == 0 {
		return nil
	}
	rec := w.buf[start:]
	w.buf = w.buf[:start]
	if err := w.flush(); err != nil {
		return err
	}
	if err := w.rotate(); err != nil {
		return err
	}
	w.buf = w.buf[:copy(w.buf[:cap(w.buf)], rec)]
	return nil
}

// flush writes w.buf to the file and empties it.
func (w *Writer) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if w.f == nil { // a failed rotation left no file open: try again
		if err := w.open(); err != nil {
			return fmt.Errorf("write log %s: %w", w.path, err)
		}
	}
	if w.torn {
		n, err := w.f.Write([]byte{'\n'})
		w.size += int64(n)
		if err != nil {
			return fmt.Errorf("write log %s: %w", w.path, err)
		}
		w.torn = false
	}
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	w.buf = w.buf[:0]
	if err != nil {
		w.torn = n > 0
		return fmt.Errorf("write log %s: %w", w.path, err)
	}
	return nil
}

// rotate shifts path.N to path.N+1, dropping the oldest, and starts an empty path. Files are
// only renamed, never truncated, so a reader that has a file open keeps a whole file.
func (w *Writer) rotate() error {
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("rotate log %s: %w", w.path, err)
	}
	if w.opts.MaxFile > 1 {
		for i := w.opts.MaxFile - 1; i > 1; i-- {
			err := os.Rename(rotatedName(w.path, i-1), rotatedName(w.path, i))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("rotate log: %w", err)
			}
		}
		if err := os.Rename(w.path, rotatedName(w.path, 1)); err != nil {
			return fmt.Errorf("rotate log: %w", err)
		}
	} else {
		// Keep no old file, but replace rather than truncate it, for readers that have it open.
		tmp := w.path + ".tmp"
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
		if err != nil {
			return fmt.Errorf("rotate log: %w", err)
		}
		f.Close()
		if err := os.Rename(tmp, w.path); err != nil {
			return fmt.Errorf("rotate log: %w", err)
		}
	}
	if err := w.open(); err != nil {
		return fmt.Errorf("rotate log %s: %w", w.path, err)
	}
	return nil
}

// Close writes out every stream's partial line as a record of its own (without a newline, as
// Docker does) and closes the file. Writes after Close fail with os.ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	t := w.now()
	var errs []error
	w.buf = w.buf[:0]
	for _, s := range w.streams {
		if len(s.pending) > 0 {
			errs = append(errs, w.add(s.name, s.pending, t))
			s.pending = nil
		}
	}
	errs = append(errs, w.flush())
	if w.f != nil {
		if err := w.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close log %s: %w", w.path, err))
		}
		w.f = nil
	}
	return errors.Join(errs...)
}
