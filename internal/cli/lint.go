//go:build !hakolean

package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/hako-dev/hako/internal/builder"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/lint"
	"github.com/spf13/cobra"
)

// addLintCommands registers `lint` and `image check`. lint is a pure library over files: it
// needs no store, so `hako lint` calls it without opening the engine.
func addLintCommands(a *app, root *cobra.Command) {
	root.AddCommand(lintCmd(a))
	for _, c := range root.Commands() {
		if c.Name() == "image" {
			c.AddCommand(imageCheckCmd(a))
		}
	}
}

type lintFlags struct {
	format    string
	threshold string
	config    string
	context   string
	ignore    []string
	trusted   []string
	labels    []string
	explain   string
	list      bool
	noContext bool
}

func lintCmd(a *app) *cobra.Command {
	var o lintFlags
	cmd := &cobra.Command{
		Use:   "lint [OPTIONS] [FILE...|-]",
		Short: "Check Dockerfiles against BuildKit's checks, hadolint's rules and Docker's practices",
		Long: `Check Dockerfiles (default ./Dockerfile; - reads stdin) against BuildKit's build checks,
hadolint's most used rules and the practices of Docker's guides. Each finding prints as
file:line:col RULE severity: message; fix. The exit status is 1 when a finding is at or above
--failure-threshold (or any finding under # check=error=true).

Suppress a rule with "# check=skip=RULE" at the top of the file, "# hadolint ignore=RULE" (our IDs
or DLxxxx codes) on the line before an instruction, or in .hako-lint.yaml (looked up beside the
Dockerfile, then in the working directory).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLint(a, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.format, "format", "f", "text", "Output format: text, json, sarif, checkstyle")
	f.StringVarP(&o.threshold, "failure-threshold", "t", "", "Fail on findings at or above: error, warning, info, style, none (default info)")
	f.StringVarP(&o.config, "config", "c", "", "Config file (default .hako-lint.yaml beside the Dockerfile or in the working directory)")
	f.StringVar(&o.context, "context", "", "Build context directory (default: the Dockerfile's directory)")
	f.BoolVar(&o.noContext, "no-context", false, "Skip the rules that look at the build context")
	stringArrayVar(f, &o.ignore, "ignore", "Ignore a rule (ID or hadolint code); repeatable")
	stringArrayVar(f, &o.trusted, "trusted-registry", "Trust base images from this registry or repository prefix; repeatable")
	stringArrayVar(f, &o.labels, "require-label", "Require this label on the final image; repeatable")
	f.StringVar(&o.explain, "explain", "", "Print the documentation of a rule and exit")
	f.BoolVar(&o.list, "list", false, "List every rule and exit")
	return cmd
}

func runLint(a *app, o lintFlags, args []string) error {
	if o.list {
		return listRules(a.stdout)
	}
	if o.explain != "" {
		r, ok := lint.Lookup(o.explain)
		if !ok {
			return errdefs.NotFoundf("no rule %q (hako lint --list shows them)", o.explain)
		}
		_, err := io.WriteString(a.stdout, r.Explain())
		return err
	}
	if len(args) == 0 {
		args = []string{"Dockerfile"}
	}
	for _, id := range o.ignore {
		if _, ok := lint.Lookup(id); !ok {
			return errdefs.Invalidf("--ignore: no rule %q", id)
		}
	}
	// Files are independent: lint them on every core, print them in the order given.
	results := make([]*lint.Result, len(args))
	errs := make([]error, len(args))
	fails := make([]bool, len(args))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, file := range args {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i], fails[i], errs[i] = lintFile(a, o, file)
		}()
	}
	wg.Wait()
	failed := false
	for i, err := range errs {
		if err != nil {
			return err
		}
		failed = failed || fails[i]
	}
	if err := lint.Write(a.stdout, o.format, results, Version); err != nil {
		return errdefs.InvalidArgument(err)
	}
	if failed {
		return StatusError{Status: 1}
	}
	return nil
}

// lintFile checks one Dockerfile with the config found for it and says whether it fails the
// threshold.
func lintFile(a *app, o lintFlags, file string) (*lint.Result, bool, error) {
	src, dir, err := readDockerfile(a, file)
	if err != nil {
		return nil, false, err
	}
	cfgDirs := []string{}
	if dir != "" {
		cfgDirs = append(cfgDirs, dir)
	}
	if wd, err := os.Getwd(); err == nil {
		cfgDirs = append(cfgDirs, wd)
	}
	cfg, _, err := lint.LoadConfig(o.config, cfgDirs...)
	if err != nil {
		return nil, false, errdefs.InvalidArgument(err)
	}
	cfg.Ignored = append(cfg.Ignored, o.ignore...)
	cfg.TrustedRegistries = append(cfg.TrustedRegistries, o.trusted...)
	cfg.RequiredLabels = append(cfg.RequiredLabels, o.labels...)
	threshold := lint.SeverityInfo
	for _, t := range []string{cfg.FailureThreshold, o.threshold} {
		if t == "" {
			continue
		}
		if threshold, err = lint.ParseSeverity(t); err != nil {
			return nil, false, errdefs.InvalidArgument(fmt.Errorf("--failure-threshold: %w", err))
		}
	}
	ctxDir := o.context
	if ctxDir == "" && file != "-" {
		ctxDir = dir
	}
	if o.noContext {
		ctxDir = ""
	}
	res, err := lint.CheckDockerfile(src, lint.Options{Path: file, ContextDir: ctxDir, Config: cfg})
	if err != nil {
		return nil, false, errdefs.InvalidArgument(err)
	}
	return res, res.Failed(threshold), nil
}

// readDockerfile reads file (- is stdin) and returns its directory, the default context.
func readDockerfile(a *app, file string) ([]byte, string, error) {
	if file == "-" {
		b, err := io.ReadAll(a.stdin)
		if err != nil {
			return nil, "", fmt.Errorf("read Dockerfile from stdin: %w", err)
		}
		return b, "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, "", errdefs.NotFoundf("open %s: no such file", file)
		}
		return nil, "", fmt.Errorf("read Dockerfile: %w", err)
	}
	return b, filepath.Dir(file), nil
}

func listRules(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tSEVERITY\tTARGET\tSOURCE\tHADOLINT\tDESCRIPTION")
	for _, r := range lint.Rules() {
		h := strings.Join(r.Hadolint, ",")
		if h == "" {
			h = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Severity, r.Target, r.Source, h, r.Summary)
	}
	return tw.Flush()
}

// addRunChecks gives run and create --strict; checkRun prints the run-time warnings (an engine
// socket, /, /etc, /proc, /var/run of the host, --privileged) or, with --strict, refuses.
// addBuildCheck gives build --check.
func addBuildCheck(cmd *cobra.Command) {
	cmd.Flags().Bool("check", false, "Run the lint rules on the Dockerfile and build nothing (exit 1 on an error-level finding)")
}

// buildCheck runs the lint rules before a build. With --check it prints every finding and
// reports done: nothing is built, and an error-level finding (or any finding under
// `# check=error=true`) fails. Without it, it prints a summary of BuildKit's checks and of
// error-level findings, as docker build does, and fails only under `# check=error=true`.
// A context from stdin (a tar) is not looked at; a Dockerfile that cannot be read is left
// to the build to report.
func buildCheck(a *app, cmd *cobra.Command, opts builder.Options) (done bool, err error) {
	check, _ := cmd.Flags().GetBool("check")
	src, path := opts.DockerfileContent, "-"
	if src == nil {
		path = opts.Dockerfile
		if path == "" {
			path = filepath.Join(opts.ContextDir, "Dockerfile")
		}
		if src, err = os.ReadFile(path); err != nil {
			return false, nil
		}
	}
	ctxDir := opts.ContextDir
	if opts.ContextTar != nil {
		ctxDir = ""
	}
	wd, _ := os.Getwd()
	cfg, _, err := lint.LoadConfig("", filepath.Dir(path), wd)
	if err != nil {
		return true, errdefs.InvalidArgument(err)
	}
	res, err := lint.CheckDockerfile(src, lint.Options{Path: path, ContextDir: ctxDir, Config: cfg})
	if err != nil {
		return true, errdefs.InvalidArgument(err)
	}
	if check {
		if err := lint.Write(a.stdout, "text", []*lint.Result{res}, Version); err != nil {
			return true, err
		}
		if res.Failed(lint.SeverityError) {
			return true, StatusError{Status: 1, Err: fmt.Errorf("lint: %d findings in %s", len(res.Findings), path)}
		}
		return true, nil
	}
	var shown []lint.Finding
	for _, f := range res.Findings {
		if r, ok := lint.Lookup(f.Rule); ok && (r.Source == lint.SourceBuildKit || f.Severity >= lint.SeverityError) {
			shown = append(shown, f)
		}
	}
	if len(shown) == 0 {
		return false, nil
	}
	fmt.Fprintf(a.stderr, "%d warnings found (hako lint %s shows every rule):\n", len(shown), path)
	for _, f := range shown {
		fmt.Fprintf(a.stderr, " - %s: %s (line %d)\n", f.Rule, f.Message, f.Line)
	}
	if res.ErrorOnFindings {
		return true, StatusError{Status: 1, Err: fmt.Errorf("lint violation found for rules (# check=error=true): build stopped")}
	}
	return false, nil
}
