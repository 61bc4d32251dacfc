// Command hako is a daemonless container engine: it builds images from Dockerfiles, keeps them in
// a content-addressed store and runs them as Linux containers, with Docker's verbs and flags.
package main

import (
	// One malloc arena for every thread (package mallocarena): a new arena per Go thread costs
	// each process start ~2 ms of page-table work here.
	_ "github.com/hako-dev/hako/internal/mallocarena"

	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hako-dev/hako/internal/cli"
	"github.com/hako-dev/hako/internal/runtime"
	"golang.org/x/sys/unix"
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
	// Descriptors inherited from whoever ran hako (a CI job's pipe, a shell's redirection) must
	// not reach the processes it starts, the long-lived monitors above all: a pipe held open
	// by a detached container's monitor would keep that job waiting for ever.
	unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
