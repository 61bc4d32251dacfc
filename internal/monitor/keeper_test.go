//go:build linux && cgo

package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/logs"
)

// The keeper's tests run it for real, without root and without a container: this test binary
// carries the constructor, so it can be the keeper, as hako-monitor is. A test starts the binary
// as a launcher (the Go monitor's part): it becomes a child subreaper, starts `sh -c SCRIPT`
// with its stdout and stderr on two pipes, and execs itself as `__keep`. The keeper execs the
// binary back as `EXE --helper-exited STATUS`, which reports what it finds in a JSON file.
const (
	launchArg    = "--keeper-launch" // EXE --keeper-launch SCRIPT LOGPATH MAXSIZE MAXFILE
	exitedArg    = "--helper-exited" // the ARG of the keeper, and so the exec back's argv[1]
	resultEnv    = "HAKO_KEEPER_RESULT"
	ignoreHUPEnv = "HAKO_KEEPER_IGNORE_HUP"
)

func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == exitedArg {
		if err := reportExit(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) == 6 && os.Args[1] == launchArg {
		err := launch(os.Args[2], os.Args[3:])
		fmt.Fprintln(os.Stderr, "launcher:", err)
		os.Exit(1)
	}
	// A test run under nohup (or anything that starts it with SIGHUP ignored) hands that on
	// to the keepers it starts, which keep what they inherited, as they should.
	inheritedIgn, _ = procStatusHex(os.Getpid(), "SigIgn")
	os.Exit(m.Run())
}

// inheritedIgn is the signals this test process was started with ignored.
var inheritedIgn uint64

// launch does what the Go monitor does before it hands over, with descriptors 3 (the lock),
// 4 and 5 (read ends), 6 and 7 (write ends of the same pipes) from the test.
func launch(script string, args []string) error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return err
	}
	for fd := 3; fd <= 7; fd++ {
		unix.CloseOnExec(fd) // none of them for the container
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	stdout, stderr := os.NewFile(6, "stdout"), os.NewFile(7, "stderr")
	p, err := os.StartProcess("/bin/sh", []string{"sh", "-c", script},
		&os.ProcAttr{Files: []*os.File{devnull, stdout, stderr}})
	if err != nil {
		return err
	}
	stdout.Close()
	stderr.Close()
	for fd := 3; fd <= 5; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return err
		}
	}
	if os.Getenv(ignoreHUPEnv) != "" {
		signal.Ignore(syscall.SIGHUP) // SIG_IGN survives the exec: the keeper must give it back
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	argv := append([]string{exe, keepVerb, strconv.Itoa(p.Pid)}, args...)
	return unix.Exec(exe, append(argv, exitedArg), os.Environ())
}

// exitReport is what the Go monitor, exec'd back by the keeper, finds.
type exitReport struct {
	Status   int    // the keeper's STATUS argument
	Lock     bool   // 3 is open, and not close-on-exec
	LockDev  uint64 // and is this file
	LockIno  uint64
	Pipes    []int  // 4 and 5, if they are still pipes
	Children []int  // the children left to the process, zombies or not
	SigIgn   uint64 // from /proc/self/status
}

func reportExit(status string) error {
	var r exitReport
	var err error
	if r.Status, err = strconv.Atoi(status); err != nil {
		return err
	}
	// Before anything opens a descriptor that could take the number 4 or 5.
	var st unix.Stat_t
	if fl, err := unix.FcntlInt(3, unix.F_GETFD, 0); err == nil && fl&unix.FD_CLOEXEC == 0 && unix.Fstat(3, &st) == nil {
		r.Lock, r.LockDev, r.LockIno = true, st.Dev, st.Ino
	}
	for fd := 4; fd <= 5; fd++ {
		if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO {
			r.Pipes = append(r.Pipes, fd)
		}
	}
	pid := os.Getpid()
	children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return err
	}
	for _, f := range strings.Fields(string(children)) {
		n, _ := strconv.Atoi(f)
		r.Children = append(r.Children, n)
	}
	if r.SigIgn, err = procStatusHex(pid, "SigIgn"); err != nil {
		return err
	}
	b, _ := json.Marshal(r)
	return os.WriteFile(os.Getenv(resultEnv), b, 0o600)
}

// procStatusHex reads a hexadecimal field of /proc/PID/status, a signal set.
func procStatusHex(pid int, field string) (uint64, error) {
	v, err := procStatus(pid, field)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(v, 16, 64)
}

