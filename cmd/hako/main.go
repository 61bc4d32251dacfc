// Command hako is a daemonless container engine: it builds images from Dockerfiles, keeps them in
// a content-addressed store and runs them as Linux containers, with Docker's verbs and flags.
package main

import (
	// One malloc arena for every thread (package mallocarena): a new arena per Go thread costs
	// each process start ~2 ms of page-table work here.
	_ "github.com/hako-dev/hako/internal/mallocarena"

	"os"

	"github.com/hako-dev/hako/internal/cli"
	"github.com/hako-dev/hako/internal/runtime"
	// The C path of `hako exec` (docs/exec.md): its constructor enters a running container and
	// execs a plain exec's command before the Go runtime starts.
	_ "github.com/hako-dev/hako/internal/fastexec"
)

func main() {
	// A re-executed container init (libcontainer's "init", whose namespaces nsenter's C
	// constructor already joined before Go started) must run before anything else.
	if runtime.Init() {
		return
	}
	os.Exit(cli.Process())
}
