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
	root.AddCommand(unpackCmd(a))
	return root
}

// unpackCmd is `hako __unpack IMAGE`, hidden: it unpacks the layers of an image whose snapshots
// are gone, for the lean hako-monitor, which has no decompressors (engine's unpack_lean.go).
func unpackCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:    "__unpack IMAGE",
		Hidden: true,
		Args:   exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return e.UnpackImage(cmd.Context(), args[0])
		},
	}
}
