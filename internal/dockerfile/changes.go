package dockerfile

import (
	"fmt"
	"strings"

	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/image"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// ApplyChanges applies `--change` Dockerfile instructions (CMD, ENTRYPOINT, ENV, USER, WORKDIR,
// EXPOSE, LABEL, VOLUME, STOPSIGNAL, ONBUILD) to an image config, parsing them with BuildKit's
// own Dockerfile parser so that quoting and JSON forms behave as in a Dockerfile. commit and
// import take it as their options' Changes, so that the engine need not link the parser.
func ApplyChanges(c *image.ContainerConfig, changes []string) error {
	for _, ch := range changes {
		if strings.TrimSpace(ch) == "" {
			continue
		}
		res, err := parser.Parse(strings.NewReader(ch))
		if err != nil {
			return errdefs.Invalidf("--change %q: %v", ch, err)
		}
		for _, n := range res.AST.Children {
			cmd, err := instructions.ParseInstruction(n)
			if err != nil {
				return errdefs.Invalidf("--change %q: %v", ch, err)
			}
			if err := applyChange(c, cmd, n.Value); err != nil {
				return errdefs.Invalidf("--change %q: %v", ch, err)
			}
		}
	}
	return nil
}

func shellForm(c *image.ContainerConfig, l instructions.ShellDependantCmdLine) []string {
	if !l.PrependShell {
		return l.CmdLine
	}
	sh := c.Shell
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(append([]string{}, sh...), strings.Join(l.CmdLine, " "))
}

// applyChange applies one parsed instruction; keyword is its name as the parser read it.
func applyChange(c *image.ContainerConfig, cmd any, keyword string) error {
	switch x := cmd.(type) {
	case *instructions.CmdCommand:
		c.Cmd = shellForm(c, x.ShellDependantCmdLine)
	case *instructions.EntrypointCommand:
		c.Entrypoint = shellForm(c, x.ShellDependantCmdLine)
	case *instructions.EnvCommand:
		for _, kv := range x.Env {
			c.Env = image.SetEnv(c.Env, kv.Key, kv.Value)
		}
	case *instructions.UserCommand:
		c.User = x.User
	case *instructions.WorkdirCommand:
		c.WorkingDir = x.Path
	case *instructions.ExposeCommand:
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range x.Ports {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			c.ExposedPorts[p] = struct{}{}
		}
	case *instructions.LabelCommand:
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for _, kv := range x.Labels {
			c.Labels[kv.Key] = kv.Value
		}
	case *instructions.VolumeCommand:
		if c.Volumes == nil {
			c.Volumes = map[string]struct{}{}
		}
		for _, v := range x.Volumes {
			c.Volumes[v] = struct{}{}
		}
	case *instructions.StopSignalCommand:
		c.StopSignal = x.Signal
	case *instructions.OnbuildCommand:
		c.OnBuild = append(c.OnBuild, x.Expression)
	default:
		return fmt.Errorf("%s is not supported here (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)", strings.ToUpper(keyword))
	}
	return nil
}
