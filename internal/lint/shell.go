package lint

import (
	"path"
	"strings"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"mvdan.cc/sh/v3/syntax"
)

// Script is a RUN body (or a shell-form CMD) parsed as shell: the simple commands it runs in
// source order, and the facts rules ask about pipes and background jobs.
type Script struct {
	Cmds []*ShellCmd
	// Pipes are the offsets of pipelines; PipefailAt is the offset of the first `set -o pipefail`
	// (-1 when none), so a rule can tell whether a pipe runs under it.
	Pipes      []uint
	PipefailAt int
	Err        error // the body is not valid shell; Cmds is then empty
}

// ShellCmd is one simple command: `apt-get install -y curl` is Name "apt-get", Args
// ["install", "-y", "curl"]. A word that is not a plain literal keeps its shell text ("$PKG").
type ShellCmd struct {
	Name       string // base name of the first word
	Args       []string
	Offset     uint
	Background bool // ends in & (or inside a job that does)
	Wrapped    bool // the command under sudo, env, sh -c and the like
}

// Has reports whether the command has any of flags, with short flags found inside clusters
// (-y in -qy) and long flags with or without =value.
func (c *ShellCmd) Has(flags ...string) bool {
	for _, a := range c.Args {
		if a == "--" {
			return false
		}
		for _, f := range flags {
			switch {
			case a == f:
				return true
			case strings.HasPrefix(f, "--") && strings.HasPrefix(a, f+"="):
				return true
			case len(f) == 2 && f[0] == '-' && f[1] != '-' && len(a) > 2 && a[0] == '-' && a[1] != '-' && strings.ContainsRune(a[1:], rune(f[1])):
				return true
			}
		}
	}
	return false
}

// Positional is the arguments that are not flags, after the subcommand-free view of the
// command; flags that take a value (listed in withValue) skip it.
func (c *ShellCmd) Positional(withValue ...string) []string {
	var out []string
	skip := false
	for _, a := range c.Args {
		if skip {
			skip = false
			continue
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			for _, w := range withValue {
				if a == w {
					skip = true
				}
			}
			continue
		}
		out = append(out, a)
	}
	return out
}

// Sub is the first positional argument (apt-get's "install", pip's "install").
func (c *ShellCmd) Sub() string {
	if p := c.Positional(); len(p) > 0 {
		return p[0]
	}
	return ""
}

// A syntax.Parser is not safe for concurrent use; hako lint checks files in parallel.
var shParsers = sync.Pool{New: func() any { return syntax.NewParser(syntax.Variant(syntax.LangBash)) }}

// ParseShell parses src as a bash script.
func ParseShell(src string) *Script {
	s := &Script{PipefailAt: -1}
	p := shParsers.Get().(*syntax.Parser)
	f, err := p.Parse(strings.NewReader(src), "")
	shParsers.Put(p)
	if err != nil {
		s.Err = err
		return s
	}
	s.walk(f, false)
	return s
}

func (s *Script) walk(node syntax.Node, bg bool) {
	syntax.Walk(node, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.Stmt:
			if n.Background && !bg {
				// everything under a background statement runs in the background
				if n.Cmd != nil {
					s.walk(n.Cmd, true)
				}
				return false
			}
		case *syntax.BinaryCmd:
			if n.Op == syntax.Pipe || n.Op == syntax.PipeAll {
				s.Pipes = append(s.Pipes, n.OpPos.Offset())
			}
		case *syntax.CallExpr:
			s.call(n, bg)
		}
		return true
	})
}

func (s *Script) call(ce *syntax.CallExpr, bg bool) {
	if len(ce.Args) == 0 {
		return
	}
	words := make([]string, len(ce.Args))
	for i, w := range ce.Args {
		words[i] = wordText(w)
	}
	s.add(words, ce.Pos().Offset(), bg, false)
}

