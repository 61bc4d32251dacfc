package engine

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sirupsen/logrus"
)

// DebugLogFormat is logrus's format with --debug or HAKO_DEBUG: microsecond wall-clock times, so
// that libcontainer's lines (nsenter's stages, the init's sync messages, forwarded by the
// parent as they arrive) line up with the phase lines below.
var DebugLogFormat = &logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "15:04:05.000000"}

// debugTiming is HAKO_DEBUG: the start path then prints a timestamped line per phase to stderr
// (the CLI's; a monitor started in debug mode inherits it), to see where a `run` spends its time.
var debugTiming = os.Getenv("HAKO_DEBUG") != ""

// Phase prints one timing line when debugging: wall-clock time (comparable across the CLI, the
// monitor and the container), the process and the phase.
func Phase(what string) {
	if !debugTiming {
		return
	}
	now := time.Now()
	fmt.Fprintf(os.Stderr, "DEBU timing %d.%06d pid %d %s\n", now.Unix(), now.Nanosecond()/1000, os.Getpid(), what)
}

// SetupLogging points logrus (libcontainer logs through it) at w: warnings, or everything in
// DebugLogFormat with debug. The CLI and the monitor set it up alike.
func SetupLogging(w io.Writer, debug bool) {
	logrus.SetOutput(w)
	logrus.SetLevel(logrus.WarnLevel)
	if debug {
		logrus.SetLevel(logrus.DebugLevel)
		logrus.SetFormatter(DebugLogFormat)
	}
}
