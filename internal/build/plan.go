package build

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/hako-dev/hako/internal/dockerfile"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// PlanOptions are the build's inputs besides the Dockerfile.
type PlanOptions struct {
	BuildArgs map[string]string // --build-arg, already resolved (ParseBuildArgs)
	Target    string            // --target: a stage name; "" for the last stage
	Platform  ocispec.Platform  // the host's: the only one hako builds for
}

// Plan is what a build will do: the stages it needs, in order, with their bases resolved.
type Plan struct {
	File      *dockerfile.File
	Stages    []*StagePlan // the stages to build, in Dockerfile order
	Target    *StagePlan
	BuildArgs map[string]string
	Platform  ocispec.Platform
	// Unused are --build-arg names that no ARG of the built stages (or the global ARGs) declares.
	Unused []string

	global *kvEnv // global ARGs, resolved
}

// StagePlan is one stage to build.
type StagePlan struct {
	*dockerfile.Stage
	// Base is the FROM argument after expanding global ARGs: "scratch", an image reference, or
	// the name of an earlier stage (then BaseStage is set).
	Base      string
	BaseStage *StagePlan
	// Deps are the earlier stages that COPY --from of this stage reads.
	Deps []*StagePlan
}

// DisplayName is how progress output names the stage: its name, or its index.
func (s *StagePlan) DisplayName() string {
	if s.Name != "" {
		return s.Name
	}
	return "stage-" + strconv.Itoa(s.Index)
}

// NewPlan resolves the global ARGs, every stage's base, and which stages --target needs.
func NewPlan(f *dockerfile.File, opts PlanOptions) (*Plan, error) {
	p := &Plan{File: f, BuildArgs: opts.BuildArgs, Platform: opts.Platform, global: newEnv()}
	if p.BuildArgs == nil {
		p.BuildArgs = map[string]string{}
	}
	lex := shell.NewLex(f.Escape)
	pre := PredefinedArgs(opts.Platform)
	// Predefined platform args are in scope in FROM lines even without a global ARG.
	fromEnv := newEnv()
	for _, k := range sortedKeys(pre) {
		fromEnv.set(k, pre[k])
	}
	declared := map[string]bool{}
	for _, a := range f.MetaArgs {
		for _, kv := range a.Args {
			declared[kv.Key] = true
			v, given := p.BuildArgs[kv.Key]
			if !given {
				if kv.Value != nil {
					ex, _, err := lex.ProcessWord(*kv.Value, fromEnv)
					if err != nil {
						return nil, lineErr(f, a, err)
					}
					v = ex
				} else if pv, ok := pre[kv.Key]; ok {
					v = pv
				} else {
					// Declared without a value: in scope but unset.
					p.global.set(kv.Key, "")
					delete(p.global.m, kv.Key)
					continue
				}
			}
			p.global.set(kv.Key, v)
			fromEnv.set(kv.Key, v)
		}
	}

	all := make([]*StagePlan, len(f.Stages))
	byName := map[string]*StagePlan{}
	for i, s := range f.Stages {
		sp := &StagePlan{Stage: s}
		base, _, err := lex.ProcessWord(s.BaseName, fromEnv)
		if err != nil {
			return nil, stageErr(f, s, err)
		}
		if base == "" {
			return nil, stageErr(f, s, fmt.Errorf("base name (%s) should not be blank", s.BaseName))
		}
		sp.Base = base
		if b, ok := byName[strings.ToLower(base)]; ok {
			sp.BaseStage = b
		}
		if s.Platform != "" {
			plat, _, err := lex.ProcessWord(s.Platform, fromEnv)
			if err != nil {
				return nil, stageErr(f, s, err)
			}
			host := pre["TARGETPLATFORM"]
			if plat != host && plat != opts.Platform.OS+"/"+opts.Platform.Architecture {
				return nil, errdefs.NotImplemented(stageErr(f, s, fmt.Errorf("FROM --platform=%s: hako builds only for this host's platform %s", plat, host)))
			}
		}
		for _, c := range s.Commands {
			if cp, ok := c.(*instructions.CopyCommand); ok && cp.From != "" {
				from, _, err := lex.ProcessWord(cp.From, fromEnv)
				if err != nil {
					return nil, lineErr(f, c, err)
				}
				if d := lookupStage(all[:i], byName, from); d != nil {
					sp.Deps = append(sp.Deps, d)
				}
			}
			if r, ok := c.(*instructions.RunCommand); ok {
				// RUN --mount=from=stage reads the stage, as COPY --from does.
				for _, m := range instructions.GetMounts(r) {
					if m.From == "" {
						continue
					}
					from, _, err := lex.ProcessWord(m.From, fromEnv)
					if err != nil {
						return nil, lineErr(f, c, err)
					}
					if d := lookupStage(all[:i], byName, from); d != nil {
						sp.Deps = append(sp.Deps, d)
					}
				}
			}
			if a, ok := c.(*instructions.ArgCommand); ok {
				for _, kv := range a.Args {
					declared[kv.Key] = true
				}
			}
		}
		all[i] = sp
		if s.Name != "" {
			byName[s.Name] = sp
		}
	}

	p.Target = all[len(all)-1]
	if opts.Target != "" {
		t, ok := byName[strings.ToLower(opts.Target)]
		if !ok {
			return nil, errdefs.NotFoundf("target stage %q could not be found", opts.Target)
		}
		p.Target = t
	}
	need := map[*StagePlan]bool{}
	var mark func(*StagePlan)
	mark = func(s *StagePlan) {
		if need[s] {
			return
		}
		need[s] = true
		if s.BaseStage != nil {
			mark(s.BaseStage)
		}
		for _, d := range s.Deps {
			mark(d)
		}
	}
	mark(p.Target)
	stageDeclared := map[string]bool{}
	for _, a := range f.MetaArgs {
		for _, kv := range a.Args {
			stageDeclared[kv.Key] = true
		}
	}
	for _, s := range all {
		if !need[s] {
			continue
		}
		p.Stages = append(p.Stages, s)
		for _, c := range s.Commands {
			if a, ok := c.(*instructions.ArgCommand); ok {
				for _, kv := range a.Args {
					stageDeclared[kv.Key] = true
				}
			}
		}
	}
	p.Unused = unusedArgs(p.BuildArgs, stageDeclared)
	return p, nil
}

// LookupStage finds an earlier stage by name or index, as COPY --from names it.
func (p *Plan) LookupStage(name string, before int) *StagePlan {
	byName := map[string]*StagePlan{}
	var earlier []*StagePlan
	for _, s := range p.Stages {
		if s.Index >= before {
			break
		}
		earlier = append(earlier, s)
		if s.Name != "" {
			byName[s.Name] = s
		}
	}
	return lookupStage(earlier, byName, name)
}

func lookupStage(earlier []*StagePlan, byName map[string]*StagePlan, name string) *StagePlan {
	if s, ok := byName[strings.ToLower(name)]; ok {
		return s
	}
	if n, err := strconv.Atoi(name); err == nil {
		for _, s := range earlier {
			if s != nil && s.Index == n {
				return s
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// StepError is a build error at an instruction.
type StepError struct {
	File string
	Line int
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

func lineErr(f *dockerfile.File, c instructions.Command, err error) error {
	return &StepError{File: f.Name, Line: dockerfile.Line(c), Err: err}
}

func stageErr(f *dockerfile.File, s *dockerfile.Stage, err error) error {
	return &StepError{File: f.Name, Line: s.Line, Err: err}
}
