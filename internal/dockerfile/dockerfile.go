package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// File is a parsed Dockerfile.
type File struct {
	Name string // as errors name it, e.g. "Dockerfile" or "build/app.Dockerfile"
	// Syntax is the `# syntax=` directive, recorded only: hako is the frontend.
	Syntax string
	// Check is the `# check=` directive (BuildKit's lint configuration), applied to Warnings.
	Check string
	// Escape is the escape character (`# escape=`), needed to expand words later.
	Escape rune
	// MetaArgs are the ARG instructions before the first FROM: the global build args.
	MetaArgs []*instructions.ArgCommand
	Stages   []*Stage
	// Warnings are BuildKit's lint warnings and the parser's own (empty continuation lines).
	Warnings []Warning

	lines []string
}

// Stage is one FROM and the instructions up to the next.
type Stage struct {
	Index    int
	Name     string // lower-cased `AS name`, "" if none
	BaseName string // the FROM argument, not yet expanded
	Platform string // --platform, not yet expanded
	Line     int
	Source   string // the FROM line as written
	Commands []instructions.Command
}

// Warning is one lint or parser warning.
type Warning struct {
	Line    int
	Rule    string // BuildKit's rule name, "" for parser warnings
	Message string
	URL     string
}

func (w Warning) String() string {
	if w.Rule != "" {
		return fmt.Sprintf("%s: %s (line %d)", w.Rule, w.Message, w.Line)
	}
	return fmt.Sprintf("%s (line %d)", w.Message, w.Line)
}

// Error is a Dockerfile error at a place in the file.
type Error struct {
	File   string
	Line   int // 1-based; 0 when the error concerns the whole file
	Column int // 1-based
	Msg    string
	lines  []string // the file's lines, for Snippet
}

func (e *Error) Error() string {
	if e.Line <= 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// Snippet shows the offending line with two lines of context before it, marked as BuildKit
// marks it:
//
//	   2 |     FROM busybox
//	>>>3 |     FORM x
func (e *Error) Snippet() string {
	if e.Line <= 0 || e.Line > len(e.lines) {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d\n--------------------\n", e.File, e.Line)
	for i := max(1, e.Line-2); i <= e.Line; i++ {
		mark := "   "
		if i == e.Line {
			mark = ">>>"
		}
		fmt.Fprintf(&b, " %s%3d | %s\n", mark, i, e.lines[i-1])
	}
	b.WriteString("--------------------\n")
	return b.String()
}

// Parse reads a Dockerfile. name is how errors and warnings name it.
func Parse(name string, src []byte) (*File, error) {
	f := &File{Name: name, lines: strings.Split(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n")}
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, &Error{File: name, Msg: "the Dockerfile is empty", lines: f.lines}
	}
	if syntax, _, _, ok := parser.DetectSyntax(src); ok {
		f.Syntax = syntax
	}
	if check, _, _, ok := parser.ParseDirective("check", src); ok {
		f.Check = check
	}
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, f.errorAt(err, 0)
	}
	f.Escape = res.EscapeToken
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil {
			line = w.Location.Start.Line
		}
		f.Warnings = append(f.Warnings, Warning{Line: line, Message: w.Short, URL: w.URL})
	}
	lintCfg := &linter.Config{Warn: func(rule, desc, url, msg string, loc []parser.Range) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		f.Warnings = append(f.Warnings, Warning{Line: line, Rule: rule, Message: msg, URL: url})
	}}
	if f.Check != "" {
		c, err := linter.ParseLintOptions(f.Check)
		if err != nil {
			return nil, &Error{File: name, Line: 1, Column: 1, Msg: "# check= directive: " + err.Error(), lines: f.lines}
		}
		c.Warn = lintCfg.Warn
		lintCfg = c
	}
	lint := linter.New(lintCfg)

	for _, n := range res.AST.Children {
		v, err := instructions.ParseInstructionWithLinter(n, lint)
		if err != nil {
			return nil, f.errorAt(err, n.StartLine)
		}
		if err := f.checkSupported(n, v); err != nil {
			return nil, err
		}
		switch c := v.(type) {
		case *instructions.Stage:
			f.Stages = append(f.Stages, &Stage{Index: len(f.Stages), Name: c.Name, BaseName: c.BaseName, Platform: c.Platform,
				Line: n.StartLine, Source: c.SourceCode})
		case *instructions.ArgCommand:
			if len(f.Stages) == 0 {
				f.MetaArgs = append(f.MetaArgs, c)
				continue
			}
			f.last().Commands = append(f.last().Commands, c)
		case instructions.Command:
			if len(f.Stages) == 0 {
				return nil, f.errorf(n.StartLine, "", "%s before the first FROM: only ARG may come before FROM", strings.ToUpper(n.Value))
			}
			f.last().Commands = append(f.last().Commands, c)
		default:
			return nil, f.errorf(n.StartLine, "", "%s is not an instruction", n.Value)
		}
	}
	if len(f.Stages) == 0 {
		return nil, &Error{File: name, Msg: "no FROM instruction: a Dockerfile needs at least one build stage", lines: f.lines}
	}
	if err := lint.Error(); err != nil {
		return nil, &Error{File: name, Msg: err.Error(), lines: f.lines}
	}
	return f, nil
}

