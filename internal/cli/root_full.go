//go:build !hakolean

package cli

import "github.com/spf13/cobra"

func newRoot(a *app) *cobra.Command {
	root := newBareRoot(a)
	root.AddCommand(versionCmd(a))
	addImageCommands(a, root)
	addContainerCommands(a, root)
	addVolumeCommands(a, root)
	addLintCommands(a, root) // after addImageCommands: it adds `image check`
	addBuildCommands(a, root)
	return root
}