func procStatus(pid int, field string) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

func sigbit(s syscall.Signal) uint64 { return 1 << (s - 1) }

// ---- the record encoder ----------------------------------------------------------------------

func TestKeeperRecordMatchesGo(t *testing.T) {
	var lines [][]byte
	add := func(s ...string) {
		for _, l := range s {
			lines = append(lines, []byte(l))
		}
	}
	add("", "hello\n", "no newline", "\n", "\r\n", "a\x00b\x1f\x7f", `quote " backslash \ slash /`,
		"<script>alert('&amp;')</script>\n", "tab\tform\fbell\a",
		"ünïcödé", "日本語\n", "€", "𝄞 𐍈 🎉\n", "\U0010FFFF", "\uFFFD real replacement",
		"\u2028", "\u2029", "x\u2028y\u2029z", "\u2027\u202a",
		// Invalid UTF-8 of every class.
		"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xc2", "\xc2\x41", "\xdf\xc0",
		"\xe0\x80\x80", "\xe0\x9f\xbf", "\xe0\xa0", "\xe1\x80", "\xe1\x41\x80",
		"\xed\xa0\x80", "\xed\xbf\xbf", "\xed\x9f\xbf", "\xee\x80", "\xef\xbf",
		"\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", "\xf0\x90\x80", "\xf4\x90\x80\x80",
		"\xf4\x8f\xbf\xbf", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xfe", "\xff",
		"ok\xe2\x80", "\xe2\x80\xa8\xe2\x80", "\xf0\x9f\x8e", "\xf0\x9f\x8e\x89\xf0\x9f")
	for b := 0; b < 256; b++ {
		lines = append(lines, []byte{byte(b)}, []byte{'a', byte(b), 'z', '\n'})
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		n := rnd.IntN(64)
		if rnd.IntN(10) == 0 {
			n = rnd.IntN(20000)
		}
		l := make([]byte, n)
		for i := range l {
			switch rnd.IntN(4) {
			case 0:
				l[i] = byte(rnd.IntN(256))
			case 1:
				l[i] = byte(0x80 + rnd.IntN(0x80)) // high bytes: many almost-valid sequences
			default:
				l[i] = byte(0x20 + rnd.IntN(0x5f))
			}
		}
		if rnd.IntN(3) == 0 {
			l = append(l, []byte(string(rune(rnd.IntN(0x110000))))...) // valid or U+FFFD
		}
		lines = append(lines, l)
	}

	times := []time.Time{
		time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC),
		time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2024, 1, 2, 3, 4, 5, 100000000, time.UTC),
		time.Date(2024, 1, 2, 3, 4, 5, 120, time.UTC),
		time.Date(2024, 1, 2, 3, 4, 5, 1, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 12, 0, 0, 5, time.UTC),
		time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999000000, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1600, 2, 29, 1, 2, 3, 4, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(-44, 3, 15, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 6, 1, 1, 30, 0, 250000000, time.FixedZone("IST", 5*3600+1800)), // the day before, in UTC
		time.Date(2023, 12, 31, 20, 0, 0, 0, time.FixedZone("EST", -5*3600)),           // the next year
	}
	for range 2000 {
		times = append(times, time.Unix(rnd.Int64N(1<<37)-1<<36, rnd.Int64N(1e9)))
	}

	check := func(stream string, line []byte, tm time.Time) {
		t.Helper()
		want := logs.AppendRecord(nil, stream, line, tm)
		got := cRecord(stream, line, tm.Unix(), int32(tm.Nanosecond()))
		if !bytes.Equal(got, want) {
			t.Fatalf("record of %q at %v:\n  C: %s\n Go: %s", line, tm, got, want)
		}
	}
	for i, l := range lines {
		check([]string{"stdout", "stderr"}[i%2], l, times[i%len(times)])
	}
	for _, tm := range times {
		check("stdout", []byte("x\n"), tm)
	}
	check("", []byte("no stream\n"), times[0])
	check("", nil, times[0])
	check("std\"<err>\x01", []byte("odd stream name"), times[0])
}

// ---- the log writer --------------------------------------------------------------------------

// setNow gives logs.Writer the clock of the test, so that its records carry the times the C
// writer is given.
func setNow(t *testing.T, w *logs.Writer, now func() time.Time) {
	t.Helper()
	w.SetClock(now)
}

