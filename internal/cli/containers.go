package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/reference"
	"github.com/hako-dev/hako/internal/spec"
	"github.com/hako-dev/hako/internal/volume"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func addContainerCommands(a *app, root *cobra.Command) {
	ctr := &cobra.Command{Use: "container", Short: "Manage containers"}
	ctr.AddCommand(runCmd(a, false), runCmd(a, true), startCmd(a), stopCmd(a), killCmd(a), rmCmd(a), psCmd(a, "ls"), psCmd(a, "list"), waitCmd(a), logsCmd(a))
	root.AddCommand(ctr, runCmd(a, false), runCmd(a, true), startCmd(a), stopCmd(a), killCmd(a), rmCmd(a), psCmd(a, "ps"), waitCmd(a), logsCmd(a))
	ctr.AddCommand(inspectContainerCmd(a), diffCmd(a), restartCmd(a), pruneContainersCmd(a))
	root.AddCommand(diffCmd(a), restartCmd(a))
	adjustInspectCommands(root)
	addOpsCommands(a, root)
}

// runFlags are `run` and `create`'s flags.
type runFlags struct {
	detach, rm, interactive, tty, privileged, readOnly, init                             bool
	name, user, workdir, hostname, network, memory, stopSignal, entrypoint               string
	entrypointSet                                                                        bool
	env, envFile, labels, capAdd, capDrop, securityOpt, ulimits, volumes, tmpfs, logOpts []string
	mounts, uidmap, gidmap                                                               []string
	userns                                                                               string
	cpus                                                                                 float64
	pidsLimit                                                                            int64
	stopTimeout                                                                          int
}

