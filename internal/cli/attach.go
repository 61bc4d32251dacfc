package cli

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/errdefs"
)

// checkAttachable refuses, before anything is created, a foreground run that cannot attach.
func checkAttachable(a *app, interactive, tty bool) error {
	if fileOf(a.stdout) == nil || fileOf(a.stderr) == nil {
		return errdefs.Invalidf("run in the foreground needs file descriptors for stdout and stderr")
	}
	stdin := fileOf(a.stdin)
	if interactive && stdin == nil {
		return errdefs.Invalidf("-i needs a file descriptor for stdin")
	}
	if interactive && tty && !isTerminal(stdin) {
		return errdefs.Invalidf("the input device is not a TTY")
	}
	return nil
}

// attachStdio builds a foreground run's attachment: stdout and stderr, stdin with -i, and for a
// -t container the terminal's size and a resize feed on SIGWINCH. raw puts the terminal in raw
// mode for an -it container (call it just before the container starts: until then ^C must
// still interrupt hako); done undoes all of it (restores the terminal) once the container has
// ended, or on failure.
func attachStdio(a *app, interactive, tty bool) (at *engine.Attach, raw func() error, done func(), err error) {
	noRaw := func() error { return nil }
	if err := checkAttachable(a, interactive, tty); err != nil {
		return nil, nil, nil, err
	}
	at = &engine.Attach{Stdout: fileOf(a.stdout), Stderr: fileOf(a.stderr)}
	stdin := fileOf(a.stdin)
	if interactive {
		at.Stdin = stdin
	}
	done = func() {}
	if !tty {
		return at, noRaw, done, nil
	}
	// The size comes from whichever end is a terminal.
	sizeFd := -1
	for _, f := range []*os.File{at.Stdout, stdin} {
		if f != nil && isTerminal(f) {
			sizeFd = int(f.Fd())
			break
		}
	}
	if sizeFd < 0 {
		return at, noRaw, done, nil // -t with no terminal at all: the pty keeps the kernel's size
	}
	if w, h, err := term.GetSize(sizeFd); err == nil && w > 0 && h > 0 {
		at.ConsoleWidth, at.ConsoleHeight = uint16(w), uint16(h)
	}
	resize := make(chan [2]uint16, 4)
	at.Resize = resize
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	stop := make(chan struct{})
	go func() {
		defer close(resize)
		for {
			select {
			case <-stop:
				return
			case <-winch:
				if w, h, err := term.GetSize(sizeFd); err == nil && w > 0 && h > 0 {
					select {
					case resize <- [2]uint16{uint16(w), uint16(h)}:
					default: // the monitor is behind; the next SIGWINCH brings the latest size
					}
				}
			}
		}
	}()
	var restore func()
	raw = noRaw
	if interactive {
		// Raw mode: keystrokes, ^C included, go to the container's terminal as they are typed.
		raw = func() error {
			old, err := term.MakeRaw(int(stdin.Fd()))
			if err != nil {
				return errdefs.Invalidf("set the terminal to raw mode: %v", err)
			}
			restore = func() { term.Restore(int(stdin.Fd()), old) }
			return nil
		}
	}
	return at, raw, func() {
		signal.Stop(winch)
		close(stop)
		if restore != nil {
			restore()
		}
	}, nil
}