// randomChunk returns what one read of a container's pipe might return; full reads of short
// lines only when many makes them (many records, and with a small max size as many rotations).
func randomChunk(r *rand.Rand, full bool) []byte {
	text := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		return b
	}
	kinds := 7
	if full {
		kinds = 9
	}
	switch r.IntN(kinds) {
	case 0: // a few short lines, maybe a partial one
		var b []byte
		for range 1 + r.IntN(5) {
			b = append(append(b, text(r.IntN(60))...), '\n')
		}
		return append(b, text(r.IntN(3)*r.IntN(30))...)
	case 1: // the start or the middle of a line
		return text(1 + r.IntN(200))
	case 2: // a long run without a newline
		return text(10000 + r.IntN(30000))
	case 3: // around the longest record, with its newline, maybe more
		b := append(text(maxLineTest-2+r.IntN(5)), '\n')
		if r.IntN(2) == 0 {
			b = append(b, text(r.IntN(100))...)
		}
		return b
	case 4: // empty lines
		return bytes.Repeat([]byte{'\n'}, 1+r.IntN(5))
	case 5: // anything
		b := make([]byte, r.IntN(2000))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return b
	case 6: // text that needs escaping, runes maybe cut between two reads
		pieces := []string{"<a>&", "\"\\", "\t\x1b[1m", "\u2028", "\u2029", "ü", "日本", "🎉", "\xff", "\xed\xa0\x80", "\xf0\x9f", "\x8e\x89", "\n", "\r\n"}
		var b []byte
		for range 1 + r.IntN(40) {
			b = append(b, pieces[r.IntN(len(pieces))]...)
		}
		return b
	case 7: // a full read of short lines
		var b []byte
		for len(b) < 64*1024-100 {
			b = append(append(b, text(r.IntN(100))...), '\n')
		}
		return b[:64*1024]
	default: // a full read of newlines: more records than the keeper's buffer holds
		return bytes.Repeat([]byte{'\n'}, 64*1024)
	}
}

const maxLineTest = 16 * 1024

