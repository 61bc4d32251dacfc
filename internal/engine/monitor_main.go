package engine

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"github.com/hako-dev/hako/internal/monitor"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// MonitorBinary is the file name of the monitor's own executable (cmd/hako-monitor), looked
// for next to hako's.
const MonitorBinary = "hako-monitor"

// monitorExecutable is what SpawnMonitor runs: $HAKO_MONITOR_PATH when set, else hako-monitor
// next to the running executable, else that executable itself (hako, as `hako __monitor`).
//
// A monitor is on the critical path of every `run` twice over: its own start, and the start of
// the container's init, which libcontainer re-executes from the monitor's binary. hako-monitor
// carries only the packages a monitor needs (no builder, no lint, no registry client), so the
// Go runtime initialises a fraction of hako's packages in both processes. hako alone still
// works: the fallback runs the same code (MonitorMain) from the full binary.
func monitorExecutable(self string) string {
	if p := os.Getenv("HAKO_MONITOR_PATH"); p != "" {
		return p
	}
	p := filepath.Join(filepath.Dir(self), MonitorBinary)
	if p != self && unix.Access(p, unix.X_OK) == nil {
		return p
	}
	return self
}

// MonitorMain is the whole of a monitor process, `hako-monitor ...` or `hako __monitor ...`,
// and returns its exit code. args are what SpawnMonitor passes (package monitor documents the
// descriptors):
//
//	--root R --snapshotter S __monitor [--id-pipe] [--attach] [--stdin] [--control]
//	    [--console-size COLSxROWS] [--] ID
//
// With --id-pipe the ID argument is monitorIDPlaceholder (after "--": it starts with "-") and
// the ID comes on the pipe.
func MonitorMain(args []string, stderr io.Writer) int {
	Phase("cli: main")
	// libcontainer logs through logrus, as in the CLI: warnings, everything with HAKO_DEBUG.
	logrus.SetOutput(stderr)
	logrus.SetLevel(logrus.WarnLevel)
	if debugTiming {
		logrus.SetLevel(logrus.DebugLevel)
		logrus.SetFormatter(DebugLogFormat)
	}
	if err := runMonitorMain(args); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 125
	}
	return 0
}

// monitorIDPlaceholder stands for the ID on the command line of a monitor spawned before its
// container exists: as long as an ID, so that showID can write the ID over it.
var monitorIDPlaceholder = strings.Repeat("-", 64)

// showID writes the container's ID over the placeholder in the process's own argument memory,
// which is what /proc/PID/cmdline (ps, pgrep -f) shows: an operator finds a container's monitor
// by its ID, as with Docker's shims. os.Args' strings are that memory (the runtime does not copy
// it); nothing else holds the placeholder.
func showID(id string) {
	last := os.Args[len(os.Args)-1]
	if last != monitorIDPlaceholder || len(id) != len(last) {
		return
	}
	copy(unsafe.Slice(unsafe.StringData(last), len(last)), id)
}

func runMonitorMain(args []string) error {
	if len(args) < 5 || args[0] != "--root" || args[2] != "--snapshotter" || args[4] != "__monitor" {
		return fmt.Errorf("usage: %s --root ROOT --snapshotter NAME __monitor [OPTIONS] ID", MonitorBinary)
	}
	fs := flag.NewFlagSet("__monitor", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	idPipe := fs.Bool("id-pipe", false, "")
	attach := fs.Bool("attach", false, "")
	stdin := fs.Bool("stdin", false, "")
	control := fs.Bool("control", false, "")
	consoleSize := fs.String("console-size", "", "")
	if err := fs.Parse(args[5:]); err != nil || fs.NArg() != 1 {
		err = fmt.Errorf("monitor: bad arguments %q (is %s built from the same source as hako?)", strings.Join(args[5:], " "), MonitorBinary)
		monitor.HandoffFromFDs(false, false, false, false).Ready.Write([]byte(err.Error()))
		return err
	}
	h := monitor.HandoffFromFDs(*attach, *stdin, *control, *idPipe)
	e, err := New(Config{Root: args[1], Snapshotter: args[3]})
	if err != nil {
		h.Ready.Write([]byte(err.Error()))
		return err
	}
	defer e.Close()
	if *consoleSize != "" {
		if h.ConsoleWidth, h.ConsoleHeight, err = monitor.ParseConsoleSize(*consoleSize); err != nil {
			h.Ready.Write([]byte(err.Error()))
			return err
		}
	}
	id := fs.Arg(0)
	if id == monitorIDPlaceholder && h.IDPipe != nil {
		// Spawned before its container was created (SpawnMonitor).
		if id, err = monitor.ReadID(h.IDPipe); err != nil || id == "" {
			return nil // no container after all: nothing to do
		}
		h.IDPipe.Close()
		showID(id)
	}
	return e.RunMonitor(context.Background(), id, h)
}
