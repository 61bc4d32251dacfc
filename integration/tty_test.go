package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPty returns a new pseudo-terminal's master and slave.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// ptyOutput collects what the master side reads, for waiting on a piece of output.
type ptyOutput struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

func readPty(m *os.File) *ptyOutput {
	o := &ptyOutput{done: make(chan struct{})}
	go func() {
		defer close(o.done)
		b := make([]byte, 4096)
		for {
			n, err := m.Read(b)
			o.mu.Lock()
			o.buf.Write(b[:n])
			o.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return o
}

func (o *ptyOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func (o *ptyOutput) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(o.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the terminal's output:\n%q", s, o.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startOnPty runs hako with the pty's slave as its controlling terminal and stdio.
func startOnPty(t *testing.T, s *store, slave *os.File, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(hakoBin, append([]string{"--root", s.root}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("hako %v still running", cmd.Args)
	}
	return -1
}

// TestRunTty: run -it gives the process a real terminal of the user's size, follows resizes,
// passes keystrokes in raw mode, returns the exit code, and restores the user's terminal.
func TestRunTty(t *testing.T) {
	s := runStore(t)
	master, slave := openPty(t)
	unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 30, Col: 100})
	before, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	cmd := startOnPty(t, s, slave, "run", "-it", "--name", "tty1", "busybox", "sh")
	out := readPty(master)
	io.WriteString(master, "tty; stty size; echo T$TERM\r")
	out.waitFor(t, "Txterm")
	if o := out.String(); !strings.Contains(o, "/dev/pts/0\r\n30 100\r\n") {
		t.Fatalf("tty and size:\n%q", o)
	}
	// While hako runs, the user's terminal is raw (no echo, no line editing).
	if raw, _ := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); raw.Lflag&(unix.ECHO|unix.ICANON) != 0 {
		t.Fatalf("the terminal is not raw: lflag %#x", raw.Lflag)
	}
	// A resize reaches the container's terminal.
	unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120})
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; !strings.Contains(out.String(), "size:40 120"); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("the resize did not arrive:\n%q", out.String())
		}
		io.WriteString(master, "echo size:$(stty size)\r")
		time.Sleep(200 * time.Millisecond)
	}
	// ^C reaches the container's shell as a keystroke (it interrupts sleep, not hako).
	io.WriteString(master, "sleep 30\r")
	time.Sleep(300 * time.Millisecond)
	master.Write([]byte{3})
	io.WriteString(master, "echo after-int\r")
	out.waitFor(t, "after-int\r\n")
	io.WriteString(master, "exit 3\r")
	if code := exitCode(t, cmd); code != 3 {
		t.Fatalf("exit code %d, want 3; output:\n%q", code, out.String())
	}
	after, _ := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if *after != *before {
		t.Fatalf("the terminal was not restored:\n%+v\nwas\n%+v", after, before)
	}
	// The log has what the terminal showed.
	if logs := s.ok("logs", "tty1"); !strings.Contains(logs, "/dev/pts/0") {
		t.Fatalf("logs: %q", logs)
	}

	// start -a -i attaches a -t container to the terminal again.
	master2, slave2 := openPty(t)
	unix.IoctlSetWinsize(int(master2.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 25, Col: 81})
	cmd = startOnPty(t, s, slave2, "start", "-a", "-i", "tty1")
	out = readPty(master2)
	io.WriteString(master2, "stty size; exit 4\r")
	if code := exitCode(t, cmd); code != 4 {
		t.Fatalf("start -a -i: exit %d; output:\n%q", code, out.String())
	}
	out.waitFor(t, "25 81")
	s.ok("rm", "tty1")
}

// TestRunInteractive: -i without -t passes stdin and its EOF; -it without a terminal is refused
// before anything is created.
func TestRunInteractive(t *testing.T) {
	s := runStore(t)
	if r := s.runIn([]byte("hi\n"), "run", "--rm", "-i", "busybox", "cat"); r.code != 0 || r.stdout != "hi\n" {
		t.Fatalf("run -i cat: %+v", r)
	}
	if r := s.runIn([]byte("a\nb\n"), "run", "--rm", "-i", "busybox", "sh", "-c", "wc -l; echo eof"); r.stdout != "2\neof\n" {
		t.Fatalf("stdin EOF: %+v", r)
	}
	// Without -i the process's stdin is empty.
	if r := s.runIn([]byte("ignored\n"), "run", "--rm", "busybox", "cat"); r.code != 0 || r.stdout != "" {
		t.Fatalf("run without -i: %+v", r)
	}
	// The host's descriptor is not the container's stdin: it is a pipe.
	if r := s.runIn([]byte(""), "run", "--rm", "-i", "busybox", "sh", "-c", "ls -l /proc/self/fd/0"); !strings.Contains(r.stdout, "pipe:") {
		t.Fatalf("stdin in the container: %+v", r)
	}
	if r := s.runIn([]byte("x"), "run", "--rm", "-it", "busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, "the input device is not a TTY") {
		t.Fatalf("-it without a terminal: %+v", r)
	}
	if got := s.ok("ps", "-aq"); got != "" {
		t.Fatalf("left: %q", got)
	}
	// start -a -i of a -i container.
	id := strings.TrimSpace(s.ok("create", "-i", "busybox", "sh", "-c", "read x; echo got:$x"))
	if r := s.runIn([]byte("hello\n"), "start", "-a", "-i", id); r.code != 0 || r.stdout != "got:hello\n" {
		t.Fatalf("start -a -i: %+v", r)
	}
}
