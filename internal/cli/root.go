package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// Version is set at build time with -ldflags "-X github.com/hako-dev/hako/internal/cli.Version=…".
var Version = "0.1.0-dev"

// StatusError carries the exit code a command wants (a container's own, 125, 126, 127).
type StatusError struct {
	Status int
	Err    error // nil when the status alone says it all (a container exited non-zero)
}

func (e StatusError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Status)
	}
	return e.Err.Error()
}
func (e StatusError) Unwrap() error { return e.Err }

// app is what every command shares: the global flags and the lazily opened engine.
type app struct {
	root        string
	snapshotter string
	debug       bool
	eng         *engine.Engine
	stdin       io.Reader
	stdout      io.Writer
	stderr      io.Writer
	// handOver: this process stays as the monitor of the container it ran (runfork.go).
	handOver *handOver
}

func (a *app) engine() (*engine.Engine, error) {
	if a.eng != nil {
		return a.eng, nil
	}
	e, err := engine.New(engine.Config{Root: a.root, Snapshotter: a.snapshotter})
	if err != nil {
		return nil, err
	}
	a.eng = e
	return e, nil
}

// Process runs the hako command line of this process (os.Args) as cmd/hako's main does, and
// returns its exit code: hako's, and the lean hako-monitor's for the child of a forked run.
func Process() int {
	// Descriptors inherited from whoever ran hako (a CI job's pipe, a shell's redirection)
	// must not reach the processes it starts, the long-lived monitors above all: a pipe held
	// open by a detached container's monitor would keep that job waiting for ever.
	unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	ctx, stop := notifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// interruptible is closed once SIGINT and SIGTERM cancel the command's context (Process's;
// closed already for a Main called otherwise).
var interruptible = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// notifyContext is signal.NotifyContext, but with the signals caught from another goroutine:
// the first signal.Notify of a process waits for the runtime's signal thread (~0.25 ms of every
// command's start here, 0.4 to 2 ms when the cores are busy), while the command parses its
// flags and opens the store meanwhile. Until interruptible is closed, such a signal ends the
// command as it ends any program in its first moments; what must not start without it waits
// for it (run and create, before the container is created).
func notifyContext(parent context.Context, sigs ...os.Signal) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 1)
	ready := make(chan struct{})
	interruptible = ready
	go func() {
		signal.Notify(ch, sigs...)
		close(ready)
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		cancel()
		signal.Stop(ch)
	}
}

// Main runs the hako command line with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if verb(args) == "__monitor" {
		// hako's own monitor, when hako-monitor is not next to it: no command tree at all
		// (MonitorMain checks the command line's exact shape).
		return engine.MonitorMain(args, stderr)
	}
	engine.Phase("cli: main")
	defer engine.Phase("cli: return")
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	var root *cobra.Command
	if mk := hotCommands[verb(args)]; mk != nil {
		// run and exec are what a container workload calls over and over: they get a root
		// with their own command only (its help and errors are the same), not the 60-odd
		// commands of the tree, whose flags cost 2-10 ms of each call to build.
		root = newBareRoot(a)
		root.AddCommand(mk(a))
		// Nor cobra's `completion` command (~0.1 ms of CPU to build, on the start's path):
		// not reachable here, the verb being run or exec.
		root.CompletionOptions.DisableDefaultCmd = true
	} else {
		root = newRoot(a)
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	code := exitCode(a, root.ExecuteContext(ctx), stderr)
	if a.handOver != nil {
		a.handOver.finish(code) // returns when the container's monitor, in this process, ends
	}
	if a.eng != nil {
		a.eng.Close()
	}
	return code
}

// exitCode prints err as the command's error, if it is one, and returns the exit code.
func exitCode(a *app, err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var se StatusError
	if errors.As(err, &se) {
		if se.Err != nil {
			fmt.Fprintln(stderr, "Error:", oneLine(se.Err))
		}
		return se.Status
	}
	fmt.Fprintln(stderr, "Error:", oneLine(err))
	if a.debug {
		fmt.Fprintf(stderr, "DEBU error chain: %#v\n", err)
	}
	switch {
	case errors.Is(err, errdefs.ErrCommandNotFound):
		return 127
	case errors.Is(err, errdefs.ErrCannotExecute):
		return 126
	}
	return 125
}

func oneLine(err error) string { return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ") }

// hotCommands are the top-level commands that run without the rest of the tree.
var hotCommands = map[string]func(*app) *cobra.Command{
	"run":  func(a *app) *cobra.Command { return runCmd(a, false) },
	"exec": execCmd,
}

// verb is the first word of args after the global flags, or "" when args hold anything else
// before it (then the whole tree is built, which parses everything).
func verb(args []string) string {
	for i := 0; i < len(args); i++ {
		switch arg := args[i]; {
		case arg == "--root" || arg == "--snapshotter":
			i++
		case strings.HasPrefix(arg, "--root=") || strings.HasPrefix(arg, "--snapshotter=") || arg == "-D" || arg == "--debug":
		case strings.HasPrefix(arg, "-"):
			return ""
		default:
			return arg
		}
	}
	return ""
}

// newBareRoot is the root command with its global flags and no subcommand.
func newBareRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "hako [OPTIONS] COMMAND",
		Short:         "A daemonless container engine: build, store and run OCI images the Docker way",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			// libcontainer logs through logrus: quiet by default, everything with --debug
			// (HAKO_DEBUG carries it to the monitors this command starts).
			debug := a.debug || os.Getenv("HAKO_DEBUG") != ""
			engine.SetupLogging(a.stderr, debug)
			if debug {
				os.Setenv("HAKO_DEBUG", "1")
				logrus.Debugf("hako %s: root %s, snapshotter %q", Version, a.root, a.snapshotter)
			}
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return StatusError{Status: 125, Err: fmt.Errorf("%w\nSee '%s --help'", err, c.CommandPath())}
	})
	def := os.Getenv("HAKO_ROOT")
	if def == "" {
		def = "/var/lib/hako"
	}
	root.PersistentFlags().StringVar(&a.root, "root", def, "Root directory of the store (env HAKO_ROOT)")
	root.PersistentFlags().StringVar(&a.snapshotter, "snapshotter", os.Getenv("HAKO_SNAPSHOTTER"), "Snapshotter: overlay or native (default: overlay where the filesystem supports it; env HAKO_SNAPSHOTTER)")
	root.PersistentFlags().BoolVarP(&a.debug, "debug", "D", false, "Print debug information")
	root.SetVersionTemplate("hako version {{.Version}}\n")
	return root
}

func versionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show the hako version information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(a.stdout, "hako version %s\n", Version)
			return nil
		},
	}
}

// exactArgs, minArgs: Docker's wording for argument count errors, exit 125.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return StatusError{Status: 125, Err: fmt.Errorf("%q requires exactly %d argument(s).\nSee '%s --help'", cmd.CommandPath(), n, cmd.CommandPath())}
		}
		return nil
	}
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return StatusError{Status: 125, Err: fmt.Errorf("%q requires at least %d argument(s).\nSee '%s --help'", cmd.CommandPath(), n, cmd.CommandPath())}
		}
		return nil
	}
}

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return StatusError{Status: 125, Err: fmt.Errorf("%q requires at least %d and at most %d arguments.\nSee '%s --help'", cmd.CommandPath(), lo, hi, cmd.CommandPath())}
		}
		return nil
	}
}
