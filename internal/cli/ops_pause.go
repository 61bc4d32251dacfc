package cli

import "github.com/spf13/cobra"

func pauseCmd(a *app, pause bool) *cobra.Command {
	use, short := "pause CONTAINER [CONTAINER...]", "Pause all processes within one or more containers"
	if !pause {
		use, short = "unpause CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return eachContainer(a, args, func(ref string) error {
				if pause {
					return e.Pause(cmd.Context(), ref)
				}
				return e.Unpause(cmd.Context(), ref)
			})
		},
	}
}
