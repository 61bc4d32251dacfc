package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/spf13/cobra"
)

func addVolumeCommands(a *app, root *cobra.Command) {
	v := &cobra.Command{Use: "volume", Short: "Manage volumes"}
	v.AddCommand(volumeCreateCmd(a), volumeLsCmd(a, "ls"), volumeLsCmd(a, "list"), volumeInspectCmd(a), volumeRmCmd(a, "rm"), volumeRmCmd(a, "remove"), volumePruneCmd(a))
	root.AddCommand(v)
}

func volumeCreateCmd(a *app) *cobra.Command {
	var labels, opts []string
	var driver string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if driver != "local" {
				return errdefs.Invalidf("volume driver %q: only local is supported", driver)
			}
			if len(opts) > 0 {
				return errdefs.NotImplemented(errors.New("volume create --opt is not supported: volumes are directories in the store"))
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			lm := map[string]string{}
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				lm[k] = v
			}
			v, err := e.CreateVolume(cmd.Context(), name, lm)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, v.Name)
			return nil
		},
	}
	stringArrayVar(cmd.Flags(), &labels, "label", "Set metadata for a volume")
	cmd.Flags().StringVarP(&driver, "driver", "d", "local", "Specify volume driver name")
	stringArrayVarP(cmd.Flags(), &opts, "opt", "o", "Set driver specific options")
	return cmd
}

type volumeRow struct {
	Name, Driver, Scope, Mountpoint, Labels, Links, Size, CreatedAt string
}

var volumeHeaders = headerRow{"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
	"Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "CreatedAt": "CREATED AT"}

func volumeLsCmd(a *app, use string) *cobra.Command {
	var quiet bool
	var filters []string
	var format string
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS]",
		Short: "List volumes",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			match, err := engine.ParseVolumeFilters(filters)
			if err != nil {
				return err
			}
			list, err := e.ListVolumes(cmd.Context(), match)
			if err != nil {
				return err
			}
			var rows []any
			for _, v := range list {
				if quiet {
					fmt.Fprintln(a.stdout, v.Name)
					continue
				}
				var labels []string
				for k, val := range v.Labels {
					labels = append(labels, k+"="+val)
				}
				sort.Strings(labels)
				rows = append(rows, volumeRow{Name: v.Name, Driver: v.Driver, Scope: v.Scope, Mountpoint: v.Mountpoint,
					Labels: strings.Join(labels, ","), Links: fmt.Sprint(len(v.Users)), Size: "N/A",
					CreatedAt: v.CreatedAt.Local().Format("2006-01-02 15:04:05 -0700 MST")})
			}
			if quiet {
				return nil
			}
			return table{w: a.stdout, format: format, defaults: "table {{.Driver}}\t{{.Name}}", headers: volumeHeaders}.write(rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only display volume names")
	stringArrayVarP(fl, &filters, "filter", "f", "Provide filter values (dangling=true|false, name=, label=, driver=)")
	fl.StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}

func volumeInspectCmd(a *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			var out []any
			var errs []string
			for _, n := range args {
				v, err := e.InspectVolume(cmd.Context(), n)
				if err != nil {
					errs = append(errs, err.Error())
					continue
				}
				out = append(out, v)
			}
			if format != "" {
				for _, v := range out {
					if err := printTemplate(a.stdout, format, v); err != nil {
						return err
					}
				}
			} else {
				if out == nil {
					out = []any{}
				}
				b, err := json.MarshalIndent(out, "", "    ")
				if err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, string(b))
			}
			if len(errs) > 0 {
				return errdefs.NotFound(errors.New(strings.Join(errs, "; ")))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}

func volumeRmCmd(a *app, use string) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] VOLUME [VOLUME...]",
		Short: "Remove one or more volumes",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return eachContainer(a, args, func(name string) error { return e.RemoveVolume(cmd.Context(), name, force) })
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error on a missing volume")
	return cmd
}

func volumePruneCmd(a *app) *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				warn := "WARNING! This will remove anonymous local volumes not used by at least one container."
				if all {
					warn = "WARNING! This will remove all local volumes not used by at least one container."
				}
				if !confirm(a, warn) {
					return nil
				}
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			removed, size, err := e.PruneVolumes(cmd.Context(), all)
			if err != nil {
				return err
			}
			if len(removed) > 0 {
				fmt.Fprintln(a.stdout, "Deleted Volumes:")
				for _, n := range removed {
					fmt.Fprintln(a.stdout, n)
				}
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintf(a.stdout, "Total reclaimed space: %s\n", humanSize(size))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}
