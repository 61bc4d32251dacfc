//go:build !hakolean

package cli

import (
	"fmt"

	"github.com/hako-dev/hako/internal/builder"
	"github.com/hako-dev/hako/internal/engine"
	"github.com/spf13/cobra"
)

// systemPruneCmd is `system prune`: stopped containers, dangling (with -a: unused) images, build
// cache, and with --volumes unused anonymous volumes, in that order so that each step frees
// what the one before released.
func systemPruneCmd(a *app) *cobra.Command {
	var all, force, volumes bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				warn := "WARNING! This will remove:\n  - all stopped containers\n"
				if volumes {
					warn += "  - all anonymous volumes not used by at least one container\n"
				}
				if all {
					warn += "  - all images without at least one container associated to them\n  - all build cache\n"
				} else {
					warn += "  - all dangling images\n  - unused build cache\n"
				}
				if !confirm(a, warn) {
					return nil
				}
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var total int64
			ids, n, err := e.PruneContainers(ctx, engine.ContainerPruneFilters{})
			if err != nil {
				return err
			}
			total += n
			printList(a, "Deleted Containers:", ids)
			if volumes {
				names, n, err := e.PruneVolumes(ctx, false)
				if err != nil {
					return err
				}
				total += n
				printList(a, "Deleted Volumes:", names)
			}
			deleted, n, err := e.PruneImages(ctx, all)
			if err != nil {
				return err
			}
			total += n
			printList(a, "Deleted Images:", deleted)
			res, err := builder.New(e).PruneCache(ctx, builder.PruneOptions{All: all})
			if err != nil {
				return err
			}
			total += res.Bytes
			printList(a, "Deleted build cache objects:", res.Images)
			fmt.Fprintf(a.stdout, "Total reclaimed space: %s\n", humanSize(total))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().BoolVar(&volumes, "volumes", false, "Prune anonymous volumes")
	return cmd
}

func printList(a *app, title string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintln(a.stdout, title)
	for _, i := range items {
		fmt.Fprintln(a.stdout, i)
	}
	fmt.Fprintln(a.stdout)
}
