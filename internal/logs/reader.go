package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/hako-dev/hako/internal/errdefs"
)

// Entry is one record of a log. Line is the output as written, ending in a newline unless it
// was split at 16 KiB or was the unterminated last line of the stream.
type Entry struct {
	Stream string
	Line   []byte
	Time   time.Time
}

// ReadOptions select what Read returns, like `docker logs` flags.
type ReadOptions struct {
	// Tail is the number of entries to return from the end, counting only entries that pass
	// the other filters; -1 returns all, 0 none (with Follow: only new ones).
	Tail int
	// Since and Until, when not zero, keep entries with Since <= Time <= Until. Reading stops
	// at the first entry after Until, and a follow stops once the clock passes Until.
	Since, Until time.Time
	// Follow keeps reading entries as they are written.
	Follow bool
	// Stdout and Stderr select the streams; at least one must be set.
	Stdout, Stderr bool
}

// Follow polls the file between these intervals, backing off while it is idle.
const (
	minPoll = 10 * time.Millisecond
	maxPoll = 200 * time.Millisecond
)

var errUntil = errors.New("past until")

// Read calls fn for each entry of the log at path, oldest first, across rotated files. Torn or
// unparsable lines are skipped. With o.Follow it then waits for new entries, following the log
// across rotations, until ctx is done (it returns ctx.Err()), o.Until passes, or done reports
// true, which means the writer is finished: Read then returns nil once it has read everything.
// An error from fn stops Read and is returned as is.
func Read(ctx context.Context, path string, o ReadOptions, done func() bool, fn func(Entry) error) error {
	if !o.Stdout && !o.Stderr {
		return errdefs.Invalidf("read logs: you must choose at least one stream")
	}
	if o.Tail == 0 && !o.Follow {
		return nil
	}
	files, err := openSet(path)
	if err != nil {
		return err
	}
	defer func() { closeFiles(files) }()

	r := &reader{o: o, fn: fn}
	idx, off := 0, int64(0)
	switch {
	case o.Tail > 0:
		idx, off, err = r.tailStart(files)
		if err != nil {
			return err
		}
	case o.Tail == 0 && len(files) > 0:
		idx, off = len(files)-1, files[len(files)-1].info.Size()
	}
	var cur *logFile
	var lr *lineReader
	for i := idx; i < len(files); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		f := files[i]
		if i == idx && off > 0 {
			if _, err := f.Seek(off, io.SeekStart); err != nil {
				return fmt.Errorf("read log %s: %w", f.Name(), err)
			}
		}
		cur, lr = f, newLineReader(f)
		if _, err := r.drain(lr); err != nil {
			return stopped(err)
		}
	}
	if !o.Follow {
		return nil
	}
	// follow owns the files it opens; keep only cur for the deferred close.
	if cur != nil {
		closeFiles(files[:len(files)-1])
		files = files[len(files)-1:]
	}
	return stopped(r.follow(ctx, path, cur, lr, done, &files))
}

func stopped(err error) error {
	if errors.Is(err, errUntil) {
		return nil
	}
	return err
}

type reader struct {
	o  ReadOptions
	fn func(Entry) error
}

// keep reports whether a record passes the filters, and errUntil once records are past Until.
func (r *reader) keep(rec record) (bool, error) {
	if !r.o.Until.IsZero() && rec.Time.After(r.o.Until) {
		return false, errUntil
	}
	if !r.o.Since.IsZero() && rec.Time.Before(r.o.Since) {
		return false, nil
	}
	switch rec.Stream {
	case "stdout":
		return r.o.Stdout, nil
	case "stderr":
		return r.o.Stderr, nil
	}
	return r.o.Stdout && r.o.Stderr, nil
}

// drain passes every complete line up to the end of the file to fn and returns how many lines
// it read. A line without its newline stays in lr: it may still be being written.
func (r *reader) drain(lr *lineReader) (int, error) {
	n := 0
	for {
		line, err := lr.next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("read log: %w", err)
		}
		n++
		rec, ok := decodeRecord(line)
		if !ok {
			continue
		}
		keep, err := r.keep(rec)
		if err != nil {
			return n, err
		}
		if keep {
			if err := r.fn(Entry{Stream: rec.Stream, Line: []byte(rec.Log), Time: rec.Time}); err != nil {
				return n, err
			}
		}
	}
}