// logFiles returns the files of the log directory, by name.
func logFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range ents {
		if e.IsDir() {
			m[e.Name()] = "(directory)"
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

// TestKeeperWriterMatchesGo feeds the same reads, at the same times, to logs.Writer and to the
// keeper's writer, and compares the files they leave.
func TestKeeperWriterMatchesGo(t *testing.T) {
	type setup struct {
		name    string
		opts    logs.Options
		files   map[string]string // in the directory before
		dirs    []string
		writes  int
		newline bool // whole lines only
	}
	setups := []setup{
		{name: "no rotation", opts: logs.Options{MaxSize: 0, MaxFile: 1}, writes: 100},
		{name: "no rotation torn", opts: logs.Options{MaxSize: -1, MaxFile: 3}, writes: 50,
			files: map[string]string{"c-json.log": `{"log":"torn`, "c-json.log.3": "kept: no rotation"}},
		{name: "small 3 files", opts: logs.Options{MaxSize: 300, MaxFile: 3}, writes: 300},
		{name: "small 1 file", opts: logs.Options{MaxSize: 300, MaxFile: 1}, writes: 300},
		{name: "medium 2 files", opts: logs.Options{MaxSize: 20000, MaxFile: 2}, writes: 300},
		{name: "large 4 files", opts: logs.Options{MaxSize: 300000, MaxFile: 4}, writes: 150},
		{name: "leftovers", opts: logs.Options{MaxSize: 5000, MaxFile: 3}, writes: 100,
			files: map[string]string{
				"c-json.log":   `{"log":"whole\n","stream":"stdout","time":"2024-01-02T03:04:05Z"}` + "\n",
				"c-json.log.1": "one\n", "c-json.log.2": "two\n", "c-json.log.3": "three\n", "c-json.log.4": "four\n",
				"c-json.log.6": "a gap: kept\n",
			}},
		{name: "torn and full", opts: logs.Options{MaxSize: 100, MaxFile: 2}, writes: 50,
			files: map[string]string{"c-json.log": strings.Repeat("x", 150)}},
		// Rotation fails: path.1 is a directory that rename cannot replace. Only whole lines, so
		// that no partial line is left when a write fails (the Go writer then keeps more than
		// the keeper, which drops the stream anyway).
		{name: "rotation fails", opts: logs.Options{MaxSize: 500, MaxFile: 2}, writes: 100, newline: true,
			dirs: []string{"c-json.log.1/x"}},
	}
	for i, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(uint64(i), 7))
			goDir, cDir := t.TempDir(), t.TempDir()
			for _, dir := range []string{goDir, cDir} {
				for name, content := range s.files {
					os.WriteFile(filepath.Join(dir, name), []byte(content), 0o640)
				}
				for _, d := range s.dirs {
					os.MkdirAll(filepath.Join(dir, d), 0o755)
				}
			}
			gw, err := logs.NewWriter(filepath.Join(goDir, "c-json.log"), s.opts)
			if err != nil {
				t.Fatal(err)
			}
			var now time.Time
			setNow(t, gw, func() time.Time { return now })
			streams := []string{"stdout", "stderr"}
			gs := []interface{ Write([]byte) (int, error) }{gw.Stream(streams[0]), gw.Stream(streams[1])}
			cw, err := openCLog(filepath.Join(cDir, "c-json.log"), s.opts.MaxSize, s.opts.MaxFile)
			if err != nil {
				t.Fatal(err)
			}
			failures := 0
			for w := 0; w < s.writes; w++ {
				stream := rnd.IntN(2)
				chunk := randomChunk(rnd, s.opts.MaxSize <= 0 || s.opts.MaxSize >= 100000)
				if s.newline {
					chunk = append(bytes.ReplaceAll(chunk, []byte("\n"), nil), '\n')
				}
				now = time.Unix(1700000000+int64(w), rnd.Int64N(1e9))
				if rnd.IntN(5) == 0 {
					now = now.Truncate(time.Millisecond)
				}
				_, gerr := gs[stream].Write(chunk)
				cerr := cw.write(stream, chunk, now)
				if (gerr == nil) != (cerr == nil) {
					t.Fatalf("write %d: Go: %v, C: %v", w, gerr, cerr)
				}
				if cerr != nil {
					failures++
				}
			}
			if s.dirs != nil && failures == 0 {
				t.Error("rotation never failed")
			}
			now = now.Add(time.Second)
			gerr, cerr := gw.Close(), cw.close(now)
			if (gerr == nil) != (cerr == nil) {
				t.Fatalf("close: Go: %v, C: %v", gerr, cerr)
			}
			gf, cf := logFiles(t, goDir), logFiles(t, cDir)
			for name, g := range gf {
				c, ok := cf[name]
				if !ok {
					t.Errorf("%s: missing from the keeper's files", name)
				} else if c != g {
					t.Errorf("%s differs: %s", name, firstDiff(c, g))
				}
			}
			for name := range cf {
				if _, ok := gf[name]; !ok {
					t.Errorf("%s: made by the keeper, not by logs.Writer", name)
				}
			}
		})
	}
}

func firstDiff(c, g string) string {
	i := 0
	for i < len(c) && i < len(g) && c[i] == g[i] {
		i++
	}
	from := max(0, i-80)
	return fmt.Sprintf("lengths C %d Go %d, first difference at %d:\n  C: %q\n Go: %q",
		len(c), len(g), i, c[from:min(len(c), i+80)], g[from:min(len(g), i+80)])
}

// ---- the keeper, end to end ------------------------------------------------------------------

type keeperRun struct {
	script    string
	maxSize   int64
	maxFile   int
	log       string // default: a fresh c-json.log
	ignoreHUP bool
	// running, when set, is called with the keeper's PID once it has taken over.
	running func(t *testing.T, pid int)
}

type keeperResult struct {
	exitReport
	log    string
	stderr string
}

