package lint

import (
	"bytes"
	"errors"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Document is a parsed Dockerfile as the rules see it: stages of instructions that keep their
// syntax node (line range, comments, original text) and, for RUN, the parsed shell script.
type Document struct {
	Path     string
	Source   []byte
	Lines    []string
	Escape   rune
	AST      *parser.Node
	MetaArgs []*Instr // ARGs before the first FROM
	Stages   []*Stage
	Instrs   []*Instr // every instruction in file order, FROM included
	Context  *BuildContext
	Config   *Config

	warnings   []parser.Warning // the parser's own (empty continuation lines)
	bkFindings []bkFinding      // what BuildKit's instruction parser reported through its linter
	globals    *env             // meta ARG defaults, for FROM
	bases      map[*Stage]base  // resolved base images
}

// Stage is one FROM and what follows it.
type Stage struct {
	Index    int
	Name     string // lower case, as BuildKit keeps it; "" when unnamed
	Base     string // the FROM argument, unexpanded
	Platform string
	From     *Instr
	Instrs   []*Instr // after FROM
	Parent   *Stage   // the earlier stage Base names, if any
	Raw      *instructions.Stage
}

// Final reports whether s is the stage a plain build produces.
func (d *Document) Final() *Stage {
	if len(d.Stages) == 0 {
		return nil
	}
	return d.Stages[len(d.Stages)-1]
}

// stageByRef finds an earlier stage by name or index as COPY --from and FROM refer to them.
func (d *Document) stageByRef(ref string, before int) *Stage {
	ref = strings.ToLower(ref)
	for _, s := range d.Stages {
		if s.Index >= before {
			break
		}
		if s.Name != "" && s.Name == ref {
			return s
		}
	}
	return nil
}

// Instr is one instruction.
type Instr struct {
	Node    *parser.Node
	Keyword string // lower case: from, run, copy, …
	Cmd     instructions.Command
	Stage   *Stage // nil for meta ARGs
	Script  *Script
}

// Line is the first line of the instruction, 1-based.
func (in *Instr) Line() int { return in.Node.StartLine }

func (in *Instr) location() []parser.Range { return in.Node.Location() }

type bkFinding struct {
	rule, msg string
	loc       []parser.Range
}

// ParseError is a Dockerfile that BuildKit's parser refuses, with the line it points at.
type ParseError struct {
	Line int
	Err  error
}

func (e *ParseError) Error() string { return e.Err.Error() }
func (e *ParseError) Unwrap() error { return e.Err }

// Parse reads a Dockerfile into a Document. It fails only where BuildKit's parser fails; the
// error is a *ParseError with the line.
func Parse(path string, src []byte) (*Document, error) {
	d := &Document{Path: path, Source: src}
	d.Lines = strings.Split(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n")
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return d, &ParseError{Line: errLine(err), Err: err}
	}
	d.AST = res.AST
	d.Escape = res.EscapeToken
	d.warnings = res.Warnings

	// BuildKit's instruction parser runs some checks itself (MaintainerDeprecated,
	// StageNameCasing, FromAsCasing): collect them through its own linter.
	lt := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		d.bkFindings = append(d.bkFindings, bkFinding{rule: rule, msg: msg, loc: loc})
	}})
	var cur *Stage
	for _, n := range res.AST.Children {
		v, err := instructions.ParseInstructionWithLinter(n, lt)
		if err != nil {
			return d, &ParseError{Line: n.StartLine, Err: err}
		}
		in := &Instr{Node: n, Keyword: strings.ToLower(n.Value)}
		switch c := v.(type) {
		case *instructions.Stage:
			cur = &Stage{Index: len(d.Stages), Name: c.Name, Base: c.BaseName, Platform: c.Platform, From: in, Raw: c}
			cur.Parent = d.stageByRef(c.BaseName, cur.Index)
			in.Stage = cur
			d.Stages = append(d.Stages, cur)
		case instructions.Command:
			in.Cmd = c
			if cur == nil {
				if _, ok := c.(*instructions.ArgCommand); !ok {
					return d, &ParseError{Line: n.StartLine, Err: errors.New("no build stage in current context")}
				}
				d.MetaArgs = append(d.MetaArgs, in)
			} else {
				in.Stage = cur
				cur.Instrs = append(cur.Instrs, in)
				cur.Raw.AddCommand(c)
			}
			in.Script = scriptOf(c, n.StartLine)
		}
		d.Instrs = append(d.Instrs, in)
	}
	if len(d.Stages) == 0 {
		return d, &ParseError{Line: 1, Err: errors.New("dockerfile contains no stages to build")}
	}
	return d, nil
}

func errLine(err error) int {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		return le.Locations[0][0].Start.Line
	}
	return 1
}

// instrAt is the instruction whose lines hold line.
func (d *Document) instrAt(line int) *Instr {
	for _, in := range d.Instrs {
		if line >= in.Node.StartLine && line <= in.Node.EndLine {
			return in
		}
	}
	return nil
}

// shellOf is the shell a RUN uses in s up to in: the last SHELL before it, or /bin/sh -c.
func shellOf(s *Stage, in *Instr) []string {
	sh := []string{"/bin/sh", "-c"}
	for st := s; st != nil; st = st.Parent {
		found := false
		for _, x := range st.Instrs {
			if st == s && x == in {
				break
			}
			if c, ok := x.Cmd.(*instructions.ShellCommand); ok {
				sh = c.Shell
				found = true
			}
		}
		if found {
			return sh
		}
	}
	return sh
}
