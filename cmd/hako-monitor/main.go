// Command hako-monitor is a container's monitor (package monitor) as an executable of its own,
// and the lean half of a forked `hako run`. Build it with hako, with -tags hakolean:
// scripts/build.sh DIR
//
//   - hako runs it, when it finds it next to its own executable, instead of re-executing itself
//     as `hako __monitor` (`start`, runs with -i or -t, HAKO_RUN_FORK=off). Both run the same
//     code (engine.MonitorMain).
//   - The child of a forked `hako run` (package cli, runfork.c) executes it with run's own
//     command line, and runs the command there (cli.Process), then stays as the container's
//     monitor: this binary leaves out the builder, the linters, the registry client and
//     BuildKit's Dockerfile parser (package cli built with -tags hakolean), whose initialisers
//     and pages cost hako's start several milliseconds.
//
// Every container init and exec that libcontainer re-executes from it starts sooner too. It is
// not meant to be run by hand.
package main

import (
	// One malloc arena for every thread (package mallocarena): a new arena per Go thread costs
	// each process start ~2 ms of page-table work here.
	_ "github.com/hako-dev/hako/internal/mallocarena"

	"os"

	"github.com/hako-dev/hako/internal/cli"
	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/runtime"
)

func main() {
	// A container init (or exec) that libcontainer re-executed from this binary.
	if runtime.Init() {
		return
	}
	if cli.ForkedChild() {
		os.Exit(cli.Process())
	}
	os.Exit(engine.MonitorMain(os.Args[1:], os.Stderr))
}
