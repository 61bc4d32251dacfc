package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hako-dev/hako/internal/errdefs"
)

// writeLines writes "<stream> NNN\n" for i in [from, to), stdout for even i and stderr for odd,
// one Write (one clock second) per line.
func writeLines(t testing.TB, w *Writer, from, to int) {
	for i := from; i < to; i++ {
		s := "stdout"
		if i%2 == 1 {
			s = "stderr"
		}
		write(t, w, s, fmt.Sprintf("%s %03d\n", s, i))
	}
}

func read(t testing.TB, path string, o ReadOptions) []string {
	t.Helper()
	var got []string
	err := Read(t.Context(), path, o, nil, func(e Entry) error {
		got = append(got, strings.TrimSuffix(string(e.Line), "\n"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func lines(from, to int, streams ...string) []string {
	var l []string
	for i := from; i < to; i++ {
		s := "stdout"
		if i%2 == 1 {
			s = "stderr"
		}
		if len(streams) == 0 || streams[0] == s {
			l = append(l, fmt.Sprintf("%s %03d", s, i))
		}
	}
	return l
}

func TestReadFilters(t *testing.T) {
	// About 14 records per file, so most cases cross rotated files.
	w, path := newTestWriter(t, Options{MaxSize: 1000, MaxFile: 10})
	writeLines(t, w, 0, 100)
	w.Close()
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	both := ReadOptions{Tail: -1, Stdout: true, Stderr: true}
	with := func(f func(*ReadOptions)) ReadOptions { o := both; f(&o); return o }
	for _, tc := range []struct {
		name string
		o    ReadOptions
		want []string
	}{
		{"all", both, lines(0, 100)},
		{"tail 5", with(func(o *ReadOptions) { o.Tail = 5 }), lines(95, 100)},
		{"tail 40 across files", with(func(o *ReadOptions) { o.Tail = 40 }), lines(60, 100)},
		{"tail more than all", with(func(o *ReadOptions) { o.Tail = 1000 }), lines(0, 100)},
		{"tail 0", with(func(o *ReadOptions) { o.Tail = 0 }), nil},
		{"stdout", with(func(o *ReadOptions) { o.Stderr = false }), lines(0, 100, "stdout")},
		{"stderr", with(func(o *ReadOptions) { o.Stdout = false }), lines(0, 100, "stderr")},
		{"stderr tail 3", with(func(o *ReadOptions) { o.Stdout = false; o.Tail = 3 }), lines(94, 100, "stderr")},
		{"since", with(func(o *ReadOptions) { o.Since = at(90) }), lines(90, 100)},
		{"since between records", with(func(o *ReadOptions) { o.Since = at(89).Add(time.Millisecond) }), lines(90, 100)},
		{"until", with(func(o *ReadOptions) { o.Until = at(9) }), lines(0, 10)},
		{"since until", with(func(o *ReadOptions) { o.Since = at(20); o.Until = at(29) }), lines(20, 30)},
		{"since tail", with(func(o *ReadOptions) { o.Since = at(97); o.Tail = 10 }), lines(97, 100)},
		{"until tail", with(func(o *ReadOptions) { o.Until = at(49); o.Tail = 4 }), lines(46, 50)},
		{"since after all", with(func(o *ReadOptions) { o.Since = at(500); o.Tail = 10 }), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := read(t, path, tc.o); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}

	err := Read(t.Context(), path, ReadOptions{Tail: -1}, nil, func(Entry) error { return nil })
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("no stream: %v", err)
	}
	stop := errors.New("stop")
	n := 0
	err = Read(t.Context(), path, both, nil, func(Entry) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("fn error: %v after %d entries", err, n)
	}
	if got := read(t, path+"-missing", both); got != nil {
		t.Errorf("missing log: %q", got)
	}
}

func TestEntry(t *testing.T) {
	w, path := newTestWriter(t, DefaultOptions())
	write(t, w, "stderr", "a <b> \"c\"\n")
	var got []Entry
	Read(t.Context(), path, ReadOptions{Tail: -1, Stdout: true, Stderr: true}, nil, func(e Entry) error {
		got = append(got, e)
		return nil
	})
	if len(got) != 1 || got[0].Stream != "stderr" || string(got[0].Line) != "a <b> \"c\"\n" || !got[0].Time.Equal(t0) {
		t.Errorf("got %+v", got)
	}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r *bytes.Reader
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

func TestScanBackward(t *testing.T) {
	long := strings.Repeat("L", 200<<10) // spans several blocks
	for _, tc := range []struct {
		data string
		want []string
	}{
		{"", nil},
		{"torn", nil},
		{"a\n", []string{"a@0"}},
		{"a\nbb\ntorn", []string{"bb@2", "a@0"}},
		{"a\n\nc\n", []string{"c@3", "@2", "a@0"}},
		{"x\n" + long + "\ny\n", []string{fmt.Sprintf("y@%d", len(long)+3), fmt.Sprintf("%d L@2", len(long)), "x@0"}},
	} {
		var got []string
		err := scanBackward(strings.NewReader(tc.data), int64(len(tc.data)), func(line []byte, at int64) (bool, error) {
			s := string(line)
			if len(s) > 100 {
				s = fmt.Sprintf("%d %c", len(s), s[0])
			}
			got = append(got, fmt.Sprintf("%s@%d", s, at))
			return false, nil
		})
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("scanBackward(%.10q) = %q, %v; want %q", tc.data, got, err, tc.want)
		}
	}

	// A tail reads only the end of a large file.
	var buf []byte
	for i := range 200000 {
		buf = AppendRecord(buf, "stdout", fmt.Appendf(nil, "line %d\n", i), t0)
	}
	c := &countingReaderAt{r: bytes.NewReader(buf)}
	n := 0
	scanBackward(c, int64(len(buf)), func([]byte, int64) (bool, error) { n++; return n == 10, nil })
	if c.n > 64<<10 || len(buf) < 10<<20 {
		t.Errorf("read %d of %d bytes for a tail of 10", c.n, len(buf))
	}
}

func TestFollow(t *testing.T) {
	w, path := newTestWriter(t, Options{MaxSize: 1000, MaxFile: 3})
	writeLines(t, w, 0, 10)

	var exited atomic.Bool
	got := make(chan string, 1000)
	errc := make(chan error, 1)
	go func() {
		o := ReadOptions{Tail: 2, Follow: true, Stdout: true, Stderr: true}
		errc <- Read(t.Context(), path, o, exited.Load, func(e Entry) error {
			got <- strings.TrimSuffix(string(e.Line), "\n")
			return nil
		})
	}()
	expect := func(want []string) {
		t.Helper()
		for _, w := range want {
			select {
			case g := <-got:
				if g != w {
					t.Fatalf("got %q want %q", g, w)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("timed out waiting for %q", w)
			}
		}
	}
	expect(lines(8, 10))
	// Lines written after Read started, one at a time, then across a rotation.
	writeLines(t, w, 10, 12)
	expect(lines(10, 12))
	writeLines(t, w, 12, 40) // two rotations while the follower may be sleeping
	expect(lines(12, 40))
	write(t, w, "stdout", "no newline yet")
	w.Close()
	exited.Store(true)
	expect([]string{"no newline yet"})
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read did not return after done")
	}
	if len(got) != 0 {
		t.Errorf("extra entry %q", <-got)
	}
}

func TestFollowTailZeroAndCancel(t *testing.T) {
	w, path := newTestWriter(t, DefaultOptions())
	writeLines(t, w, 0, 5)
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan string, 10)
	errc := make(chan error, 1)
	go func() {
		errc <- Read(ctx, path, ReadOptions{Tail: 0, Follow: true, Stdout: true}, nil, func(e Entry) error {
			got <- string(e.Line)
			return nil
		})
	}()
	time.Sleep(50 * time.Millisecond) // let Read find the end of the file
	writeLines(t, w, 5, 8)
	for _, want := range lines(5, 8, "stdout") {
		if g := <-got; g != want+"\n" {
			t.Errorf("got %q want %q", g, want)
		}
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v", err)
	}
}

func TestFollowUntil(t *testing.T) {
	w, path := newTestWriter(t, DefaultOptions())
	w.now = time.Now
	write(t, w, "stdout", "before\n")
	var got []string
	o := ReadOptions{Tail: -1, Follow: true, Stdout: true, Until: time.Now().Add(100 * time.Millisecond)}
	err := Read(t.Context(), path, o, nil, func(e Entry) error { got = append(got, string(e.Line)); return nil })
	if err != nil || fmt.Sprint(got) != "[before\n]" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestFollowLogCreatedLater(t *testing.T) {
	path := t.TempDir() + "/late-json.log"
	got := make(chan string, 1)
	var exited atomic.Bool
	errc := make(chan error, 1)
	go func() {
		errc <- Read(t.Context(), path, ReadOptions{Tail: -1, Follow: true, Stdout: true}, exited.Load, func(e Entry) error {
			got <- string(e.Line)
			return nil
		})
	}()
	time.Sleep(30 * time.Millisecond)
	w, err := NewWriter(path, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	write(t, w, "stdout", "hi\n")
	if g := <-got; g != "hi\n" {
		t.Errorf("got %q", g)
	}
	w.Close()
	exited.Store(true)
	if err := <-errc; err != nil {
		t.Error(err)
	}
}

// TestReadDuringRotation reads the log over and over while a writer rotates it as fast as it
// can: every read must be a gapless, duplicate-free run of lines, and a follower must see every
// line.
func TestReadDuringRotation(t *testing.T) {
	const total = 4000
	w, path := newTestWriter(t, Options{MaxSize: 2000, MaxFile: 200})
	w.now = time.Now
	writeLines(t, w, 0, 1)

	var exited atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	var followed []string
	go func() {
		defer wg.Done()
		err := Read(t.Context(), path, ReadOptions{Tail: -1, Follow: true, Stdout: true, Stderr: true}, exited.Load, func(e Entry) error {
			followed = append(followed, strings.TrimSuffix(string(e.Line), "\n"))
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}()
	stop := make(chan struct{})
	wg.Add(1)
	reads := 0
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			got := read(t, path, ReadOptions{Tail: -1, Stdout: true, Stderr: true})
			reads++
			var first int
			fmt.Sscanf(got[0][7:], "%d", &first)
			if want := lines(first, first+len(got)); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("read %d: a torn set of %d lines from %d", reads, len(got), first)
				return
			}
		}
	}()
	for i := 1; i < total; i += 10 {
		writeLines(t, w, i, i+10)
	}
	w.Close()
	exited.Store(true)
	close(stop)
	wg.Wait()
	if want := lines(0, total+1); fmt.Sprint(followed) != fmt.Sprint(want) {
		t.Errorf("follower saw %d lines, want %d", len(followed), len(want))
	}
	t.Logf("%d consistent reads during rotation", reads)
}
