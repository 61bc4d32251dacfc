package engine

import (
	"os"
	"os/signal"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type specsMount = specs.Mount

// signalIgnoreHook catches and drops the signals rather than ignoring them: an ignored signal
// stays ignored across exec, so the container's process would start with SIGINT and SIGHUP
// ignored, and a shell could not even trap them (a STOPSIGNAL of SIGINT would never stop it).
// Caught signals are reset to their defaults in children.
func signalIgnoreHook() {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, syscall.SIGHUP, syscall.SIGPIPE, syscall.SIGINT)
	go func() {
		for range ch {
		}
	}()
}