func (k keeperRun) run(t *testing.T) keeperResult {
	t.Helper()
	dir := t.TempDir()
	if k.log == "" {
		k.log = filepath.Join(dir, "c-json.log")
	}
	lockPath := filepath.Join(dir, "lock")
	lock, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, launchArg, k.script, k.log, strconv.FormatInt(k.maxSize, 10), strconv.Itoa(k.maxFile))
	cmd.ExtraFiles = []*os.File{lock, outR, errR, outW, errW}
	result := filepath.Join(dir, "result.json")
	cmd.Env = append(os.Environ(), resultEnv+"="+result)
	if k.ignoreHUP {
		cmd.Env = append(cmd.Env, ignoreHUPEnv+"=1")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*os.File{outR, outW, errR, errW, lock} {
		f.Close() // the lock is now held through the keeper's descriptor only
	}
	if k.running != nil {
		pid := cmd.Process.Pid
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if args := strings.Split(string(b), "\x00"); len(args) > 1 && args[1] == keepVerb {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the launcher did not become the keeper")
			}
			time.Sleep(5 * time.Millisecond)
		}
		k.running(t, pid)
		// The lock is still held by the keeper.
		if f, err := os.OpenFile(lockPath, os.O_RDWR, 0); err == nil {
			if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
				t.Errorf("the monitor lock is free while the keeper runs: %v", err)
			}
			f.Close()
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("keeper: %v\n%s", err, stderr.String())
	}
	r := keeperResult{log: k.log, stderr: stderr.String()}
	b, err := os.ReadFile(result)
	if err != nil {
		t.Fatalf("no report from the exec back: %v\n%s", err, r.stderr)
	}
	if err := json.Unmarshal(b, &r.exitReport); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	unix.Stat(lockPath, &st)
	if !r.Lock || r.LockDev != st.Dev || r.LockIno != st.Ino {
		t.Errorf("descriptor 3 is not the lock after the exec back: %+v", r.exitReport)
	}
	if len(r.Pipes) > 0 {
		t.Errorf("the pipes are still open after the exec back: %v", r.Pipes)
	}
	// SIGHUP and SIGINT only: the exec back is a Go program, whose runtime keeps an inherited
	// SIG_IGN for those two alone (it handles SIGPIPE whatever it inherited).
	if ign := r.SigIgn & (sigbit(syscall.SIGHUP) | sigbit(syscall.SIGINT)) &^ inheritedIgn; !k.ignoreHUP && ign != 0 {
		t.Errorf("signals ignored after the exec back: %#x", ign)
	}
	if inheritedIgn&sigbit(syscall.SIGHUP) != 0 && !k.ignoreHUP {
		t.Log("this test started with SIGHUP ignored (nohup?), which the keeper keeps: its SIGHUP is not checked")
	}
	return r
}

