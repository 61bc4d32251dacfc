//go:build !hakolean

package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hako-dev/hako/internal/build"
	"github.com/hako-dev/hako/internal/builder"
	"github.com/hako-dev/hako/internal/dockerfile"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/spf13/cobra"
)

func addBuildCommands(a *app, root *cobra.Command) {
	builderCmd := &cobra.Command{Use: "builder", Short: "Manage builds"}
	builderCmd.AddCommand(buildCmd(a), builderPruneCmd(a))
	root.AddCommand(buildCmd(a), builderCmd)
}

// buildCmd is `hako build`. A RUN that fails makes the command exit 1, as `docker build` does;
// hako's own errors (bad flag, bad Dockerfile, missing context or base image) exit 125.
func buildCmd(a *app) *cobra.Command {
	var tags, buildArgs, labels, noCacheFilter, secrets, sshs []string
	var file, target, iidfile, progress, output string
	var quiet, noCache, pull bool
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | -",
		Short: "Build an image from a Dockerfile",
		Long: `Build an image from a Dockerfile and a context (a directory, or a tar on stdin with "-").

Every step is kept as an image: "hako history" shows each step's ID, and "hako run ID" starts
the filesystem and config right after that step. Exit status: 1 when a RUN step fails (as
docker build), 125 for other errors. --pull is accepted for compatibility: hako has no registry,
so base images must already be in the store.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := builder.Options{Tags: tags, Target: target, NoCache: noCache, NoCacheFilter: noCacheFilter, Pull: pull}
			switch {
			case args[0] == "-" && file == "-":
				return StatusError{Status: 125, Err: errdefs.Invalidf("invalid argument: can't use stdin for both build context and dockerfile")}
			case args[0] == "-":
				opts.ContextTar = a.stdin
			default:
				opts.ContextDir = args[0]
			}
			if file == "-" {
				b, err := io.ReadAll(a.stdin)
				if err != nil {
					return err
				}
				opts.DockerfileContent = b
			} else {
				opts.Dockerfile = file
			}
			var err error
			if opts.BuildArgs, err = build.ParseBuildArgs(buildArgs, os.LookupEnv); err != nil {
				return err
			}
			if v, ok := os.LookupEnv(builder.SourceDateEpochArg); ok && v != "" {
				// As buildx: the environment's SOURCE_DATE_EPOCH, unless --build-arg sets it.
				if _, given := opts.BuildArgs[builder.SourceDateEpochArg]; !given {
					if opts.BuildArgs == nil {
						opts.BuildArgs = map[string]string{}
					}
					opts.BuildArgs[builder.SourceDateEpochArg] = v
				}
			}
			for _, v := range secrets {
				sec, err := build.ParseSecret(v, os.LookupEnv)
				if err != nil {
					return StatusError{Status: 125, Err: err}
				}
				opts.Secrets = append(opts.Secrets, sec)
			}
			for _, v := range sshs {
				s, err := build.ParseSSH(v, os.LookupEnv)
				if err != nil {
					return StatusError{Status: 125, Err: err}
				}
				opts.SSH = append(opts.SSH, s)
			}
			if len(labels) > 0 {
				opts.Labels = map[string]string{}
				for _, l := range labels {
					k, v, _ := strings.Cut(l, "=")
					opts.Labels[k] = v
				}
			}
			if output != "" {
				o, err := builder.ParseOutput(output)
				if err != nil {
					return StatusError{Status: 125, Err: err}
				}
				if o.Dest == "-" {
					o.Writer = a.stdout
				}
				opts.Output = o
			}
			if done, err := buildCheck(a, cmd, opts); done || err != nil {
				return err
			}
			out := a.stderr
			var tty *ttyProgress
			switch {
			case quiet:
				opts.Progress = nil
			case progress == "plain":
				opts.Progress = newPlainProgress(out)
			case progress == "tty" || progress == "auto" || progress == "":
				f, ok := out.(*os.File)
				if ok && isTerminal(f) && os.Getenv("CI") == "" {
					tty = newTTYProgress(f, termWidth(int(f.Fd())))
					opts.Progress = tty
				} else if progress == "tty" {
					return StatusError{Status: 125, Err: errdefs.Invalidf("--progress=tty: stderr is not a terminal")}
				} else {
					opts.Progress = newPlainProgress(out)
				}
			default:
				return StatusError{Status: 125, Err: errdefs.Invalidf("invalid --progress %q: auto, tty or plain", progress)}
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			res, err := builder.New(e).Build(cmd.Context(), opts)
			if tty != nil {
				tty.Close()
			}
			if err != nil {
				var de *dockerfile.Error
				if errors.As(err, &de) && de.Snippet() != "" {
					fmt.Fprint(a.stderr, de.Snippet())
				}
				var se *builder.StepError
				if errors.As(err, &se) && se.ExitCode > 0 {
					return StatusError{Status: 1, Err: err}
				}
				if errors.Is(err, cmd.Context().Err()) && cmd.Context().Err() != nil {
					return StatusError{Status: 130, Err: errors.New("build interrupted: nothing was tagged")}
				}
				return err
			}
			if iidfile != "" {
				if err := os.WriteFile(iidfile, []byte(res.ID.String()), 0o644); err != nil {
					return fmt.Errorf("write --iidfile: %w", err)
				}
			}
			if quiet && (opts.Output == nil || opts.Output.Dest != "-") {
				fmt.Fprintln(a.stdout, res.ID)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	addBuildCheck(cmd)
	stringArrayVarP(fl, &tags, "tag", "t", `Name and optionally a tag in the "name:tag" format`)
	fl.StringVarP(&file, "file", "f", "", `Name of the Dockerfile (default: "PATH/Dockerfile"; "-" reads stdin)`)
	stringArrayVar(fl, &buildArgs, "build-arg", "Set build-time variables (KEY=VALUE, or KEY to take it from the environment)")
	fl.StringVar(&target, "target", "", "Set the target build stage to build")
	stringArrayVar(fl, &labels, "label", "Set metadata for an image")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	fl.StringVar(&iidfile, "iidfile", "", "Write the image ID to the file")
	fl.BoolVar(&noCache, "no-cache", false, "Do not use cache when building the image")
	stringArrayVar(fl, &noCacheFilter, "no-cache-filter", "Do not cache specified stages")
	fl.BoolVar(&pull, "pull", false, "Always attempt to pull a newer version of the image (no-op: hako has no registry)")
	fl.StringVar(&progress, "progress", "auto", "Set type of progress output (auto, tty, plain)")
	fl.StringVarP(&output, "output", "o", "", `Output destination: "type=image" (default), "type=docker|oci|tar,dest=FILE", "type=local,dest=DIR", or a directory ("-": a tar on stdout); only type=image records or tags the image`)
	stringArrayVar(fl, &secrets, "secret", `Secret to expose to RUN --mount=type=secret: "id=ID,src=FILE", "id=ID,env=VAR", or "id=ID" (the variable ID, else the file ID)`)
	stringArrayVar(fl, &sshs, "ssh", `SSH agent to expose to RUN --mount=type=ssh: "default" ($SSH_AUTH_SOCK), or "ID=SOCKET|KEY[,KEY...]"`)
	return cmd
}

func builderPruneCmd(a *app) *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove build cache",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := builder.PruneOptions{All: all}
			for _, f := range filters {
				k, v, ok := strings.Cut(f, "=")
				if !ok || k != "until" {
					return StatusError{Status: 125, Err: errdefs.Invalidf("invalid filter %q (until=DURATION|TIMESTAMP)", f)}
				}
				t, err := parseUntil(v)
				if err != nil {
					return StatusError{Status: 125, Err: err}
				}
				opts.Until = t
			}
			if !force {
				what := "all dangling build cache"
				if all {
					what = "all build cache"
				}
				fmt.Fprintf(a.stdout, "WARNING! This will remove %s. Are you sure you want to continue? [y/N] ", what)
				line, _ := bufio.NewReader(a.stdin).ReadString('\n')
				if s := strings.ToLower(strings.TrimSpace(line)); s != "y" && s != "yes" {
					return nil
				}
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			res, err := builder.New(e).PruneCache(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if len(res.Images) > 0 {
				fmt.Fprintln(a.stdout, "Deleted build cache objects:")
				for _, id := range res.Images {
					fmt.Fprintln(a.stdout, id)
				}
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintf(a.stdout, "Total reclaimed space: %s\n", humanSize(res.Bytes))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused build cache, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	stringArrayVar(cmd.Flags(), &filters, "filter", `Provide filter values (e.g. "until=24h")`)
	return cmd
}

// parseUntil reads a duration ("24h", before now) or an RFC 3339 time or Unix timestamp.
func parseUntil(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	var sec int64
	if _, err := fmt.Sscanf(v, "%d", &sec); err == nil {
		return time.Unix(sec, 0), nil
	}
	return time.Time{}, errdefs.Invalidf("invalid until filter %q: a duration (24h) or a time", v)
}
