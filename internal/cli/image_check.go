//go:build !hakolean

package cli

import (
	"os"

	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/imagecheck"
	"github.com/hako-dev/hako/internal/lint"
	"github.com/spf13/cobra"
)

func imageCheckCmd(a *app) *cobra.Command {
	var format, threshold, config string
	var ignore []string
	cmd := &cobra.Command{
		Use:   "check [OPTIONS] IMAGE [IMAGE...]",
		Short: "Check built images for root users, secrets, setuid files, credentials in layers and wasted bytes",
		Long: `Check images in the store without running them: the config (USER, ENV, labels, history,
HEALTHCHECK) and every layer, so credential files deleted by a later layer are still found.
hako lint --list shows the image rules; the exit status is 1 when a finding is at or above
--failure-threshold.`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			wd, _ := os.Getwd()
			cfg, _, err := lint.LoadConfig(config, wd)
			if err != nil {
				return errdefs.InvalidArgument(err)
			}
			cfg.Ignored = append(cfg.Ignored, ignore...)
			th := lint.SeverityWarning
			for _, t := range []string{cfg.FailureThreshold, threshold} {
				if t == "" {
					continue
				}
				if th, err = lint.ParseSeverity(t); err != nil {
					return errdefs.InvalidArgument(err)
				}
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			var results []*lint.Result
			failed := false
			for _, ref := range args {
				res, err := imagecheck.Check(cmd.Context(), e, ref, cfg)
				if err != nil {
					return err
				}
				failed = failed || res.Failed(th)
				results = append(results, res)
			}
			if err := lint.Write(a.stdout, format, results, Version); err != nil {
				return errdefs.InvalidArgument(err)
			}
			if failed {
				return StatusError{Status: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&format, "format", "f", "text", "Output format: text, json, sarif, checkstyle")
	f.StringVarP(&threshold, "failure-threshold", "t", "", "Fail on findings at or above: error, warning, info, style, none (default warning)")
	f.StringVarP(&config, "config", "c", "", "Config file (default .hako-lint.yaml in the working directory)")
	stringArrayVar(f, &ignore, "ignore", "Ignore a rule; repeatable")
	return cmd
}