func (s *Script) add(words []string, off uint, bg, wrapped bool) {
	if len(words) == 0 {
		return
	}
	c := &ShellCmd{Name: path.Base(words[0]), Args: words[1:], Offset: off, Background: bg, Wrapped: wrapped}
	s.Cmds = append(s.Cmds, c)
	if c.Name == "set" && s.PipefailAt < 0 {
		for i, a := range c.Args {
			if a == "-o" && i+1 < len(c.Args) && c.Args[i+1] == "pipefail" {
				s.PipefailAt = int(off)
			}
			if strings.HasPrefix(a, "-") && strings.HasSuffix(a, "o") && i+1 < len(c.Args) && c.Args[i+1] == "pipefail" {
				s.PipefailAt = int(off)
			}
		}
	}
	// Look through wrappers so rules see the command that really runs.
	switch c.Name {
	case "sudo", "env", "nice", "nohup", "time", "exec", "gosu", "su-exec", "tini", "dumb-init":
		rest := c.Args
		for len(rest) > 0 && (strings.HasPrefix(rest[0], "-") || strings.Contains(rest[0], "=")) {
			rest = rest[1:]
		}
		if (c.Name == "gosu" || c.Name == "su-exec") && len(rest) > 0 {
			rest = rest[1:] // the user
		}
		s.add(rest, off, bg, true)
	case "sh", "bash", "ash", "dash", "zsh":
		for i, a := range c.Args {
			if strings.HasPrefix(a, "-") && strings.HasSuffix(a, "c") && i+1 < len(c.Args) {
				inner := ParseShell(c.Args[i+1])
				for _, ic := range inner.Cmds {
					ic.Offset = off
					ic.Wrapped = true
					ic.Background = ic.Background || bg
				}
				s.Cmds = append(s.Cmds, inner.Cmds...)
				if len(inner.Pipes) > 0 {
					s.Pipes = append(s.Pipes, off)
				}
				break
			}
		}
	}
}

// wordText flattens a word: literals and quotes become their value, expansions keep their text.
func wordText(w *syntax.Word) string {
	if lit := w.Lit(); lit != "" {
		return lit
	}
	var b strings.Builder
	var parts func([]syntax.WordPart)
	parts = func(ps []syntax.WordPart) {
		for _, p := range ps {
			switch p := p.(type) {
			case *syntax.Lit:
				b.WriteString(p.Value)
			case *syntax.SglQuoted:
				b.WriteString(p.Value)
			case *syntax.DblQuoted:
				parts(p.Parts)
			case *syntax.ParamExp:
				if p.Param != nil {
					b.WriteString("${" + p.Param.Value + "}")
				} else {
					b.WriteString("$")
				}
			default:
				b.WriteString("$(…)")
			}
		}
	}
	parts(w.Parts)
	return b.String()
}

// scriptOf parses the shell a RUN, CMD or ENTRYPOINT runs; nil for other instructions.
func scriptOf(c instructions.Command, _ int) *Script {
	var l instructions.ShellDependantCmdLine
	switch c := c.(type) {
	case *instructions.RunCommand:
		l = c.ShellDependantCmdLine
	case *instructions.CmdCommand:
		l = c.ShellDependantCmdLine
	case *instructions.EntrypointCommand:
		l = c.ShellDependantCmdLine
	default:
		return nil
	}
	if len(l.Files) > 0 && len(l.CmdLine) > 0 && strings.HasPrefix(strings.TrimSpace(l.CmdLine[0]), "<<") {
		// RUN <<EOF … EOF: the heredoc is the script
		var b strings.Builder
		for _, f := range l.Files {
			b.WriteString(f.Data)
			b.WriteString("\n")
		}
		return ParseShell(b.String())
	}
	if l.PrependShell {
		return ParseShell(strings.Join(l.CmdLine, " "))
	}
	s := &Script{PipefailAt: -1}
	s.add(l.CmdLine, 0, false, false)
	return s
}

// pipeUnguarded reports whether a pipe runs without pipefail set before it.
func (s *Script) pipeUnguarded() bool {
	for _, p := range s.Pipes {
		if s.PipefailAt < 0 || uint(s.PipefailAt) > p {
			return true
		}
	}
	return false
}
