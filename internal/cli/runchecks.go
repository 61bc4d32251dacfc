package cli

import (
	"fmt"
	"strings"

	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/lint/runlint"
	"github.com/hako-dev/hako/internal/volume"
	"github.com/spf13/cobra"
)

func addRunChecks(cmd *cobra.Command) {
	cmd.Flags().Bool("strict", false, "Refuse to run with an engine socket, a sensitive host path or --privileged instead of warning")
}

func checkRun(a *app, cmd *cobra.Command, o engine.CreateOptions) error {
	rc := runlint.RunConfig{Privileged: o.Config.Options.Privileged, StoreRoot: a.root}
	for _, m := range o.Config.Mounts {
		if m.Type == volume.TypeBind {
			rc.Binds = append(rc.Binds, runlint.Bind{Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
		}
	}
	warnings := runlint.RunWarnings(rc)
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
