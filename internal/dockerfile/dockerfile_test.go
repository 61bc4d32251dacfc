package dockerfile

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// dump renders a parsed file for golden comparison: every stage, every instruction with the
// typed fields a build reads.
func dump(f *File) string {
	var b strings.Builder
	fmt.Fprintf(&b, "syntax=%q check=%q escape=%q\n", f.Syntax, f.Check, f.Escape)
	for _, a := range f.MetaArgs {
		fmt.Fprintf(&b, "meta %d %s\n", Line(a), argString(a))
	}
	for _, s := range f.Stages {
		fmt.Fprintf(&b, "stage %d name=%q base=%q platform=%q line=%d\n", s.Index, s.Name, s.BaseName, s.Platform, s.Line)
		for _, c := range s.Commands {
			fmt.Fprintf(&b, "  %d %s\n", Line(c), cmdString(c))
		}
	}
	for _, w := range f.Warnings {
		fmt.Fprintf(&b, "warning %s\n", w)
	}
	return b.String()
}

func argString(a *instructions.ArgCommand) string {
	var parts []string
	for _, kv := range a.Args {
		if kv.Value == nil {
			parts = append(parts, kv.Key)
		} else {
			parts = append(parts, fmt.Sprintf("%s=%q", kv.Key, *kv.Value))
		}
	}
	return "ARG " + strings.Join(parts, " ")
}

func cmdLine(l instructions.ShellDependantCmdLine) string {
	s := fmt.Sprintf("shell=%v cmd=%q", l.PrependShell, l.CmdLine)
	for _, f := range l.Files {
		s += fmt.Sprintf(" file(%s chomp=%v)=%q", f.Name, f.Chomp, f.Data)
	}
	return s
}

func srcDest(s instructions.SourcesAndDest) string {
	out := fmt.Sprintf("src=%q dest=%q", s.SourcePaths, s.DestPath)
	for _, c := range s.SourceContents {
		out += fmt.Sprintf(" heredoc(%s expand=%v)=%q", c.Path, c.Expand, c.Data)
	}
	return out
}

// copyFlags shows COPY and ADD's --link, --parents and --exclude when they are given.
func copyFlags(link, parents bool, excludes []string) string {
	var b strings.Builder
	if link {
		b.WriteString(" link")
	}
	if parents {
		b.WriteString(" parents")
	}
	for _, e := range excludes {
		fmt.Fprintf(&b, " exclude=%q", e)
	}
	return b.String()
}

func cmdString(c instructions.Command) string {
	switch x := c.(type) {
	case *instructions.RunCommand:
		return fmt.Sprintf("RUN network=%q %s", instructions.GetNetwork(x), cmdLine(x.ShellDependantCmdLine))
	case *instructions.CmdCommand:
		return "CMD " + cmdLine(x.ShellDependantCmdLine)
	case *instructions.EntrypointCommand:
		return "ENTRYPOINT " + cmdLine(x.ShellDependantCmdLine)
	case *instructions.CopyCommand:
		return fmt.Sprintf("COPY from=%q chown=%q chmod=%q%s %s", x.From, x.Chown, x.Chmod, copyFlags(x.Link, x.Parents, x.ExcludePatterns), srcDest(x.SourcesAndDest))
	case *instructions.AddCommand:
		return fmt.Sprintf("ADD chown=%q chmod=%q%s %s", x.Chown, x.Chmod, copyFlags(x.Link, false, x.ExcludePatterns), srcDest(x.SourcesAndDest))
	case *instructions.EnvCommand:
		return "ENV " + kvs(x.Env)
	case *instructions.LabelCommand:
		return "LABEL " + kvs(x.Labels)
	case *instructions.ArgCommand:
		return argString(x)
	case *instructions.ShellCommand:
		return fmt.Sprintf("SHELL %q", x.Shell)
	case *instructions.HealthCheckCommand:
		return fmt.Sprintf("HEALTHCHECK %+v", *x.Health)
	case *instructions.OnbuildCommand:
		return fmt.Sprintf("ONBUILD %q", x.Expression)
	}
	return fmt.Sprintf("%s %q", strings.ToUpper(c.Name()), String(c))
}

// TestGolden parses testdata/*.Dockerfile and compares with the .golden file beside it; errors
// are golden too (with their snippet). go test -update rewrites them.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.Dockerfile")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, p := range files {
		name := strings.TrimSuffix(filepath.Base(p), ".Dockerfile")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			f, err := Parse("Dockerfile", src)
			if err != nil {
				got = "error: " + err.Error() + "\n"
				var de *Error
				if errors.As(err, &de) {
					got += de.Snippet()
				}
			} else {
				got = dump(f)
			}
			golden := strings.TrimSuffix(p, ".Dockerfile") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s: got\n%s\nwant\n%s", p, got, want)
			}
		})
	}
}

func TestParseTriggers(t *testing.T) {
	cmds, err := ParseTriggers("base", []string{"RUN echo hi", `COPY a /b`}, '\\')
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 2 || !strings.EqualFold(cmds[0].Name(), "run") || !strings.EqualFold(cmds[1].Name(), "copy") {
		t.Fatalf("got %v", cmds)
	}
	if _, err := ParseTriggers("base", []string{"FORM x"}, '\\'); err == nil {
		t.Fatal("bad trigger parsed")
	}
}

func kvs(l instructions.KeyValuePairs) string {
	var parts []string
	for _, kv := range l {
		parts = append(parts, fmt.Sprintf("%q=%q", kv.Key, kv.Value))
	}
	return strings.Join(parts, " ")
}
