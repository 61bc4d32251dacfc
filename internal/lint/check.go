package lint

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Finding is one rule firing at one place.
type Finding struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Column   int      `json:"column"`
	EndLine  int      `json:"endLine"`
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix,omitempty"`
	Code     string   `json:"code,omitempty"` // the offending source line
}

// Text is the one-line message with its fix hint.
func (f Finding) Text() string {
	if f.Fix == "" {
		return f.Message
	}
	return f.Message + "; " + f.Fix
}

// Result is what a check found in one file.
type Result struct {
	File     string    `json:"file"`
	Findings []Finding `json:"findings"`
	// ErrorOnFindings is BuildKit's `# check=error=true`: any finding fails, whatever the
	// threshold.
	ErrorOnFindings bool `json:"errorOnFindings,omitempty"`
}

// Failed reports whether the result fails at threshold: a finding at or above it, or any
// finding under `# check=error=true`.
func (r *Result) Failed(threshold Severity) bool {
	for _, f := range r.Findings {
		if r.ErrorOnFindings || f.Severity >= threshold {
			return true
		}
	}
	return false
}

// Options for CheckDockerfile.
type Options struct {
	// Path names the file in findings ("Dockerfile", "-").
	Path string
	// ContextDir is the build context; "" skips the rules that need it (.dockerignore,
	// CopyIgnoredFile, credentials copied from the context).
	ContextDir string
	// Config is .hako-lint.yaml; nil is the defaults.
	Config *Config
}

// CheckDockerfile runs every Dockerfile rule over src and returns the findings left after
// suppression comments and the config, sorted by line. A Dockerfile BuildKit cannot parse is a
// DockerfileSyntax finding, not an error; the error is for a malformed `# check=` directive.
// `hako lint`, `hako build --check` and `hako build` share it.
func CheckDockerfile(src []byte, opt Options) (*Result, error) {
	cfg := opt.Config
	if cfg == nil {
		cfg = &Config{}
	}
	res := &Result{File: opt.Path}
	sup, err := parseSuppressions(src)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", opt.Path, err)
	}
	res.ErrorOnFindings = sup.errorOnFindings

	doc, perr := Parse(opt.Path, src)
	doc.Config = cfg
	r := &reporter{doc: doc}
	if perr != nil {
		var pe *ParseError
		line := 1
		if errors.As(perr, &pe) {
			line = pe.Line
		}
		r.rule = ruleSyntax
		r.atLine(line, "%s", perr.Error())
	} else {
		if opt.ContextDir != "" {
			doc.Context = openContext(opt.ContextDir, opt.Path)
		}
		r.rule = nil
		runBuildKit(doc, r)
		for _, rule := range Rules() {
			if rule.check == nil || rule.Target != TargetDockerfile {
				continue
			}
			r.rule = rule
			rule.check(doc, r)
		}
	}
	for _, f := range r.out {
		if sup.skipped(f, doc) || cfg.ignored(f.Rule) {
			continue
		}
		if s, ok := cfg.severityOf(f.Rule); ok {
			f.Severity = s
		}
		res.Findings = append(res.Findings, f)
	}
	sort.SliceStable(res.Findings, func(i, j int) bool {
		a, b := res.Findings[i], res.Findings[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Rule < b.Rule
	})
	return res, nil
}

// reporter collects findings of the rule that runs now.
type reporter struct {
	doc  *Document
	rule *Rule
	out  []Finding
}

func (r *reporter) add(rule *Rule, loc []parser.Range, msg string) {
	line, col, end := 1, 1, 1
	if len(loc) > 0 {
		line, end = loc[0].Start.Line, loc[len(loc)-1].End.Line
		col = loc[0].Start.Character + 1
	}
	if end < line {
		end = line
	}
	f := Finding{File: r.doc.Path, Line: line, Column: col, EndLine: end, Rule: rule.ID, Severity: rule.Severity, Message: msg, Fix: rule.Fix}
	if line-1 < len(r.doc.Lines) && line > 0 {
		f.Code = r.doc.Lines[line-1]
	}
	for _, o := range r.out {
		if o.Rule == f.Rule && o.Line == f.Line && o.Message == f.Message {
			return // BuildKit reports some checks once per expansion
		}
	}
	r.out = append(r.out, f)
}