func (f *runFlags) register(fl *pflag.FlagSet, run bool) {
	if run {
		fl.BoolVarP(&f.detach, "detach", "d", false, "Run container in background and print container ID")
	}
	fl.BoolVar(&f.rm, "rm", false, "Automatically remove the container when it exits")
	fl.BoolVarP(&f.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fl.BoolVarP(&f.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fl.BoolVar(&f.privileged, "privileged", false, "Give extended privileges to this container")
	fl.BoolVar(&f.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fl.StringVar(&f.name, "name", "", "Assign a name to the container")
	fl.StringVarP(&f.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fl.StringVarP(&f.workdir, "workdir", "w", "", "Working directory inside the container")
	fl.StringVarP(&f.hostname, "hostname", "h", "", "Container host name")
	fl.StringVar(&f.network, "network", "none", "Connect a container to a network: none or host")
	fl.StringVarP(&f.memory, "memory", "m", "", "Memory limit")
	fl.Float64Var(&f.cpus, "cpus", 0, "Number of CPUs")
	fl.Int64Var(&f.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fl.StringVar(&f.stopSignal, "stop-signal", "", "Signal to stop the container")
	fl.IntVar(&f.stopTimeout, "stop-timeout", -1, "Timeout (in seconds) to stop a container")
	fl.StringVar(&f.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	stringArrayVarP(fl, &f.env, "env", "e", "Set environment variables")
	stringArrayVar(fl, &f.envFile, "env-file", "Read in a file of environment variables")
	stringArrayVarP(fl, &f.labels, "label", "l", "Set meta data on a container")
	stringArrayVar(fl, &f.capAdd, "cap-add", "Add Linux capabilities")
	stringArrayVar(fl, &f.capDrop, "cap-drop", "Drop Linux capabilities")
	stringArrayVar(fl, &f.securityOpt, "security-opt", "Security Options (no-new-privileges, seccomp=unconfined|FILE)")
	stringArrayVar(fl, &f.ulimits, "ulimit", "Ulimit options (name=soft[:hard])")
	stringArrayVarP(fl, &f.volumes, "volume", "v", "Bind mount a volume ([/host/path|NAME:]/ctr/path[:ro])")
	stringArrayVar(fl, &f.mounts, "mount", "Attach a filesystem mount to the container (type=bind|volume|tmpfs,source=,target=,readonly,...)")
	stringArrayVar(fl, &f.tmpfs, "tmpfs", "Mount a tmpfs directory (path[:options])")
	stringArrayVar(fl, &f.logOpts, "log-opt", "Log driver options (max-size, max-file)")
	fl.BoolVar(&f.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	stringArrayVar(fl, &f.uidmap, "uidmap", "Run the container in a new user namespace with this UID mapping (CONTAINER_ID:HOST_ID:SIZE)")
	stringArrayVar(fl, &f.gidmap, "gidmap", "Run the container in a new user namespace with this GID mapping (CONTAINER_ID:HOST_ID:SIZE)")
	fl.StringVar(&f.userns, "userns", "", "User namespace to use: host (the default; a private one is given with --uidmap and --gidmap)")
	fl.Bool("help", false, "Print usage")
	registerOpsRunFlags(fl)
	fl.SetInterspersed(false)
}

func (f *runFlags) config(cmd *cobra.Command, args []string) (engine.CreateOptions, error) {
	o := engine.CreateOptions{Name: f.name, Image: args[0]}
	c := &o.Config
	c.Cmd = args[1:]
	c.AutoRemove = f.rm
	c.Tty, c.OpenStdin = f.tty, f.interactive
	c.StopSignal = f.stopSignal
	if f.stopTimeout >= 0 {
		t := f.stopTimeout
		c.StopTimeout = &t
	}
	so := &c.Options
	so.Cmd = args[1:]
	so.Hostname, so.User, so.WorkingDir = f.hostname, f.user, f.workdir
	so.Tty, so.OpenStdin = f.tty, f.interactive
	so.Privileged, so.ReadOnly = f.privileged, f.readOnly
	so.CapAdd, so.CapDrop = f.capAdd, f.capDrop
	if cmd.Flags().Changed("entrypoint") {
		ep := []string{}
		if f.entrypoint != "" {
			ep = []string{f.entrypoint}
		}
		so.Entrypoint = &ep
	}
	switch f.network {
	case "none", "host":
		so.NetworkMode = f.network
	case "", "default", "bridge":
		so.NetworkMode = "none"
	default:
		return o, errdefs.Invalidf("--network %s: only none and host are supported yet", f.network)
	}
	for _, ef := range f.envFile {
		lines, err := readEnvFile(ef)
		if err != nil {
			return o, err
		}
		so.Env = append(so.Env, lines...)
	}
	for _, e := range f.env {
		if !strings.Contains(e, "=") {
			if v, ok := os.LookupEnv(e); ok {
				e += "=" + v
			} else {
				continue
			}
		}
		so.Env = append(so.Env, e)
	}
	if len(f.labels) > 0 {
		c.Labels = map[string]string{}
		for _, l := range f.labels {
			k, v, _ := strings.Cut(l, "=")
			c.Labels[k] = v
		}
	}
	if f.memory != "" {
		n, err := parseMemory(f.memory)
		if err != nil {
			return o, err
		}
		so.Memory = n
	}
	if f.cpus < 0 || math.IsNaN(f.cpus) {
		return o, errdefs.Invalidf("invalid --cpus %v: must be positive", f.cpus)
	}
	so.NanoCPUs = int64(f.cpus * 1e9)
	so.PidsLimit = f.pidsLimit
	for _, s := range f.securityOpt {
		switch {
		case s == "no-new-privileges" || s == "no-new-privileges:true" || s == "no-new-privileges=true":
			so.NoNewPrivileges = true
		case strings.HasPrefix(s, "seccomp=") || strings.HasPrefix(s, "seccomp:"):
			so.Seccomp = s[len("seccomp="):]
		default:
			return o, errdefs.Invalidf("invalid --security-opt %q (no-new-privileges, seccomp=unconfined|FILE)", s)
		}
	}
	for _, u := range f.ulimits {
		ul, err := units.ParseUlimit(u)
		if err != nil {
			return o, errdefs.Invalidf("invalid --ulimit %q: %v", u, err)
		}
		so.Ulimits = append(so.Ulimits, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(ul.Name), Soft: uint64(ul.Soft), Hard: uint64(ul.Hard)})
	}
	for _, v := range f.volumes {
		m, err := volume.ParseVolumeFlag(v)
		if err != nil {
			return o, err
		}
		c.Mounts = append(c.Mounts, m)
	}
	for _, v := range f.mounts {
		m, err := volume.ParseMountFlag(v)
		if err != nil {
			return o, err
		}
		c.Mounts = append(c.Mounts, m)
	}
	for _, t := range f.tmpfs {
		dst, opt, _ := strings.Cut(t, ":")
		if !filepath.IsAbs(dst) {
			return o, errdefs.Invalidf("invalid --tmpfs %q: the path must be absolute", t)
		}
		opts := []string{"nosuid", "nodev", "noexec"}
		if opt != "" {
			opts = append(opts, strings.Split(opt, ",")...)
		}
		so.Mounts = append(so.Mounts, specs.Mount{Destination: filepath.Clean(dst), Type: "tmpfs", Source: "tmpfs", Options: opts})
	}
	if len(f.logOpts) > 0 {
		c.LogOptions = map[string]string{}
		for _, l := range f.logOpts {
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				return o, errdefs.Invalidf("invalid --log-opt %q: want key=value", l)
			}
			c.LogOptions[k] = v
		}
	}
	if f.init {
		so.Init = true
	}
	if err := f.userNS(&o.Config); err != nil {
		return o, err
	}
	if err := opsRunConfig(cmd.Flags(), &o.Config); err != nil {
		return o, err
	}
	return o, nil
}

// userNS reads --userns, --uidmap and --gidmap. As podman's, one of --uidmap and --gidmap
// given alone serves for both.
func (f *runFlags) userNS(c *container.Config) error {
	switch f.userns {
	case "":
	case "host":
		if len(f.uidmap) > 0 || len(f.gidmap) > 0 {
			return errdefs.Invalidf("conflicting options: --userns=host and --uidmap/--gidmap")
		}
		c.UsernsMode = "host"
		return nil
	default:
		return errdefs.Invalidf("invalid --userns %q: only host is supported (a private user namespace is given with --uidmap and --gidmap)", f.userns)
	}
	if len(f.uidmap) == 0 && len(f.gidmap) == 0 {
		return nil
	}
	parse := func(flag string, vals []string) ([]specs.LinuxIDMapping, error) {
		var out []specs.LinuxIDMapping
		for _, v := range vals {
			m, err := spec.ParseIDMapping(flag, v)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
		return out, nil
	}
	uids, err := parse("--uidmap", f.uidmap)
	if err != nil {
		return err
	}
	gids, err := parse("--gidmap", f.gidmap)
	if err != nil {
		return err
	}
	if len(uids) == 0 {
		uids = gids
	}
	if len(gids) == 0 {
		gids = uids
	}
	if err := spec.CheckIDMappings("--uidmap", uids); err != nil {
		return err
	}
	if err := spec.CheckIDMappings("--gidmap", gids); err != nil {
		return err
	}
	so := &c.Options
	so.UserNS, so.UIDMappings, so.GIDMappings = true, uids, gids
	return nil
}

func readEnvFile(p string) ([]string, error) {
	fh, err := os.Open(p)
	if err != nil {
		return nil, errdefs.Invalidf("--env-file %s: %v", p, unwrapPath(err))
	}
	defer fh.Close()
	var out []string
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !strings.Contains(l, "=") {
			if v, ok := os.LookupEnv(l); ok {
				l += "=" + v
			} else {
				continue
			}
		}
		if strings.HasPrefix(l, "=") {
			return nil, errdefs.Invalidf("--env-file %s:%d: variable name is empty", p, n)
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

func runCmd(a *app, create bool) *cobra.Command {
	f := &runFlags{}
	use := "run [OPTIONS] IMAGE [COMMAND] [ARG...]"
	short := "Create and run a new container from an image"
	if create {
		use = "create [OPTIONS] IMAGE [COMMAND] [ARG...]"
		short = "Create a new container"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			e.WarmCreate()
			o, err := f.config(cmd, args)
			if err != nil {
				return err
			}
			if err := checkRun(a, cmd, o); err != nil {
				return err
			}
			// A ^C from here on cancels the create, which undoes itself (Process).
			<-interruptible
			if create {
				c, err := e.Create(cmd.Context(), o)
				if err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, c.ID)
				return nil
			}
			var at *engine.Attach
			raw, detach := func() error { return nil }, func() {}
			if !f.detach {
				if at, raw, detach, err = attachStdio(a, f.interactive, f.tty); err != nil {
					return err
				}
			}
			// The monitor first: its start-up runs while the container is created. Or this
			// process itself, forked before Go started (runfork.c), whose parent waits for the
			// run's code: it stays as the container's monitor once the run's part is done.
			var m *engine.PendingMonitor
			if parent := forkParent(); parent != nil && !f.interactive && !f.tty {
				closeInherited()
				if m, err = e.InProcessMonitor(at); err != nil {
					parent.Close()
					detach()
					return err
				}
				a.handOver = &handOver{parent: parent, monitor: m}
				if !f.detach { // a detached run's code is 0, once its ID is printed
					m.OnExit(a.handOver.giveUp)
				}
			} else if m, err = e.SpawnMonitor(at); err != nil {
				detach()
				return err
			}
			c, err := e.Create(cmd.Context(), o)
			if err != nil {
				m.Abort()
				detach()
				return err
			}
			// A --rm container whose monitor died before taking it: nobody else removes it.
			removeOrphan := func(err error) error {
				if o.Config.AutoRemove && errors.Is(err, engine.ErrMonitorGone) {
					e.RemoveContainer(context.Background(), c.ID, true, true)
				}
				return err
			}
			if f.detach {
				if _, err := m.Start(cmd.Context(), c.ID); err != nil {
					return removeOrphan(err)
				}
				fmt.Fprintln(a.stdout, c.ID)
				return nil
			}
			// Catch signals before the container starts: one that arrives while it starts is
			// delivered as soon as it runs.
			stopProxy := func() {}
			if !f.tty {
				stopProxy = proxySignals(e, c.ID)
			}
			if err := raw(); err != nil {
				m.Abort()
				stopProxy()
				detach()
				if o.Config.AutoRemove {
					e.RemoveContainer(context.Background(), c.ID, true, true)
				}
				return err
			}
			exit, err := m.Start(cmd.Context(), c.ID)
			if err != nil {
				stopProxy()
				detach()
				return removeOrphan(err)
			}
			code := <-exit
			stopProxy()
			detach()
			if code != 0 {
				return StatusError{Status: code}
			}
			return nil
		},
	}
	f.register(cmd.Flags(), !create)
	addRunChecks(cmd)
	return cmd
}

func fileOf(v any) *os.File {
	f, _ := v.(*os.File)
	return f
}

func startCmd(a *app) *cobra.Command {
	var attach, interactive bool
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			if attach || interactive {
				if len(args) != 1 {
					return errdefs.Invalidf("you cannot start and attach multiple containers at once")
				}
				c, err := e.Containers().Get(args[0])
				if err != nil {
					return err
				}
				at, raw, detach, err := attachStdio(a, interactive, c.Config.Tty)
				if err != nil {
					return err
				}
				if err := raw(); err != nil {
					detach()
					return err
				}
				exit, err := e.Start(cmd.Context(), args[0], at)
				if err != nil {
					detach()
					return err
				}
				code := <-exit
				detach()
				if code != 0 {
					return StatusError{Status: code}
				}
				return nil
			}
			var errs []string
			for _, ref := range args {
				if _, err := e.Start(cmd.Context(), ref, nil); err != nil {
					errs = append(errs, err.Error())
					continue
				}
				fmt.Fprintln(a.stdout, ref)
			}
			if len(errs) > 0 {
				return fmt.Errorf("%s", strings.Join(errs, "; "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	return cmd
}

// eachContainer runs fn for every argument, printing the argument on success like Docker.
func eachContainer(a *app, args []string, fn func(ref string) error) error {
	var errs []string
	for _, ref := range args {
		if err := fn(ref); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		fmt.Fprintln(a.stdout, ref)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func stopCmd(a *app) *cobra.Command {
	var timeout int
	var signal string
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
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
			return eachContainer(a, args, func(ref string) error { return e.StopWithSignal(cmd.Context(), ref, t, signal) })
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "Seconds to wait before killing the container")
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	return cmd
}

func killCmd(a *app) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return eachContainer(a, args, func(ref string) error { return e.Kill(cmd.Context(), ref, signal) })
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "Signal to send to the container")
	return cmd
}

func rmCmd(a *app) *cobra.Command {
	var force, volumes bool
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return eachContainer(a, args, func(ref string) error {
				_, err := e.RemoveContainer(cmd.Context(), ref, force, volumes)
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	return cmd
}

func waitCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			for _, ref := range args {
				code, err := e.Wait(cmd.Context(), ref, 0)
				if err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, code)
			}
			return nil
		},
	}
}

type psRow struct {
	ID, Image, Command, CreatedAt, RunningFor, Ports, State, Status, Size, Names, Labels, Mounts, Networks string
}

var psHeaders = headerRow{"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT", "RunningFor": "CREATED",
	"Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS"}

func psCmd(a *app, use string) *cobra.Command {
	var all, quiet, latest, size, noTrunc bool
	var last int
	var filters []string
	var format string
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS]",
		Short: "List containers",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			list, err := e.Containers().List()
			if err != nil {
				return err
			}
			match, err := psFilter(filters)
			if err != nil {
				return err
			}
			if latest {
				last = 1
			}
			var rows []any
			n := 0
			qw := bufio.NewWriter(a.stdout) // one write for a thousand IDs, not a thousand
			defer qw.Flush()
			for _, c := range list {
				if last > 0 && n >= last {
					break
				}
				if !all && last <= 0 && !c.State.Running && len(filters) == 0 {
					continue
				}
				if !match(c) {
					continue
				}
				n++ // -n counts the containers shown, after the filters, as Docker's
				id := c.ID
				if !noTrunc {
					id = reference.ShortID(id)
				}
				if quiet {
					fmt.Fprintln(qw, id)
					continue
				}
				command := strings.Join(append([]string{c.Path}, c.Args...), " ")
				if c.Path == "" {
					command = strings.Join(c.Config.Cmd, " ")
				}
				if !noTrunc {
					command = ellipsis(command, 20)
				}
				var labels []string
				for k, v := range c.Config.Labels {
					labels = append(labels, k+"="+v)
				}
				rows = append(rows, psRow{ID: id, Image: c.Config.Image, Command: strconv.Quote(command), CreatedAt: c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
					RunningFor: since(c.Created), State: c.State.Status, Status: c.StatusLine(units.HumanDuration), Names: c.Name, Labels: strings.Join(labels, ","), Size: psSize(cmd.Context(), e, c, size || strings.Contains(format, ".Size"))})
			}
			if quiet {
				return qw.Flush()
			}
			def := "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
			if size {
				def += "\t{{.Size}}"
			}
			return table{w: a.stdout, format: format, defaults: def, headers: psHeaders}.write(rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only display container IDs")
	fl.BoolVarP(&latest, "latest", "l", false, "Show the latest created container (includes all states)")
	fl.IntVarP(&last, "last", "n", -1, "Show n last created containers (includes all states)")
	fl.BoolVarP(&size, "size", "s", false, "Display total file sizes")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	stringArrayVarP(fl, &filters, "filter", "f", "Filter output based on conditions provided (status, name, id, ancestor, label, exited)")
	fl.StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}

func psFilter(filters []string) (func(*container.Container) bool, error) {
	type cond struct{ k, v string }
	var conds []cond
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, errdefs.Invalidf("bad format of filter %q (expected name=value)", f)
		}
		switch k {
		case "status", "name", "id", "ancestor", "label", "exited":
		default:
			return nil, errdefs.Invalidf("invalid filter %q (status, name, id, ancestor, label, exited)", k)
		}
		conds = append(conds, cond{k, v})
	}
	return func(c *container.Container) bool {
		byKey := map[string]bool{}
		hit := map[string]bool{}
		for _, cd := range conds {
			byKey[cd.k] = true
			ok := false
			switch cd.k {
			case "status":
				ok = c.State.Status == cd.v
			case "name":
				ok = strings.Contains(c.Name, cd.v)
			case "id":
				ok = strings.HasPrefix(c.ID, cd.v)
			case "ancestor":
				ok = c.Config.Image == cd.v || strings.HasPrefix(c.Config.ImageID.Encoded(), strings.TrimPrefix(cd.v, "sha256:"))
				if n, err := reference.ParseDefaultTag(cd.v); err == nil {
					if m, err := reference.ParseDefaultTag(c.Config.Image); err == nil && m == n {
						ok = true
					}
				}
			case "label":
				k, v, hasV := strings.Cut(cd.v, "=")
				got, has := c.Config.Labels[k]
				ok = has && (!hasV || got == v)
			case "exited":
				ok = c.State.Status == container.Exited && strconv.Itoa(c.State.ExitCode) == cd.v
			}
			if ok {
				hit[cd.k] = true
			}
		}
		for k := range byKey {
			if !hit[k] {
				return false
			}
		}
		return true
	}, nil
}

// minMemory is Docker's smallest --memory: below it, the container's own start (hako's, runc's)
// is killed by the OOM killer before the command runs, with nothing to say why.
const minMemory = 6 << 20

// parseMemory reads a --memory value ("512m", "1g", bytes) as Docker does, with its minimum.
func parseMemory(v string) (int64, error) {
	n, err := units.RAMInBytes(v)
	if err != nil || n <= 0 {
		return 0, errdefs.Invalidf("invalid --memory %q: a positive size is required, such as 512m or 1g", v)
	}
	if n < minMemory {
		return 0, errdefs.Invalidf("invalid --memory %q: Minimum memory limit allowed is 6MB", v)
	}
	return n, nil
}
