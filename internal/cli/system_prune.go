package cli

import (
	"fmt"

	"github.com/hako-dev/hako/internal/engine"
	"github.com/spf13/cobra"
)

// systemPruneCmd is `system prune`: stopped containers, dangling (with -a: unused) images, build
// cache, and with --volumes unused anonymous volumes, in that order so that each step frees
// what the one before released.
func systemPruneCmd(a *App) *cobra.Command {
	var all, force, volumes bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Args:  ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ext.PruneBuildCache == nil {
				// Leaving the build cache out would reclaim less than the command promises
				// and prints: refuse before anything is removed.
				return errNeedsFullBinary("system prune", "builder to prune the build cache")
			}
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
			e, err := a.Engine()
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
			cacheIDs, n, err := ext.PruneBuildCache(ctx, e, all)
			if err != nil {
				return err
			}
			total += n
			printList(a, "Deleted build cache objects:", cacheIDs)
			fmt.Fprintf(a.stdout, "Total reclaimed space: %s\n", HumanSize(total))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().BoolVar(&volumes, "volumes", false, "Prune anonymous volumes")
	return cmd
}

func printList(a *App, title string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintln(a.stdout, title)
	for _, i := range items {
		fmt.Fprintln(a.stdout, i)
	}
	fmt.Fprintln(a.stdout)
}
