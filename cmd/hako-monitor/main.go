// Command hako-monitor is a container's monitor (package monitor) as an executable of its own:
// hako runs it, when it finds it next to its own executable, instead of re-executing itself as
// `hako __monitor`. Both run the same code (engine.MonitorMain); this binary leaves out what a
// monitor never needs (the builder, lint, the registry client, the command line), so that it
// starts sooner, and so does every container init and exec that libcontainer re-executes from
// it. Build it with hako: scripts/build.sh DIR
//
// A `run` without -i or -t needs none: it forks before Go starts, and its child is the
// container's monitor (package cli, runfork.c). hako-monitor serves `start`, runs with -i or -t,
// and HAKO_RUN_FORK=off.
//
// It is not meant to be run by hand.
package main

import (
	// One malloc arena for every thread (package mallocarena): a new arena per Go thread costs
	// each process start ~2 ms of page-table work here.
	_ "github.com/hako-dev/hako/internal/mallocarena"

	"os"

	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/runtime"
)

func main() {
	// A container init (or exec) that libcontainer re-executed from this binary.
	if runtime.Init() {
		return
	}
	os.Exit(engine.MonitorMain(os.Args[1:], os.Stderr))
}
