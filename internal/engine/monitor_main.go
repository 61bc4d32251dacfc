package engine

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unsafe"

	"github.com/hako-dev/hako/internal/lockfile"
	"github.com/hako-dev/hako/internal/monitor"
	"github.com/hako-dev/hako/internal/runtime"
	"golang.org/x/sys/unix"
)

// monitorBinary is the file name of the monitor's own executable (cmd/hako-monitor), looked
// for next to hako's.
const monitorBinary = "hako-monitor"

// MonitorExecutable is what SpawnMonitor runs: $HAKO_MONITOR_PATH when set, else hako-monitor
// next to the running executable, else that executable itself (hako, as `hako __monitor`).
//
// A monitor is on the critical path of every `run` twice over: its own start, and the start of
// the container's init, which libcontainer re-executes from the monitor's binary. hako-monitor
// carries only the packages a monitor needs (no builder, no lint, no registry client), so the
// Go runtime initialises a fraction of hako's packages in both processes. hako alone still
// works: the fallback runs the same code (MonitorMain) from the full binary.
//
// The monitor of a `run` that forked (package cli, runfork.c) is the run's own process instead,
// so hako: one Go start instead of two at once. hako-monitor serves `start`, restarts of a
// stopped container, runs with -i or -t, and HAKO_RUN_FORK=off.
func MonitorExecutable() (string, error) {
	if p := os.Getenv("HAKO_MONITOR_PATH"); p != "" {
		return p, nil
	}
	if p, err := besideSelf(monitorBinary); err == nil && unix.Access(p, unix.X_OK) == nil {
		return p, nil
	}
	return os.Executable()
}

// MonitorMain is the whole of a monitor process, `hako-monitor ...` or `hako __monitor ...`,
// and returns its exit code. args are what SpawnMonitor passes (package monitor documents the
// descriptors, the ID pipe last):
//
//	--root R --snapshotter S __monitor [--attach] [--stdin] [--control]
//	    [--console-size COLSxROWS] -- PLACEHOLDER
//
// PLACEHOLDER is monitorIDPlaceholder; the ID comes on the pipe. Or, exec'd by the monitor's
// keeper once the container has exited (keeper.go), with the monitor lock on descriptor 3:
//
//	--root R --snapshotter S __monitor --exited --restart-delay D --volatile DIR -- ID STATUS
func MonitorMain(args []string, stderr io.Writer) int {
	Phase("monitor: exec")
	SetupLogging(stderr, debugTiming)
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
		return fmt.Errorf("usage: %s --root ROOT --snapshotter NAME __monitor [OPTIONS] -- ID", monitorBinary)
	}
	fs := flag.NewFlagSet("__monitor", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	attach := fs.Bool("attach", false, "")
	stdin := fs.Bool("stdin", false, "")
	control := fs.Bool("control", false, "")
	consoleSize := fs.String("console-size", "", "")
	exited := fs.Bool("exited", false, "")
	restartDelay := fs.String("restart-delay", "0s", "")
	volatile := fs.String("volatile", "", "")
	perr := fs.Parse(args[5:])
	if slices.Contains(args[5:], "--exited") {
		// Exec'd by the keeper (keeper.go): the container has exited, and descriptor 3 is the
		// monitor lock (no ready pipe to write an error to).
		if perr != nil || !*exited || *attach || *stdin || *control || *consoleSize != "" {
			return fmt.Errorf("monitor --exited: bad arguments %q", strings.Join(args[5:], " "))
		}
		id, ws, delay, err := parseExited(*restartDelay, fs.Args())
		if err != nil {
			return err
		}
		e, err := New(Config{Root: args[1], Snapshotter: args[3]})
		if err != nil {
			return err
		}
		defer e.Close()
		lock, err := lockfile.Adopt(os.NewFile(3, "monitor.lock"), e.Containers().MonitorLockPath(id))
		if err != nil {
			return err
		}
		return e.runMonitorExited(context.Background(), id, ws, &monitorSelf{lock: lock, restartDelay: delay}, *volatile)
	}
	if perr != nil || fs.NArg() != 1 || fs.Arg(0) != monitorIDPlaceholder || *restartDelay != "0s" || *volatile != "" {
		err := fmt.Errorf("monitor: bad arguments %q (is %s built from the same source as hako?)", strings.Join(args[5:], " "), monitorBinary)
		monitor.HandoffFromFDs(false, false, false).Ready.Write([]byte(err.Error()))
		return err
	}
	h := monitor.HandoffFromFDs(*attach, *stdin, *control)
	warmMonitor(args[1])
	e, err := New(Config{Root: args[1], Snapshotter: args[3]})
	if err != nil {
		h.Ready.Write([]byte(err.Error()))
		return err
	}
	defer e.Close()
	runtime.PrepareSeal(e.runtimeRoot())
	if *consoleSize != "" {
		if h.ConsoleWidth, h.ConsoleHeight, err = monitor.ParseConsoleSize(*consoleSize); err != nil {
			h.Ready.Write([]byte(err.Error()))
			return err
		}
	}
	// Until the command has created the container, the snapshotter is opened: before the
	// command's Prepare, which re-reads the metadata anyway. (encoding/json's codecs are no
	// longer built ahead: that took the second core from the start, a loss of 5-11 ms.)
	e.warmSnapshotter()
	id, err := monitor.ReadID(h.IDPipe)
	if err != nil || id == "" {
		return nil // no container after all (the command failed or died): nothing to do
	}
	h.IDPipe.Close()
	showID(id)
	return e.RunMonitor(context.Background(), id, h)
}