func (f *File) last() *Stage { return f.Stages[len(f.Stages)-1] }

// Lines returns the source lines first..last (1-based, inclusive), for messages.
func (f *File) Lines(first, last int) []string {
	if first < 1 || last > len(f.lines) || first > last {
		return nil
	}
	return f.lines[first-1 : last]
}

// errorAt turns a parser or instructions error into an *Error at the line the error carries (or
// fallback).
func (f *File) errorAt(err error, fallback int) error {
	line := fallback
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		line = le.Locations[0][0].Start.Line
	}
	var ue *instructions.UnknownInstructionError
	msg := err.Error()
	if errors.As(err, &ue) {
		line = ue.Line
	}
	// BuildKit prefixes "dockerfile parse error on line N: " itself; the position is ours.
	if _, rest, ok := strings.Cut(msg, "dockerfile parse error on line "); ok {
		if _, m, ok := strings.Cut(rest, ": "); ok {
			msg = m
		}
	}
	word := ""
	if ue != nil {
		word = ue.Instruction
	}
	if _, fl, ok := strings.Cut(msg, "flag: "); ok {
		word = strings.Fields(fl + " ")[0]
	}
	return f.errorf(line, word, "%s", msg)
}

// errorf makes an *Error at line, with the column of word in that line (of the first
// non-blank character when word is "" or absent).
func (f *File) errorf(line int, word, format string, args ...any) error {
	e := &Error{File: f.Name, Line: line, Column: 1, Msg: fmt.Sprintf(format, args...), lines: f.lines}
	if line >= 1 && line <= len(f.lines) {
		text := f.lines[line-1]
		col := strings.IndexFunc(text, func(r rune) bool { return r != ' ' && r != '\t' })
		if word != "" {
			if i := strings.Index(text, word); i >= 0 {
				col = i
			}
		}
		e.Column = max(col, 0) + 1
	}
	return e
}

// unsupported flags per instruction: they parse, but hako does not do what they ask.
var unsupportedFlags = map[string][]string{
	"run": {"device", "security"},
}

// checkSupported refuses what hako parses but does not implement.
func (f *File) checkSupported(n *parser.Node, v any) error {
	name := strings.ToLower(n.Value)
	for _, fl := range n.Flags {
		key := strings.TrimLeft(fl, "-")
		key, val, _ := strings.Cut(key, "=")
		if name == "run" && key == "mount" {
			if err := checkMountFlag(val); err != nil {
				return f.errorf(n.StartLine, fl, "%v", err)
			}
		}
		if slices.Contains(unsupportedFlags[name], key) {
			if name == "run" && key == "security" && val == "sandbox" {
				continue
			}
			return f.errorf(n.StartLine, fl, "%s %s is not supported by hako", strings.ToUpper(name), fl)
		}
	}
	if r, ok := v.(*instructions.RunCommand); ok {
		switch instructions.GetNetwork(r) {
		case "", "default", "none", "host":
		default:
			return f.errorf(n.StartLine, "--network", "RUN --network=%s is not supported by hako (none, default, host)", instructions.GetNetwork(r))
		}
	}
	return nil
}

// Line is the first line of an instruction.
func Line(c instructions.Command) int {
	if loc := c.Location(); len(loc) > 0 {
		return loc[0].Start.Line
	}
	return 0
}

// String renders an instruction as written (flags included), on one line.
func String(c instructions.Command) string {
	if s, ok := c.(fmt.Stringer); ok {
		return s.String()
	}
	return c.Name()
}

// ParseTriggers parses the ONBUILD triggers of a base image: each is one instruction, in
// Dockerfile syntax, run in the child's stage right after its FROM.
func ParseTriggers(image string, triggers []string, escape rune) ([]instructions.Command, error) {
	var out []instructions.Command
	for _, t := range triggers {
		src := t
		if escape != 0 && escape != '\\' {
			src = "# escape=" + string(escape) + "\n" + t
		}
		res, err := parser.Parse(strings.NewReader(src))
		if err != nil {
			return nil, fmt.Errorf("ONBUILD trigger %q of %s: %w", t, image, err)
		}
		for _, n := range res.AST.Children {
			c, err := instructions.ParseCommand(n)
			if err != nil {
				return nil, fmt.Errorf("ONBUILD trigger %q of %s: %w", t, image, err)
			}
			out = append(out, c)
		}
	}
	return out, nil
}