// at reports the current rule at an instruction.
func (r *reporter) at(in *Instr, format string, args ...any) {
	r.add(r.rule, in.location(), fmt.Sprintf(format, args...))
}

func (r *reporter) atLine(line int, format string, args ...any) {
	r.add(r.rule, []parser.Range{{Start: parser.Position{Line: line}, End: parser.Position{Line: line}}}, fmt.Sprintf(format, args...))
}

// buildkit is the warn function BuildKit's linter calls: its rule names are our IDs.
func (r *reporter) buildkit(rule, _, _, msg string, loc []parser.Range) {
	if rr, ok := ruleSet()[rule]; ok {
		r.add(rr, loc, msg)
	}
}

// suppressions are the comments that turn rules off: BuildKit's `# check=` directive for the
// file and `# check=skip=` before an instruction, and hadolint's `# hadolint ignore=` before an
// instruction and `# hadolint global ignore=` anywhere.
type suppressions struct {
	skipAll         bool
	skip            map[string]bool
	errorOnFindings bool
}

func parseSuppressions(src []byte) (*suppressions, error) {
	s := &suppressions{skip: map[string]bool{}}
	if v, _, _, ok := parser.ParseDirective("check", src); ok {
		cfg, err := linter.ParseLintOptions(v)
		if err != nil {
			return nil, fmt.Errorf("parse check directive: %w", err)
		}
		s.skipAll = cfg.SkipAll
		s.errorOnFindings = cfg.ReturnAsError
		for _, id := range cfg.SkipRules {
			s.skip[canonical(id)] = true
		}
	}
	for _, line := range strings.Split(string(src), "\n") {
		t := strings.TrimSpace(line)
		if !strings.HasPrefix(t, "#") {
			continue
		}
		if ids, ok := hadolintIgnore(strings.TrimSpace(t[1:]), true); ok {
			for _, id := range ids {
				s.skip[canonical(id)] = true
			}
		}
	}
	return s, nil
}

// hadolintIgnore parses "hadolint ignore=DL3008,DL3009" (global: "hadolint global ignore=…").
func hadolintIgnore(comment string, global bool) ([]string, bool) {
	f := strings.Fields(comment)
	if len(f) < 2 || f[0] != "hadolint" {
		return nil, false
	}
	rest := f[1:]
	if global {
		if rest[0] != "global" || len(rest) < 2 {
			return nil, false
		}
		rest = rest[1:]
	}
	v, ok := strings.CutPrefix(rest[0], "ignore=")
	if !ok {
		return nil, false
	}
	return strings.Split(v, ","), true
}

// skipped reports whether a comment turns f off.
func (s *suppressions) skipped(f Finding, doc *Document) bool {
	if f.Rule == ruleSyntax.ID {
		return false
	}
	if s.skipAll || s.skip[f.Rule] {
		return true
	}
	in := doc.instrAt(f.Line)
	if in == nil {
		return false
	}
	for _, c := range in.Node.PrevComment {
		if ids, ok := hadolintIgnore(c, false); ok {
			for _, id := range ids {
				if canonical(id) == f.Rule {
					return true
				}
			}
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(c), "check="); ok {
			if cfg, err := linter.ParseLintOptions(v); err == nil {
				if cfg.SkipAll {
					return true
				}
				for _, id := range cfg.SkipRules {
					if canonical(id) == f.Rule {
						return true
					}
				}
			}
		}
	}
	return false
}

var ruleSyntax = &Rule{
	ID:       "DockerfileSyntax",
	Severity: SeverityError,
	Source:   SourceHako,
	Target:   TargetDockerfile,
	Summary:  "The Dockerfile does not parse",
	Fix:      "fix the syntax BuildKit reports",
	Doc: `BuildKit's parser refuses the file: an unknown instruction, a FROM with the wrong number of
arguments, a bad flag, an instruction before the first FROM. No other rule runs on a file that
does not parse, and no comment or config can turn this one off.`,
}

func registerCheck() { register(ruleSyntax) }
