package engine

import (
	"os/signal"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type specsMount = specs.Mount

func signalIgnoreHook() { signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE, syscall.SIGINT) }
