// Command hako is a daemonless container engine: it builds images from Dockerfiles, keeps them in
// a content-addressed store and runs them as Linux containers, with Docker's verbs and flags.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hako-dev/hako/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
