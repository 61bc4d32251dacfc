package build

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/hako-dev/hako/internal/dockerfile"
	"github.com/hako-dev/hako/internal/image"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultPathEnv is the PATH BuildKit gives an image built FROM scratch.
const DefaultPathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Kind says how a step is carried out.
type Kind int

const (
	// KindMeta steps change only the image config: no layer.
	KindMeta Kind = iota
	// KindRun steps run a command in a container on the parent's filesystem.
	KindRun
	// KindCopy steps (COPY, ADD) copy files into the parent's filesystem.
	KindCopy
)

// Stage is the state of one stage while it builds: the image config so far, the ARGs in
// scope, and where in the stage the build is.
type Stage struct {
	Plan   *Plan
	SP     *StagePlan
	Config image.Config
	// Commands are the stage's instructions, preceded by the base image's ONBUILD triggers.
	Commands []instructions.Command

	args *kvEnv // ARGs declared in this stage, with their values; unset ones absent
	lex  *shell.Lex
	pos  int
}

// NewStage starts a stage on its base's config (the zero Config for scratch). The base's
// ONBUILD triggers run first, then are dropped from the config, as Docker does.
func (p *Plan) NewStage(sp *StagePlan, base image.Config, scratch bool) (*Stage, error) {
	cfg := cloneConfig(base)
	if scratch {
		cfg = image.Config{}
		cfg.Config.Env = []string{DefaultPathEnv}
	}
	cfg.Platform = ocispec.Platform{OS: p.Platform.OS, Architecture: p.Platform.Architecture, Variant: p.Platform.Variant}
	s := &Stage{Plan: p, SP: sp, Config: cfg, args: newEnv(), lex: shell.NewLex(p.File.Escape)}
	if len(cfg.Config.OnBuild) > 0 {
		trig, err := dockerfile.ParseTriggers(sp.Base, cfg.Config.OnBuild, p.File.Escape)
		if err != nil {
			return nil, stageErr(p.File, sp.Stage, err)
		}
		s.Commands = append(s.Commands, trig...)
		s.Config.Config.OnBuild = nil
	}
	s.Commands = append(s.Commands, sp.Commands...)
	return s, nil
}

// Total is the number of steps, FROM included, as progress shows "[2/5]".
func (s *Stage) Total() int { return len(s.Commands) + 1 }

// Step is one instruction, expanded, ready to be looked up in the cache and carried out.
type Step struct {
	Kind Kind
	// Pos is the step's place in its stage, 2 for the first instruction after FROM.
	Pos  int
	Line int
	// Display is the instruction as written, on one line, for progress output.
	Display string
	// CreatedBy is the image history line.
	CreatedBy string
	// KeyText is the expanded instruction as the cache key sees it.
	KeyText string
	// Args are the build args the step uses ("K=V", sorted), part of its cache key.
	Args []string
	Cmd  instructions.Command

	// Meta is the config after a metadata step (no history or time yet).
	Meta *image.ContainerConfig
	Run  *RunSpec
	Copy *CopySpec
}

// Next expands the stage's next instruction into a Step; nil when the stage is done.
func (s *Stage) Next() (*Step, error) {
	if s.pos >= len(s.Commands) {
		return nil, nil
	}
	c := s.Commands[s.pos]
	s.pos++
	st := &Step{Pos: s.pos + 1, Line: dockerfile.Line(c), Cmd: c, Display: oneLine(dockerfile.String(c))}
	if err := s.expand(c); err != nil {
		return nil, lineErr(s.Plan.File, c, err)
	}
	var err error
	switch x := c.(type) {
	case *instructions.RunCommand:
		err = s.runStep(st, x)
	case *instructions.CopyCommand:
		err = s.copyStep(st, x)
	case *instructions.AddCommand:
		err = s.addStep(st, x)
	default:
		err = s.metaStep(st, c)
	}
	if err != nil {
		return nil, lineErr(s.Plan.File, c, err)
	}
	return st, nil
}

// env is what words expand against: the stage's ARGs, overridden by the config's ENV.
func (s *Stage) env() *kvEnv {
	e := newEnv()
	for _, k := range s.args.keys {
		if v, ok := s.args.m[k]; ok {
			e.set(k, v)
		}
	}
	for _, kv := range s.Config.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		e.set(k, v)
	}
	return e
}

func (s *Stage) word(w string) (string, error) {
	out, _, err := s.lex.ProcessWord(w, s.env())
	return out, err
}