// writeFiles writes each piece to a file of its own, for scripts to cat.
func writeFiles(t *testing.T, pieces [][]byte) []string {
	t.Helper()
	dir := t.TempDir()
	var names []string
	for i, p := range pieces {
		name := filepath.Join(dir, strconv.Itoa(i))
		if err := os.WriteFile(name, p, 0o600); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

type piece struct {
	stderr bool
	data   string
}

// catScript writes the pieces in order, each with one write of cat (a pause now and then, so
// that the keeper reads them in several chunks), and exits with code.
func catScript(t *testing.T, pieces []piece, code int) string {
	var data [][]byte
	for _, p := range pieces {
		data = append(data, []byte(p.data))
	}
	var sb strings.Builder
	for i, name := range writeFiles(t, data) {
		fmt.Fprintf(&sb, "cat %s", name)
		if pieces[i].stderr {
			sb.WriteString(" >&2")
		}
		if i%10 == 9 {
			sb.WriteString("; sleep 0.01")
		}
		sb.WriteString("; ")
	}
	fmt.Fprintf(&sb, "exit %d", code)
	return sb.String()
}

// record is one line of a log, with the "log" member as it is in the file.
type record struct {
	Log    json.RawMessage `json:"log"`
	Stream string          `json:"stream"`
	Time   time.Time       `json:"time"`
}

func readRecords(t *testing.T, path string) []record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []record
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if line[len(line)-1] != '\n' {
			t.Fatalf("%s: torn last line %q", path, line)
		}
		var r record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// goRecords returns the records that logs.Writer makes of each stream's output, without times.
// They do not depend on how the output was cut into reads.
func goRecords(t *testing.T, pieces []piece) map[string][]string {
	path := filepath.Join(t.TempDir(), "go-json.log")
	w, err := logs.NewWriter(path, logs.Options{MaxFile: 1})
	if err != nil {
		t.Fatal(err)
	}
	out, errs := w.Stream("stdout"), w.Stream("stderr")
	for _, p := range pieces {
		s := out
		if p.stderr {
			s = errs
		}
		if _, err := s.Write([]byte(p.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return byStream(readRecords(t, path))
}

func byStream(recs []record) map[string][]string {
	m := map[string][]string{}
	for _, r := range recs {
		m[r.Stream] = append(m[r.Stream], string(r.Log))
	}
	return m
}

// logSet returns the records of path.N … path.1, path, oldest first, checking each file's size
// against maxSize, and the number of files.
func logSet(t *testing.T, path string, maxSize int64) ([]record, int) {
	t.Helper()
	names := []string{path}
	for i := 1; ; i++ {
		name := fmt.Sprintf("%s.%d", path, i)
		if _, err := os.Stat(name); err != nil {
			break
		}
		names = append([]string{name}, names...)
	}
	var all []record
	for _, name := range names {
		recs := readRecords(t, name)
		if fi, _ := os.Stat(name); maxSize > 0 && fi.Size() > maxSize && len(recs) > 1 {
			t.Errorf("%s: %d bytes, %d records, over the max size %d", name, fi.Size(), len(recs), maxSize)
		}
		all = append(all, recs...)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Time.Before(all[i-1].Time) {
			t.Errorf("record %d is older than the one before it: %v < %v", i, all[i].Time, all[i-1].Time)
		}
	}
	return all, len(names)
}

func mixedPieces() []piece {
	long := strings.Repeat("0123456789", 6000)
	return []piece{
		{false, "hello\n"},
		{true, "warning: "},
		{false, "a partial line"},
		{false, " goes on"},
		{true, "something\nand more\n"},
		{false, " and ends\n\n"},
		{false, long + "\n"},
		{true, long[:maxLineTest] + "\n"},
		{true, long[:maxLineTest+1] + "\n"},
		{false, long[:maxLineTest]},
		{false, long[:3*maxLineTest+5] + "\nshort\n"},
		{true, "\r\n"},
		{false, "the last line has no newline"},
		{true, "nor has this one"},
	}
}

func trickyPieces() []piece {
	var all []byte
	for b := 0; b < 256; b++ {
		all = append(all, byte(b))
	}
	return []piece{
		{false, string(all) + "\n"},
		{true, "<html>&amp;</html> \"quoted\" back\\slash\ttab\x1b[31mred\x1b[0m\n"},
		{false, "\u2028\u2029 ü 日本語 🎉 \U0010FFFF \uFFFD\n"},
		{true, "\x80\xbf\xc0\x80\xc1\xbf\xe0\x80\x80\xed\xa0\x80\xf0\x80\x80\x80\xf4\x90\x80\x80\xf5\xff\xfe\n"},
		{false, "cut rune: \xe2\x80"},
		{false, "\xa8 joined\n"},
		{true, "\xf0\x9f\x8e"},
	}
}

func checkStreams(t *testing.T, got []record, pieces []piece) {
	t.Helper()
	want := goRecords(t, pieces)
	g := byStream(got)
	for _, s := range []string{"stdout", "stderr"} {
		if !slices.Equal(g[s], want[s]) {
			t.Errorf("%s: %d records, logs.Writer makes %d", s, len(g[s]), len(want[s]))
			for i := range min(len(g[s]), len(want[s])) {
				if g[s][i] != want[s][i] {
					t.Errorf("first difference, record %d:\n keeper: %.200s\n     Go: %.200s", i, g[s][i], want[s][i])
					break
				}
			}
		}
	}
}

func TestKeeperOutput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pieces []piece
	}{
		{"mixed", mixedPieces()},
		{"tricky bytes", trickyPieces()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := keeperRun{script: catScript(t, tc.pieces, 0), maxFile: 1}.run(t)
			if r.Status != 0 {
				t.Errorf("status %#x, want 0", r.Status)
			}
			recs, files := logSet(t, r.log, 0)
			if files != 1 {
				t.Errorf("%d files without rotation", files)
			}
			checkStreams(t, recs, tc.pieces)
		})
	}
}

func TestKeeperRotation(t *testing.T) {
	var pieces []piece
	for i := range 200 {
		pieces = append(pieces, piece{i%3 == 0, fmt.Sprintf("line %d %s\n", i, strings.Repeat("x", i%50))})
	}
	pieces = append(pieces, piece{false, strings.Repeat("a record larger than the max size ", 20) + "\n"}, piece{true, "end\n"})
	for _, maxFile := range []int{3, 1} {
		t.Run(fmt.Sprintf("max-file %d", maxFile), func(t *testing.T) {
			const maxSize = 300
			dir := t.TempDir()
			log := filepath.Join(dir, "c-json.log")
			// Left over from a larger max-file: the keeper removes them as logs.NewWriter does.
			for i := maxFile; i < maxFile+3; i++ {
				os.WriteFile(fmt.Sprintf("%s.%d", log, i), []byte("old\n"), 0o640)
			}
			keeperRun{script: catScript(t, pieces, 0), log: log, maxSize: maxSize, maxFile: maxFile}.run(t)
			recs, files := logSet(t, log, maxSize)
			if files != maxFile {
				t.Errorf("%d files, want %d", files, maxFile)
			}
			names, _ := filepath.Glob(log + "*")
			if len(names) != maxFile {
				t.Errorf("files in the directory: %v", names)
			}
			// What is left is the end of each stream's records.
			want := goRecords(t, pieces)
			for s, got := range byStream(recs) {
				if len(got) == 0 || len(got) > len(want[s]) || !slices.Equal(got, want[s][len(want[s])-len(got):]) {
					t.Errorf("%s: the %d records left are not the last of the %d", s, len(got), len(want[s]))
				}
			}
			if last := recs[len(recs)-1]; last.Stream != "stderr" || string(last.Log) != `"end\n"` {
				t.Errorf("last record %s %s", last.Stream, last.Log)
			}
		})
	}
}

func TestKeeperStatus(t *testing.T) {
	r := keeperRun{script: "echo bye; exit 3", maxFile: 1}.run(t)
	if ws := syscall.WaitStatus(r.Status); !ws.Exited() || ws.ExitStatus() != 3 {
		t.Errorf("status %#x, want exit 3", r.Status)
	}
	r = keeperRun{script: "echo bye; kill -9 $$", maxFile: 1}.run(t)
	if ws := syscall.WaitStatus(r.Status); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("status %#x, want killed by SIGKILL", r.Status)
	}
	// The init exits at once, before the keeper exists: the start-up reap finds it.
	r = keeperRun{script: "exit 7", maxFile: 1}.run(t)
	if ws := syscall.WaitStatus(r.Status); ws.ExitStatus() != 7 {
		t.Errorf("status %#x, want exit 7", r.Status)
	}
}

// TestKeeperOrphans: the init leaves children behind. A exits on its own while the init runs,
// a zombie that comes to the subreaper with the init's exit; B outlives the init; C holds the
// pipe until the end. A and B must be reaped, none of them taken for the init.
func TestKeeperOrphans(t *testing.T) {
	script := `
(exec >/dev/null 2>&1; exit 9) & echo A=$!
(exec >/dev/null 2>&1; sleep 0.2; exit 8) & echo B=$!
(sleep 0.6; echo late from C; exit 7) &
sleep 0.1
exit 3`
	r := keeperRun{script: script, maxFile: 1}.run(t)
	if ws := syscall.WaitStatus(r.Status); !ws.Exited() || ws.ExitStatus() != 3 {
		t.Errorf("status %#x, want exit 3", r.Status)
	}
	recs := readRecords(t, r.log)
	var out strings.Builder
	for _, rec := range recs {
		var s string
		json.Unmarshal(rec.Log, &s)
		out.WriteString(s)
	}
	var a, b int
	for _, line := range strings.Split(out.String(), "\n") {
		fmt.Sscanf(line, "A=%d", &a)
		fmt.Sscanf(line, "B=%d", &b)
	}
	if a == 0 || b == 0 || !strings.Contains(out.String(), "late from C\n") {
		t.Fatalf("log: %q", out.String())
	}
	for _, pid := range []int{a, b} {
		if slices.Contains(r.Children, pid) {
			t.Errorf("orphan %d left unreaped: children %v", pid, r.Children)
		}
	}
}

func TestKeeperTornLog(t *testing.T) {
	log := filepath.Join(t.TempDir(), "c-json.log")
	const old = `{"log":"whole\n","stream":"stdout","time":"2024-01-02T03:04:05Z"}` + "\n" + `{"log":"cut sh`
	os.WriteFile(log, []byte(old), 0o640)
	keeperRun{script: "echo new", log: log, maxFile: 1}.run(t)
	b, _ := os.ReadFile(log)
	rest, ok := strings.CutPrefix(string(b), old+"\n")
	if !ok || !strings.HasPrefix(rest, `{"log":"new\n","stream":"stdout","time":"`) || strings.Count(rest, "\n") != 1 {
		t.Errorf("log after a torn one:\n%s", b)
	}
}

// TestKeeperLogFails: the log cannot be written; the keeper stops copying, closes the pipes
// (the container gets SIGPIPE), and still hands over the status.
func TestKeeperLogFails(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	r := keeperRun{script: "echo one; sleep 0.5; echo two; exit 0", log: "/dev/full", maxFile: 1}.run(t)
	if ws := syscall.WaitStatus(r.Status); !ws.Signaled() || ws.Signal() != syscall.SIGPIPE {
		t.Errorf("status %#x, want killed by SIGPIPE", r.Status)
	}
	if !strings.Contains(r.stderr, "hako keeper: write log /dev/full: No space left on device; no longer copying stdout") {
		t.Errorf("stderr: %q", r.stderr)
	}
}

// TestKeeperSignals: while it runs, the keeper catches SIGHUP, SIGINT and SIGPIPE and blocks
// SIGCHLD; a SIGHUP that the monitor ignored is ignored again after the exec back. It also
// reports the keeper's memory.
func TestKeeperSignals(t *testing.T) {
	r := keeperRun{script: "sleep 1; echo done", maxFile: 1, ignoreHUP: true, running: func(t *testing.T, pid int) {
		time.Sleep(100 * time.Millisecond) // past the keeper's start-up
		cgt, err1 := procStatusHex(pid, "SigCgt")
		blk, err2 := procStatusHex(pid, "SigBlk")
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if want := sigbit(syscall.SIGHUP) | sigbit(syscall.SIGINT) | sigbit(syscall.SIGPIPE); cgt != want {
			t.Errorf("keeper SigCgt %#x, want %#x", cgt, want)
		}
		if blk&sigbit(syscall.SIGCHLD) == 0 {
			t.Errorf("keeper SigBlk %#x, want SIGCHLD blocked", blk)
		}
		syscall.Kill(pid, syscall.SIGHUP) // caught: nothing happens
		syscall.Kill(pid, syscall.SIGINT)
		rss, _ := procStatus(pid, "VmRSS")
		hwm, _ := procStatus(pid, "VmHWM")
		t.Logf("keeper VmRSS %s (peak %s)", rss, hwm)
	}}.run(t)
	if r.SigIgn&sigbit(syscall.SIGHUP) == 0 {
		t.Errorf("SIGHUP is not ignored after the exec back: SigIgn %#x", r.SigIgn)
	}
	if !strings.Contains(readFileString(t, r.log), `"done\n"`) {
		t.Error("the output did not reach the log")
	}
}

func readFileString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestKeeperMemory measures the keeper that waits on a quiet container, after a burst of
// output, and reports it (the number depends on the binary and the libc; nothing is asserted).
func TestKeeperMemory(t *testing.T) {
	script := "head -c 1000000 /dev/urandom | od -v -An; sleep 2"
	keeperRun{script: script, maxSize: 100000, maxFile: 3, running: func(t *testing.T, pid int) {
		time.Sleep(time.Second)
		rss, _ := procStatus(pid, "VmRSS")
		hwm, _ := procStatus(pid, "VmHWM")
		t.Logf("keeper of %s: VmRSS %s (peak %s)", filepath.Base(os.Args[0]), rss, hwm)
	}}.run(t)
}

func TestKeeperBadArgs(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "missing arguments"},
		{[]string{"1", "log", "0", "1"}, "missing arguments"},
		{[]string{"x", "log", "0", "1", "arg"}, "invalid PID x"},
		{[]string{"0", "log", "0", "1", "arg"}, "invalid PID 0"},
		{[]string{"-3", "log", "0", "1", "arg"}, "invalid PID -3"},
		{[]string{"12 ", "log", "0", "1", "arg"}, "invalid PID 12 "},
		{[]string{"1", "log", "0", "1", "arg"}, "invalid PID 1: not a child"},
		{[]string{"1", "", "0", "1", "arg"}, "invalid LOGPATH"},
		{[]string{"1", "log", "10k", "1", "arg"}, "invalid MAXSIZE 10k"},
		{[]string{"1", "log", "", "1", "arg"}, "invalid MAXSIZE"},
		{[]string{"1", "log", "99999999999999999999", "1", "arg"}, "invalid MAXSIZE"},
		{[]string{"1", "log", "0", "0", "arg"}, "invalid MAXFILE 0"},
		{[]string{"1", "log", "0", "-1", "arg"}, "invalid MAXFILE -1"},
		{[]string{"1", "log", "0", "+2", "arg"}, "invalid MAXFILE +2"},
	} {
		// PID 1 is never the keeper's child: that check comes after all the others.
		cmd := exec.Command(exe, append([]string{keepVerb}, tc.args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 125 {
			t.Errorf("%q: %v, want exit 125", tc.args, err)
		}
		msg := stderr.String()
		if !strings.HasPrefix(msg, "hako keeper: ") || !strings.Contains(msg, tc.want) || strings.Count(msg, "\n") != 1 {
			t.Errorf("%q: stderr %q, want one line with %q", tc.args, msg, tc.want)
		}
	}
}
