package cli

import (
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/stdiofile"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func execCmd(a *app) *cobra.Command {
	var o engine.ExecOptions
	var interactive, tty, detach bool
	var env, envFile []string
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			o.Cmd = args[1:]
			o.Tty = tty
			for _, ef := range envFile {
				lines, err := readEnvFile(ef)
				if err != nil {
					return err
				}
				o.Env = append(o.Env, lines...)
			}
			for _, kv := range env {
				if !strings.Contains(kv, "=") {
					v, ok := os.LookupEnv(kv)
					if !ok {
						continue
					}
					kv += "=" + v
				}
				o.Env = append(o.Env, kv)
			}
			var restore func()
			if !detach {
				// Plain readers and writers, never our descriptors: the runtime then gives the
				// process pipes, so a terminal of the host (TIOCSTI) never reaches the container.
				o.Stdout, o.Stderr = stdiofile.Writer(a.stdout), stdiofile.Writer(a.stderr)
				if interactive {
					o.Stdin = struct{ io.Reader }{a.stdin}
				}
				if in := fileOf(a.stdin); tty && in != nil && isTerminal(in) {
					if out := fileOf(a.stdout); out != nil {
						if w, h, err := term.GetSize(int(out.Fd())); err == nil {
							o.ConsoleWidth, o.ConsoleHeight = uint16(w), uint16(h)
						}
					}
					if interactive {
						if st, err := term.MakeRaw(int(in.Fd())); err == nil {
							restore = func() { term.Restore(int(in.Fd()), st) }
						}
					}
				}
			}
			p, err := e.Exec(cmd.Context(), args[0], o)
			if err != nil {
				if restore != nil {
					restore()
				}
				return err
			}
			if detach {
				return nil
			}
			if restore != nil {
				defer restore()
				winch := make(chan os.Signal, 1)
				signal.Notify(winch, syscall.SIGWINCH)
				defer signal.Stop(winch)
				go func() {
					for range winch {
						if w, h, err := term.GetSize(int(fileOf(a.stdout).Fd())); err == nil {
							p.Resize(uint16(w), uint16(h))
						}
					}
				}()
			}
			code, err := p.Wait()
			engine.Phase("exec: process exited")
			if err != nil {
				return err
			}
			if code != 0 {
				return StatusError{Status: code}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&detach, "detach", "d", false, "Detached mode: run command in the background")
	fl.BoolVarP(&interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fl.BoolVarP(&tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fl.StringVarP(&o.User, "user", "u", "", "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
	fl.StringVarP(&o.WorkingDir, "workdir", "w", "", "Working directory inside the container")
	stringArrayVarP(fl, &env, "env", "e", "Set environment variables")
	stringArrayVar(fl, &envFile, "env-file", "Read in a file of environment variables")
	fl.BoolVar(&o.Privileged, "privileged", false, "Give extended privileges to the command")
	fl.SetInterspersed(false)
	return cmd
}
