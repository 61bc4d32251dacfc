//go:build hakolean

package cli

import (
	"errors"

	"github.com/hako-dev/hako/internal/image"
	"github.com/spf13/cobra"
)

// This package built with -tags hakolean is the lean one of cmd/hako-monitor, which serves the
// forked `run` (runfork.c): without the builder, the linters and BuildKit's Dockerfile parser,
// whose initialisers and pages cost a hako process several milliseconds at its start. The verbs
// that need them are hako's alone; the lean build never offers them (only `run` reaches it).

var errNotLean = errors.New("this verb is hako's, not hako-monitor's")

func addBuildCommands(*app, *cobra.Command) {}
func addLintCommands(*app, *cobra.Command)  {}

func systemPruneCmd(*app) *cobra.Command { return notLean("prune") }
func commitCmd(*app) *cobra.Command      { return notLean("commit") }

func configChanges([]string) func(*image.ContainerConfig) error {
	return func(*image.ContainerConfig) error { return errNotLean }
}

func notLean(use string) *cobra.Command {
	return &cobra.Command{Use: use, Hidden: true, RunE: func(*cobra.Command, []string) error { return errNotLean }}
}

// newRoot of the lean build: only the hot commands (run, exec), which Main builds alone anyway
// for the forked run's command line. Without the whole tree the linker leaves out every other
// verb's code: hako-monitor's start went from 14.5 to 12.0 ms of task clock (450 to 351 page
// faults), a forked run's from 53.5 to 50.2 ms (interleaved).
func newRoot(a *app) *cobra.Command {
	root := newBareRoot(a)
	for _, mk := range hotCommands {
		root.AddCommand(mk(a))
	}
	return root
}