// tailStart finds where the last o.Tail matching entries start by reading the files backwards
// from the end, so that a tail of a large log reads only what it returns.
func (r *reader) tailStart(files []*logFile) (idx int, off int64, err error) {
	count := 0
	for i := len(files) - 1; i >= 0; i-- {
		var found bool
		err := scanBackward(files[i], files[i].info.Size(), func(line []byte, at int64) (bool, error) {
			rec, ok := decodeRecord(line)
			if !ok {
				return false, nil
			}
			if !r.o.Since.IsZero() && rec.Time.Before(r.o.Since) {
				// Everything before this record is older still: start after it.
				idx, off, found = i, at+int64(len(line))+1, true
				return true, nil
			}
			keep, err := r.keep(rec)
			if err == errUntil || !keep {
				return false, nil
			}
			if count++; count == r.o.Tail {
				idx, off, found = i, at, true
				return true, nil
			}
			return false, nil
		})
		if err != nil {
			return 0, 0, fmt.Errorf("read log %s: %w", files[i].Name(), err)
		}
		if found {
			return idx, off, nil
		}
	}
	return 0, 0, nil
}

// scanBackward calls fn for each complete line of f[0:size), last line first, without its
// newline and with the offset where it starts, until fn returns true. Bytes after the last
// newline are a record still being written or a torn one, and are skipped.
func scanBackward(f io.ReaderAt, size int64, fn func(line []byte, at int64) (bool, error)) error {
	const block = 64 << 10
	buf := make([]byte, block)
	var tail []byte // the end of the line being assembled, read in earlier blocks
	seenNewline := false
	for pos := size; pos > 0; {
		n := int64(block)
		if pos < n {
			n = pos
		}
		pos -= n
		chunk := buf[:n]
		if _, err := f.ReadAt(chunk, pos); err != nil {
			return err
		}
		for {
			i := bytes.LastIndexByte(chunk, '\n')
			if i < 0 {
				tail = append(append(make([]byte, 0, len(chunk)+len(tail)), chunk...), tail...)
				break
			}
			if seenNewline {
				line := chunk[i+1:]
				if len(tail) > 0 {
					line = append(append(make([]byte, 0, len(line)+len(tail)), line...), tail...)
				}
				if stop, err := fn(line, pos+int64(i)+1); stop || err != nil {
					return err
				}
			}
			seenNewline = true
			tail = tail[:0]
			chunk = chunk[:i]
		}
	}
	if seenNewline && len(tail) > 0 {
		_, err := fn(tail, 0)
		return err
	}
	return nil
}

// lineReader reads lines of any length and keeps a partial last line across io.EOF, so that a
// follower can read on when the rest of the line arrives.
type lineReader struct {
	r       *bufio.Reader
	partial []byte
}

func newLineReader(f io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(f, 64<<10)}
}

// next returns the next complete line, valid until the next call.
func (l *lineReader) next() ([]byte, error) {
	for {
		b, err := l.r.ReadSlice('\n')
		switch {
		case err == nil && len(l.partial) == 0:
			return b, nil
		case err == nil:
			l.partial = append(l.partial, b...)
			line := l.partial
			l.partial = l.partial[len(l.partial):]
			return line, nil
		case err == bufio.ErrBufferFull:
			l.partial = append(l.partial, b...)
		default:
			l.partial = append(l.partial, b...)
			return nil, err
		}
	}
}

// follow reads cur as it grows and moves on to newer files when the writer rotates.
// *files holds what it has open, for the caller to close.
func (r *reader) follow(ctx context.Context, path string, cur *logFile, lr *lineReader, done func() bool, files *[]*logFile) error {
	delay := minPoll
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		finished := done != nil && done()
		n := 0
		if cur != nil {
			var err error
			if n, err = r.drain(lr); err != nil {
				return err
			}
		}
		rotated, err := changed(path, cur)
		if err != nil {
			return err
		}
		if rotated {
			// The writer closes a file before it renames it: what is in cur now is all of it.
			if cur != nil {
				if _, err := r.drain(lr); err != nil {
					return err
				}
			}
			set, err := openSet(path)
			if err != nil {
				return err
			}
			newer := set
			if cur != nil {
				for i, f := range set {
					if os.SameFile(f.info, cur.info) {
						closeFiles(set[:i+1])
						newer = set[i+1:]
						set = newer
						break
					}
				}
			}
			if len(newer) > 0 {
				closeFiles(*files)
				*files = newer
				for i, f := range newer {
					cur, lr = f, newLineReader(f)
					if i == len(newer)-1 {
						break
					}
					if _, err := r.drain(lr); err != nil {
						return err
					}
				}
				delay = minPoll
				continue
			}
			// The current file is between its rename and its successor's creation, or gone.
			closeFiles(set)
			if finished {
				return nil
			}
		} else if finished {
			return nil
		}
		if n > 0 {
			delay = minPoll
			continue
		}
		if !r.o.Until.IsZero() && time.Now().After(r.o.Until) {
			return nil
		}
		timer.Reset(delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		delay = min(delay*2, maxPoll)
	}
}

// changed reports whether path is no longer the file cur (rotated, or gone mid-rotation).
func changed(path string, cur *logFile) (bool, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return cur != nil, nil
	case err != nil:
		return false, fmt.Errorf("follow log: %w", err)
	case cur == nil:
		return true, nil
	}
	return !os.SameFile(fi, cur.info), nil
}
