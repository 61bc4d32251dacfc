package logs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)

// newTestWriter returns a Writer on a fresh log whose clock starts at t0 and ticks a second per
// Write.
func newTestWriter(t testing.TB, o Options) (*Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c0ffee-json.log")
	w, err := NewWriter(path, o)
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	w.now = func() time.Time { now = now.Add(time.Second); return now.Add(-time.Second) }
	t.Cleanup(func() { w.Close() })
	return w, path
}

func write(t testing.TB, w *Writer, stream, s string) {
	t.Helper()
	if n, err := w.Stream(stream).Write([]byte(s)); err != nil || n != len(s) {
		t.Fatalf("write %q: %d, %v", s, n, err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRecordGolden(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"hello\n", `{"log":"hello\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}` + "\n"},
		{"tab\tcr\r\"q\" \\ <b>&</b>\x00\x1b[0m\n", `{"log":"tab\u0009cr\r\"q\" \\ \u003cb\u003e\u0026\u003c/b\u003e\u0000\u001b[0m\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}` + "\n"},
		{"bad \xff utf8 \u2028 \u2029 ünï\n", `{"log":"bad \ufffd utf8 \u2028 \u2029 ünï\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}` + "\n"},
	} {
		got := string(AppendRecord(nil, "stdout", []byte(tc.line), t0))
		if got != tc.want {
			t.Errorf("record of %q:\n got %s\nwant %s", tc.line, got, tc.want)
		}
		rec, ok := decodeRecord([]byte(got))
		if !ok || !rec.Time.Equal(t0) || rec.Stream != "stdout" {
			t.Errorf("decode %s: %+v %v", got, rec, ok)
		}
		if !strings.Contains(tc.line, "\xff") && rec.Log != tc.line {
			t.Errorf("round trip of %q gave %q", tc.line, rec.Log)
		}
	}
	// Docker's time format drops trailing zeros of the fraction.
	got := string(AppendRecord(nil, "stderr", []byte("x\n"), time.Date(2024, 1, 2, 3, 4, 5, 100000000, time.FixedZone("", 3600))))
	if want := `{"log":"x\n","stream":"stderr","time":"2024-01-02T02:04:05.1Z"}` + "\n"; got != want {
		t.Errorf("got %s want %s", got, want)
	}
}

func TestWriterFormat(t *testing.T) {
	w, path := newTestWriter(t, DefaultOptions())
	write(t, w, "stdout", "hello\nworld\n")
	write(t, w, "stderr", "oops\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := `{"log":"hello\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}
{"log":"world\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}
{"log":"oops\n","stream":"stderr","time":"2024-01-02T03:04:06.123456789Z"}
`
	if got := readFile(t, path); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 like Docker", fi.Mode())
	}
	if _, err := w.Stream("stdout").Write([]byte("late\n")); err == nil {
		t.Error("write after Close succeeded")
	}
}

// records returns the log fields of every record in the log, oldest first.
func records(t testing.TB, path string) []string {
	t.Helper()
	var got []string
	err := Read(t.Context(), path, ReadOptions{Tail: -1, Stdout: true, Stderr: true}, nil, func(e Entry) error {
		got = append(got, e.Stream+":"+string(e.Line))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestPartialLines(t *testing.T) {
	w, path := newTestWriter(t, DefaultOptions())
	write(t, w, "stdout", "hel")
	write(t, w, "stderr", "err")
	write(t, w, "stdout", "lo\nwor")
	write(t, w, "stderr", "or\n")
	write(t, w, "stdout", "ld")
	if got := records(t, path); fmt.Sprint(got) != fmt.Sprint([]string{"stdout:hello\n", "stderr:error\n"}) {
		t.Errorf("before Close: %q", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The unterminated line is flushed at Close without a newline, as Docker does.
	want := []string{"stdout:hello\n", "stderr:error\n", "stdout:world"}
	if got := records(t, path); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q want %q", got, want)
	}
}

func TestSplitAt16K(t *testing.T) {
	w, path := newTestWriter(t, DefaultOptions())
	long := strings.Repeat("a", 40000)
	// In pieces, to check that the split does not depend on how the output arrives.
	write(t, w, "stdout", long[:100])
	write(t, w, "stdout", long[100:20000])
	write(t, w, "stdout", long[20000:]+"\nshort\n")
	exact := strings.Repeat("b", maxLine)
	write(t, w, "stdout", exact+"\n")
	write(t, w, "stderr", exact+"c") // a partial line over 16K is written before its newline
	got := records(t, path)
	want := []string{
		"stdout:" + long[:16384], "stdout:" + long[16384:32768], "stdout:" + long[32768:] + "\n",
		"stdout:short\n", "stdout:" + exact + "\n", "stderr:" + exact,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: got %d bytes %.20q…, want %d bytes %.20q…", i, len(got[i]), got[i], len(want[i]), want[i])
		}
	}
	w.Close()
	if got := records(t, path); got[len(got)-1] != "stderr:c" {
		t.Errorf("last record %q, want the rest of the partial line", got[len(got)-1])
	}
}

func TestRotation(t *testing.T) {
	const maxSize = 1000
	w, path := newTestWriter(t, Options{MaxSize: maxSize, MaxFile: 3})
	for i := range 200 {
		write(t, w, "stdout", fmt.Sprintf("line %03d\n", i))
	}
	w.Close()
	dir := filepath.Dir(path)
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		fi, _ := e.Info()
		if fi.Size() > maxSize {
			t.Errorf("%s is %d bytes, more than max-size %d", e.Name(), fi.Size(), maxSize)
		}
	}
	if want := "[c0ffee-json.log c0ffee-json.log.1 c0ffee-json.log.2]"; fmt.Sprint(names) != want {
		t.Errorf("files %v, want %s", names, want)
	}
	got := records(t, path)
	if len(got) < 20 {
		t.Fatalf("only %d records kept", len(got))
	}
	// The newest content is kept, in order, without gaps.
	for i, r := range got {
		if want := fmt.Sprintf("stdout:line %03d\n", 200-len(got)+i); r != want {
			t.Fatalf("record %d = %q, want %q", i, r, want)
		}
	}
	// The files are whole: every line of every file is a record.
	for _, name := range names {
		for _, line := range strings.SplitAfter(readFile(t, filepath.Join(dir, name)), "\n") {
			if line == "" {
				continue
			}
			if _, ok := decodeRecord([]byte(line)); !ok || !strings.HasSuffix(line, "}\n") {
				t.Errorf("%s: bad line %q", name, line)
			}
		}
	}

	// A smaller max-file drops the files beyond it at the next start.
	w, err := NewWriter(path, Options{MaxSize: maxSize, MaxFile: 2})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := os.Stat(path + ".2"); !os.IsNotExist(err) {
		t.Errorf("%s.2 kept: %v", path, err)
	}
}

func TestRotationMaxFileOne(t *testing.T) {
	w, path := newTestWriter(t, Options{MaxSize: 100, MaxFile: 1})
	for i := range 10 {
		write(t, w, "stdout", fmt.Sprintf("line %d\n", i))
	}
	w.Close()
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("%d files, want 1", len(entries))
	}
	if got := records(t, path); len(got) != 1 || got[0] != "stdout:line 9\n" {
		t.Errorf("got %q", got)
	}
}

func TestRecordLargerThanMaxSize(t *testing.T) {
	w, path := newTestWriter(t, Options{MaxSize: 50, MaxFile: 2})
	write(t, w, "stdout", "a\n")
	write(t, w, "stdout", strings.Repeat("x", 100)+"\n")
	write(t, w, "stdout", "b\n")
	w.Close()
	got := records(t, path)
	want := []string{"stdout:" + strings.Repeat("x", 100) + "\n", "stdout:b\n"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q want %q", got, want)
	}
}

func TestTornLine(t *testing.T) {
	w, path := newTestWriter(t, DefaultOptions())
	write(t, w, "stdout", "one\n")
	w.Close()
	// The writer was killed in the middle of a record.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"log":"tw`)
	f.Close()
	if got := records(t, path); fmt.Sprint(got) != fmt.Sprint([]string{"stdout:one\n"}) {
		t.Errorf("with torn last line: %q", got)
	}
	// The next writer starts on a line of its own, and the torn one is skipped.
	w, _ = NewWriter(path, DefaultOptions())
	write(t, w, "stdout", "two\n")
	w.Close()
	if got := records(t, path); fmt.Sprint(got) != fmt.Sprint([]string{"stdout:one\n", "stdout:two\n"}) {
		t.Errorf("after restart: %q", got)
	}
}

func TestConcurrentStreams(t *testing.T) {
	w, path := newTestWriter(t, Options{MaxSize: 1 << 20, MaxFile: 2})
	var wg sync.WaitGroup
	for _, s := range []string{"stdout", "stderr"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sw := w.Stream(s)
			for i := range 1000 {
				// Lines arrive in two halves, to exercise the per-stream partial buffers.
				line := fmt.Sprintf("%s %04d\n", s, i)
				sw.Write([]byte(line[:3]))
				sw.Write([]byte(line[3:]))
			}
		}()
	}
	wg.Wait()
	w.Close()
	next := map[string]int{}
	for _, r := range records(t, path) {
		s, line, _ := strings.Cut(r, ":")
		if want := fmt.Sprintf("%s %04d\n", s, next[s]); line != want {
			t.Fatalf("got %q want %q", line, want)
		}
		next[s]++
	}
	if next["stdout"] != 1000 || next["stderr"] != 1000 {
		t.Errorf("counts %v", next)
	}
}

func BenchmarkWrite(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench-json.log")
	w, err := NewWriter(path, Options{MaxSize: 20 << 20, MaxFile: 2})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	line := []byte(strings.Repeat("x", 79) + "\n")
	// Output arrives from a pipe in chunks of many lines.
	chunk := bytes.Repeat(line, 50)
	sw := w.Stream("stdout")
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := sw.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*50)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkWriteLineByLine(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench-json.log")
	w, err := NewWriter(path, Options{MaxSize: 20 << 20, MaxFile: 2})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	line := []byte(strings.Repeat("x", 79) + "\n")
	sw := w.Stream("stdout")
	for b.Loop() {
		if _, err := sw.Write(line); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
