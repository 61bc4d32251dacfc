package cli

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/logs"
	"github.com/spf13/cobra"
)

func logsCmd(a *app) *cobra.Command {
	var follow, timestamps, details bool
	var tail, sinceS, untilS string
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			c, err := e.Containers().Get(args[0])
			if err != nil {
				return err
			}
			o := logs.ReadOptions{Tail: -1, Follow: follow, Stdout: true, Stderr: true}
			if tail != "all" && tail != "" {
				n, err := strconv.Atoi(tail)
				if err != nil || n < 0 {
					return errdefs.Invalidf("invalid --tail %q: a number or \"all\"", tail)
				}
				o.Tail = n
			}
			if o.Since, err = parseTime(sinceS); err != nil {
				return errdefs.Invalidf("invalid --since %q: %v", sinceS, err)
			}
			if o.Until, err = parseTime(untilS); err != nil {
				return errdefs.Invalidf("invalid --until %q: %v", untilS, err)
			}
			cs := e.Containers()
			done := func() bool {
				c2, err := cs.Get(c.ID)
				return err != nil || !c2.State.Running
			}
			return logs.Read(cmd.Context(), e.LogPath(c.ID), o, done, func(en logs.Entry) error {
				w := a.stdout
				if en.Stream == "stderr" {
					w = a.stderr
				}
				if timestamps {
					fmt.Fprint(w, en.Time.UTC().Format(time.RFC3339Nano)+" ")
				}
				_, err := w.Write(en.Line)
				return err
			})
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&follow, "follow", "f", false, "Follow log output")
	fl.BoolVarP(&timestamps, "timestamps", "t", false, "Show timestamps")
	fl.BoolVar(&details, "details", false, "Show extra details provided to logs")
	fl.StringVarP(&tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	fl.StringVar(&sinceS, "since", "", "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)")
	fl.StringVar(&untilS, "until", "", "Show logs before a timestamp or relative (e.g. 42m)")
	return cmd
}

// parseTime reads Docker's --since/--until: RFC 3339, a Unix timestamp, or a duration ago.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(0, int64(f*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("not a timestamp or duration")
}

var _ = engine.Config{}
