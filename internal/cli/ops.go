package cli

import "github.com/spf13/cobra"

// addOpsCommands registers the verbs that work with running containers: exec, cp, commit,
// export, top, stats, pause, unpause, rename, update, and the boot-time start.
func addOpsCommands(a *app, root *cobra.Command) {
	var ctr *cobra.Command
	for _, c := range root.Commands() {
		switch c.Name() {
		case "container":
			ctr = c
		case "system":
			c.AddCommand(bootCmd(a))
		}
	}
	for _, mk := range []func(*app) *cobra.Command{execCmd, cpCmd, commitCmd, exportCmd,
		func(a *app) *cobra.Command { return pauseCmd(a, true) }, func(a *app) *cobra.Command { return pauseCmd(a, false) },
		topCmd, statsCmd, renameCmd, updateCmd} {
		root.AddCommand(mk(a))
		if ctr != nil {
			ctr.AddCommand(mk(a))
		}
	}
}
