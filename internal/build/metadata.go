package build

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/hako-dev/hako/internal/image"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// metaStep prepares the instructions that change only the image config: ENV, LABEL, USER,
// WORKDIR, EXPOSE, VOLUME, STOPSIGNAL, HEALTHCHECK, ONBUILD, SHELL, ENTRYPOINT, CMD, ARG and
// MAINTAINER. Their history lines follow BuildKit's.
func (s *Stage) metaStep(st *Step, c instructions.Command) error {
	st.Kind = KindMeta
	cfg := cloneConfig(s.Config).Config
	switch x := c.(type) {
	case *instructions.EnvCommand:
		var parts []string
		for _, kv := range x.Env {
			cfg.Env = image.SetEnv(cfg.Env, kv.Key, kv.Value)
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		st.CreatedBy = "ENV " + strings.Join(parts, " ")
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		var parts []string
		for _, kv := range x.Labels {
			cfg.Labels[kv.Key] = kv.Value
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		st.CreatedBy = "LABEL " + strings.Join(parts, " ")
	case *instructions.MaintainerCommand:
		cfg.Labels = cloneMap(cfg.Labels)
		st.CreatedBy = "MAINTAINER " + x.Maintainer
	case *instructions.UserCommand:
		cfg.User = x.User
		st.CreatedBy = "USER " + x.User
	case *instructions.WorkdirCommand:
		wd := x.Path
		if !path.IsAbs(wd) {
			base := cfg.WorkingDir
			if base == "" {
				base = "/"
			}
			wd = path.Join(base, wd)
		}
		cfg.WorkingDir = path.Clean(wd)
		st.CreatedBy = "WORKDIR " + cfg.WorkingDir
	case *instructions.ExposeCommand:
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		var ports []string
		for _, p := range x.Ports {
			for _, one := range strings.Fields(p) {
				if !strings.Contains(one, "/") {
					one += "/tcp"
				}
				cfg.ExposedPorts[one] = struct{}{}
				ports = append(ports, one)
			}
		}
		sort.Strings(ports)
		st.CreatedBy = "EXPOSE " + strings.Join(ports, " ")
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range x.Volumes {
			if strings.TrimSpace(v) == "" {
				return fmt.Errorf("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
		st.CreatedBy = fmt.Sprintf("VOLUME %v", x.Volumes)
	case *instructions.StopSignalCommand:
		cfg.StopSignal = x.Signal
		st.CreatedBy = "STOPSIGNAL " + x.Signal
	case *instructions.HealthCheckCommand:
		h := x.Health
		cfg.Healthcheck = &image.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
		st.CreatedBy = oneLine(x.String())
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, x.Expression)
		st.CreatedBy = "ONBUILD " + x.Expression
	case *instructions.ShellCommand:
		cfg.Shell = append([]string{}, x.Shell...)
		st.CreatedBy = fmt.Sprintf("SHELL %v", x.Shell)
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = s.withShell(x.ShellDependantCmdLine)
		if !x.PrependShell && len(x.CmdLine) == 0 {
			cfg.Entrypoint = nil
		}
		// ENTRYPOINT drops the CMD inherited from the base image, as Docker does.
		cfg.Cmd = nil
		st.CreatedBy = "ENTRYPOINT " + quoteList(cfg.Entrypoint)
	case *instructions.CmdCommand:
		cfg.Cmd = s.withShell(x.ShellDependantCmdLine)
		st.CreatedBy = "CMD " + quoteList(cfg.Cmd)
	case *instructions.ArgCommand:
		var parts []string
		for _, kv := range x.Args {
			v, ok := s.argValue(kv)
			if ok {
				s.args.set(kv.Key, v)
				parts = append(parts, kv.Key+"="+v)
			} else {
				delete(s.args.m, kv.Key)
				parts = append(parts, kv.Key)
			}
		}
		st.CreatedBy = "ARG " + strings.Join(parts, " ")
	default:
		return fmt.Errorf("%s is not supported by hako", strings.ToUpper(c.Name()))
	}
	st.Meta = &cfg
	st.KeyText = st.CreatedBy
	return nil
}

// argValue is an ARG's value in a stage: --build-arg, else its default, else the global ARG of
// that name, else the predefined value; ok is false for a declared but unset ARG.
func (s *Stage) argValue(kv instructions.KeyValuePairOptional) (string, bool) {
	if v, ok := s.Plan.BuildArgs[kv.Key]; ok {
		return v, true
	}
	if kv.Value != nil {
		return *kv.Value, true // already expanded by Expand
	}
	if v, ok := s.Plan.global.Get(kv.Key); ok {
		return v, true
	}
	if v, ok := PredefinedArgs(s.Plan.Platform)[kv.Key]; ok {
		return v, true
	}
	return "", false
}

// withShell turns a shell-form command line into SHELL + the line; exec form is kept.
func (s *Stage) withShell(l instructions.ShellDependantCmdLine) []string {
	if !l.PrependShell {
		return append([]string{}, l.CmdLine...)
	}
	return append(s.shell(), strings.Join(l.CmdLine, " "))
}

func (s *Stage) shell() []string {
	if len(s.Config.Config.Shell) > 0 {
		return append([]string{}, s.Config.Config.Shell...)
	}
	return []string{"/bin/sh", "-c"}
}
