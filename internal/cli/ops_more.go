package cli

import (
	"fmt"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"
	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/reference"
	"github.com/spf13/cobra"
)

func topCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			titles, rows, err := e.Top(cmd.Context(), args[0], args[1:])
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(a.stdout, 20, 1, 3, ' ', 0)
			fmt.Fprintln(w, strings.Join(titles, "\t"))
			for _, r := range rows {
				fmt.Fprintln(w, strings.Join(r, "\t"))
			}
			return w.Flush()
		},
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}

type statsRow struct {
	Container, ID, Name, CPUPerc, MemUsage, MemPerc, NetIO, BlockIO, PIDs string
}

var statsHeaders = headerRow{"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
	"MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}

func statsCmd(a *app) *cobra.Command {
	var noStream, noTrunc, all bool
	var format string
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			for {
				st, err := e.ContainerStats(cmd.Context(), args, all, 500*time.Millisecond)
				if err != nil {
					return err
				}
				var rows []any
				for _, s := range st {
					id := s.ID
					if !noTrunc {
						id = reference.ShortID(id)
					}
					r := statsRow{Container: id, ID: id, Name: s.Name,
						CPUPerc: fmt.Sprintf("%.2f%%", s.CPUPercent), MemPerc: fmt.Sprintf("%.2f%%", s.MemPercent),
						MemUsage: units.BytesSize(float64(s.MemUsage)) + " / " + units.BytesSize(float64(s.MemLimit)),
						NetIO:    units.HumanSizeWithPrecision(float64(s.NetRx), 3) + " / " + units.HumanSizeWithPrecision(float64(s.NetTx), 3),
						BlockIO:  units.HumanSizeWithPrecision(float64(s.BlockRead), 3) + " / " + units.HumanSizeWithPrecision(float64(s.BlockOut), 3),
						PIDs:     fmt.Sprint(s.PIDs)}
					if !s.Running && !noStream {
						// Docker's stream shows a container it gets no sample of (a stopped
						// one, with -a or by name) as "--"; --no-stream shows the zeros of the
						// empty sample the daemon answers with.
						r.CPUPerc, r.MemUsage, r.MemPerc, r.NetIO, r.BlockIO, r.PIDs = "--", "-- / --", "--", "--", "--", "--"
					}
					rows = append(rows, r)
				}
				if !noStream {
					fmt.Fprint(a.stdout, "\033[2J\033[H")
				}
				def := "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
				if err := (table{w: a.stdout, format: format, defaults: def, headers: statsHeaders}).write(rows); err != nil {
					return err
				}
				if noStream {
					return nil
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(500 * time.Millisecond):
				}
			}
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate output")
	fl.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	fl.StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}

func renameCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return e.Rename(cmd.Context(), args[0], args[1])
		},
	}
}

func updateCmd(a *app) *cobra.Command {
	var memory, restart string
	var cpus float64
	var pids int64
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var o engine.UpdateOptions
			fl := cmd.Flags()
			if fl.Changed("memory") {
				n, err := parseMemory(memory)
				if err != nil {
					return err
				}
				o.Memory = &n
			}
			if fl.Changed("cpus") {
				if cpus < 0 || math.IsNaN(cpus) {
					return errdefs.Invalidf("invalid --cpus %v: must be positive", cpus)
				}
				n := int64(cpus * 1e9)
				o.NanoCPUs = &n
			}
			if fl.Changed("pids-limit") {
				o.PidsLimit = &pids
			}
			if fl.Changed("restart") {
				p, err := container.ParseRestartPolicy(restart)
				if err != nil {
					return err
				}
				o.Restart = &p
			}
			if o == (engine.UpdateOptions{}) {
				return errdefs.Invalidf("you must provide one or more flags when using this command")
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			return eachContainer(a, args, func(ref string) error { return e.Update(cmd.Context(), ref, o) })
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&memory, "memory", "m", "", "Memory limit")
	fl.Float64Var(&cpus, "cpus", 0, "Number of CPUs")
	fl.Int64Var(&pids, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fl.StringVar(&restart, "restart", "", "Restart policy to apply when a container exits")
	return cmd
}

func bootCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "boot",
		Short: "Start the containers whose restart policy is always, or unless-stopped and not stopped by the user (run at the machine's boot)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			started, errs := e.Boot(cmd.Context())
			for _, n := range started {
				fmt.Fprintln(a.stdout, n)
			}
			if len(errs) > 0 {
				var s []string
				for _, err := range errs {
					s = append(s, err.Error())
				}
				return fmt.Errorf("%s", strings.Join(s, "; "))
			}
			return nil
		},
	}
}
