package cli

import (
	"context"
	"fmt"
	"strings"

	units "github.com/docker/go-units"
	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/spf13/cobra"
)

func diffCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			changes, err := e.Diff(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			for _, ch := range changes {
				fmt.Fprintln(a.stdout, ch.String())
			}
			return nil
		},
	}
}

func restartCmd(a *app) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			var t *int
			if cmd.Flags().Changed("time") {
				t = &timeout
			}
			return eachContainer(a, args, func(ref string) error { return e.Restart(cmd.Context(), ref, t) })
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "Seconds to wait for stop before killing the container")
	return cmd
}

func pruneContainersCmd(a *app) *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			var f engine.ContainerPruneFilters
			for _, fl := range filters {
				k, v, ok := strings.Cut(fl, "=")
				if !ok {
					return errdefs.Invalidf("bad format of filter %q (expected name=value)", fl)
				}
				switch k {
				case "until":
					t, err := parseTime(v)
					if err != nil {
						return errdefs.Invalidf("invalid filter until=%s: %v", v, err)
					}
					f.Until = t
				case "label":
					f.Labels = append(f.Labels, v)
				case "label!":
					f.NotLabels = append(f.NotLabels, v)
				default:
					return errdefs.Invalidf("invalid filter %q (until, label, label!)", k)
				}
			}
			if !force && !confirm(a, "WARNING! This will remove all stopped containers.") {
				return nil
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			deleted, space, err := e.PruneContainers(cmd.Context(), f)
			if len(deleted) > 0 {
				fmt.Fprintln(a.stdout, "Deleted Containers:")
				for _, id := range deleted {
					fmt.Fprintln(a.stdout, id)
				}
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintln(a.stdout, "Total reclaimed space:", units.HumanSize(float64(space)))
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	stringArrayVar(cmd.Flags(), &filters, "filter", "Provide filter values (e.g. \"until=<timestamp>\", \"label=key=value\")")
	return cmd
}

// psSize is ps's SIZE column as Docker's: "12B (virtual 2.03MB)"; measured only when asked for,
// since it walks the writable layer.
func psSize(ctx context.Context, e *engine.Engine, c *container.Container, measure bool) string {
	if !measure {
		return ""
	}
	rw, virtual, err := e.ContainerSize(ctx, c)
	if err != nil {
		return "0B"
	}
	if virtual > 0 {
		return fmt.Sprintf("%s (virtual %s)", humanSize(rw), humanSize(virtual))
	}
	return humanSize(rw)
}
