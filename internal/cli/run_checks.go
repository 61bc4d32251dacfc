package cli

import (
	"fmt"
	"strings"

	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/lint/runcheck"
	"github.com/hako-dev/hako/internal/volume"
	"github.com/spf13/cobra"
)

// addRunChecks gives run and create --strict; checkRun prints the run-time warnings (an engine
// socket, /, /etc, /proc, /var/run of the host, --privileged) or, with --strict, refuses.
func addRunChecks(cmd *cobra.Command) {
	cmd.Flags().Bool("strict", false, "Refuse to run with an engine socket, a sensitive host path or --privileged instead of warning")
}

func checkRun(a *App, cmd *cobra.Command, o engine.CreateOptions) error {
	rc := runcheck.Config{Privileged: o.Config.Options.Privileged, StoreRoot: a.root}
	for _, m := range o.Config.Mounts {
		if m.Type == volume.TypeBind {
			rc.Binds = append(rc.Binds, runcheck.Bind{Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
		}
	}
	warnings := runcheck.Warnings(rc)
	if len(warnings) == 0 {
		return nil
	}
	if strict, _ := cmd.Flags().GetBool("strict"); strict {
		return errdefs.InvalidArgument(fmt.Errorf("refusing to run (--strict): %s", strings.Join(warnings, "; ")))
	}
	for _, w := range warnings {
		fmt.Fprintln(a.stderr, "WARNING:", w)
	}
	return nil
}
