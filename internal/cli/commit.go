//go:build !hakolean

package cli

import (
	"fmt"

	"github.com/hako-dev/hako/internal/dockerfile"
	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/image"
	"github.com/spf13/cobra"
)

func commitCmd(a *app) *cobra.Command {
	var o engine.CommitOptions
	var changes []string
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			if len(args) == 2 {
				o.Ref = args[1]
			}
			o.Changes = configChanges(changes)
			id, err := e.Commit(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, id)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.Author, "author", "a", "", "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")")
	fl.StringVarP(&o.Message, "message", "m", "", "Commit message")
	stringArrayVarP(fl, &changes, "change", "c", "Apply Dockerfile instruction to the created image")
	fl.BoolVarP(&o.Pause, "pause", "p", true, "Pause container during commit")
	return cmd
}

// configChanges is commit's and import's --change: the engine applies it to the new image's
// config, and it parses the Dockerfile instructions then (package dockerfile, which the engine
// does not link).
func configChanges(changes []string) func(*image.ContainerConfig) error {
	return func(c *image.ContainerConfig) error { return dockerfile.ApplyChanges(c, changes) }
}
