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
