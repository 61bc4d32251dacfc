package cli

import (
	"io"

	"github.com/hako-dev/hako/internal/atomicfile"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/spf13/cobra"
)

func exportCmd(a *app) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			var w io.Writer = a.stdout
			if output == "" {
				if f := fileOf(a.stdout); f != nil && isTerminal(f) {
					return errdefs.Invalidf("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
			} else {
				// Written beside the target and renamed at the end: a failed export leaves no
				// half a tar under the name.
				return atomicfile.WriteStream(output, 0o644, func(w io.Writer) error {
					return e.Export(cmd.Context(), args[0], w)
				})
			}
			return e.Export(cmd.Context(), args[0], w)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}