// expand applies ARG and ENV values to the instruction's words, as BuildKit does before it
// dispatches an instruction. RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK and ONBUILD are left to
// the shell or to the child build.
func (s *Stage) expand(c instructions.Command) error {
	if r, ok := c.(*instructions.RunCommand); ok {
		return r.Expand(s.word) // only the --mount values: the command is the shell's
	}
	if ex, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		if err := ex.Expand(s.word); err != nil {
			return err
		}
	}
	if ex, ok := c.(instructions.SupportsSingleWordExpansionRaw); ok {
		raw := shell.NewLex(s.Plan.File.Escape)
		raw.SkipProcessQuotes = true
		raw.SkipUnsetEnv = true
		env := s.env()
		err := ex.ExpandRaw(func(w string) (string, error) {
			out, _, err := raw.ProcessWord(w, env)
			return out, err
		})
		if err != nil {
			return err
		}
	}
	if x, ok := c.(*instructions.ExposeCommand); ok {
		for i, p := range x.Ports {
			v, err := s.word(p)
			if err != nil {
				return err
			}
			x.Ports[i] = v
		}
	}
	return nil
}

// Advance moves the stage past a step whose image is cfg: the one just built, or the cached one.
func (s *Stage) Advance(cfg image.Config) { s.Config = cfg }

// Result is the config of the image after step: the parent's config with the step's changes, a
// history line and, when the step made one, a layer.
func (s *Stage) Result(st *Step, diffID *digest.Digest, now time.Time) image.Config {
	cfg := cloneConfig(s.Config)
	if st.Meta != nil {
		cfg.Config = *st.Meta
	}
	cfg.Created = &now
	h := ocispec.History{Created: &now, CreatedBy: st.CreatedBy, EmptyLayer: diffID == nil}
	if diffID != nil {
		cfg.RootFS.Type = "layers"
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, *diffID)
		h.Comment = "buildkit.dockerfile.v0"
	} else {
		h.Comment = "buildkit.dockerfile.v0"
	}
	cfg.History = append(cfg.History, h)
	if cfg.RootFS.Type == "" {
		cfg.RootFS.Type = "layers"
	}
	return cfg
}

// workdir resolves p against the stage's WORKDIR.
func (s *Stage) workdir(p string) string {
	if path.IsAbs(p) {
		return p
	}
	wd := s.Config.Config.WorkingDir
	if wd == "" {
		wd = "/"
	}
	keepSlash := strings.HasSuffix(p, "/") || p == "." || strings.HasSuffix(p, "/.")
	out := path.Join(wd, p)
	if keepSlash && !strings.HasSuffix(out, "/") {
		out += "/"
	}
	return out
}

// buildArgEnv are the ARGs in scope as KEY=VALUE, sorted, minus those ENV sets (ENV wins), plus
// the proxy args given with --build-arg.
func (s *Stage) buildArgEnv() []string {
	envKeys := map[string]bool{}
	for _, kv := range s.Config.Config.Env {
		k, _, _ := strings.Cut(kv, "=")
		envKeys[k] = true
	}
	var out []string
	for _, k := range s.args.keys {
		if v, ok := s.args.m[k]; ok && !envKeys[k] {
			out = append(out, k+"="+v)
		}
	}
	slices.Sort(out)
	return out
}

func (s *Stage) proxyEnv() []string {
	var out []string
	for _, k := range proxyArgs {
		if v, ok := s.Plan.BuildArgs[k]; ok {
			if _, declared := s.args.m[k]; !declared {
				out = append(out, k+"="+v)
			}
		}
	}
	return out
}

func cloneConfig(c image.Config) image.Config {
	out := c
	out.Config.Env = slices.Clone(c.Config.Env)
	out.Config.Cmd = slices.Clone(c.Config.Cmd)
	out.Config.Entrypoint = slices.Clone(c.Config.Entrypoint)
	out.Config.Shell = slices.Clone(c.Config.Shell)
	out.Config.OnBuild = slices.Clone(c.Config.OnBuild)
	out.Config.Labels = cloneMap(c.Config.Labels)
	out.Config.ExposedPorts = cloneSet(c.Config.ExposedPorts)
	out.Config.Volumes = cloneSet(c.Config.Volumes)
	if c.Config.Healthcheck != nil {
		h := *c.Config.Healthcheck
		out.Config.Healthcheck = &h
	}
	out.RootFS.DiffIDs = slices.Clone(c.RootFS.DiffIDs)
	out.History = slices.Clone(c.History)
	return out
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func cloneSet(m map[string]struct{}) map[string]struct{} {
	if m == nil {
		return nil
	}
	out := make(map[string]struct{}, len(m))
	for k := range m {
		out[k] = struct{}{}
	}
	return out
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(strings.ReplaceAll(s, "\\\n", " ")), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func quoteList(l []string) string { return fmt.Sprintf("%q", l) }
