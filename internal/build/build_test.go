package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hako-dev/hako/internal/dockerfile"
	"github.com/hako-dev/hako/internal/image"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var host = ocispec.Platform{OS: "linux", Architecture: "amd64"}

func plan(t *testing.T, src string, opts PlanOptions) *Plan {
	t.Helper()
	f, err := dockerfile.Parse("Dockerfile", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if opts.Platform.OS == "" {
		opts.Platform = host
	}
	p, err := NewPlan(f, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// steps runs every stage of p through Next with a fake base config and returns, per stage, the
// steps' history lines, advancing the config as a build would.
func steps(t *testing.T, p *Plan) map[string][]*Step {
	t.Helper()
	out := map[string][]*Step{}
	results := map[*StagePlan]image.Config{}
	for _, sp := range p.Stages {
		base := image.Config{}
		base.Config.Env = []string{"PATH=/bin"}
		if sp.BaseStage != nil {
			base = results[sp.BaseStage]
		}
		s, err := p.NewStage(sp, base, sp.Base == "scratch")
		if err != nil {
			t.Fatal(err)
		}
		for {
			st, err := s.Next()
			if err != nil {
				t.Fatal(err)
			}
			if st == nil {
				break
			}
			out[sp.DisplayName()] = append(out[sp.DisplayName()], st)
			s.Advance(s.Result(st, nil, time.Unix(0, 0)))
		}
		results[sp] = s.Config
	}
	return out
}

func TestPlanTargetAndArgs(t *testing.T) {
	src := `ARG BASE=busybox
ARG V=global
FROM $BASE AS a
ARG V
RUN echo $V
FROM a AS b
ARG V=stage
ENV E=$V
RUN echo b
FROM busybox AS c
COPY --from=a /x /x
FROM scratch AS d
COPY --from=b /y /y
`
	p := plan(t, src, PlanOptions{Target: "c", BuildArgs: map[string]string{"NOPE": "1", "HTTP_PROXY": "x"}})
	var names []string
	for _, s := range p.Stages {
		names = append(names, s.DisplayName())
	}
	if !slices.Equal(names, []string{"a", "c"}) {
		t.Errorf("stages for target c: %v", names)
	}
	if !slices.Equal(p.Unused, []string{"NOPE"}) {
		t.Errorf("unused: %v", p.Unused)
	}
	if p.Stages[0].Base != "busybox" {
		t.Errorf("base: %q", p.Stages[0].Base)
	}

	all := steps(t, plan(t, src, PlanOptions{}))
	if got := all["a"][1].CreatedBy; got != "RUN |1 V=global /bin/sh -c echo $V # buildkit" {
		t.Errorf("global ARG re-declared without value: %q", got)
	}
	if got := all["b"][1].CreatedBy; got != "ENV E=stage" {
		t.Errorf("stage ARG default: %q", got)
	}
	over := steps(t, plan(t, src, PlanOptions{BuildArgs: map[string]string{"V": "cli"}}))
	if got := over["b"][1].CreatedBy; got != "ENV E=cli" {
		t.Errorf("--build-arg wins over the default: %q", got)
	}
	if _, err := NewPlan(p.File, PlanOptions{Target: "zzz", Platform: host}); err == nil {
		t.Error("unknown target accepted")
	}
}

func TestArgNotInScopeWithoutDeclaration(t *testing.T) {
	src := "ARG G=1\nFROM busybox\nENV A=${G:-unset} P=$TARGETARCH\nARG TARGETARCH\nENV B=$TARGETARCH\n"
	st := steps(t, plan(t, src, PlanOptions{}))["stage-0"]
	if st[0].CreatedBy != "ENV A=unset P=" || st[2].CreatedBy != "ENV B=amd64" {
		t.Errorf("got %q, %q", st[0].CreatedBy, st[2].CreatedBy)
	}
}

func TestParseBuildArgs(t *testing.T) {
	env := func(k string) (string, bool) { return map[string]string{"FROMENV": "e"}[k], k == "FROMENV" }
	got, err := ParseBuildArgs([]string{"A=1", "B=", "FROMENV"}, env)
	if err != nil || got["A"] != "1" || got["B"] != "" || got["FROMENV"] != "e" {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ParseBuildArgs([]string{"MISSING"}, env); err == nil {
		t.Fatal("a build arg with no = and no env value was accepted")
	}
}

func TestMetadataAndHistory(t *testing.T) {
	src := `FROM busybox
WORKDIR /app
WORKDIR sub
USER nobody
SHELL ["/bin/ash", "-e", "-c"]
CMD echo hi
ENTRYPOINT ["/bin/app"]
EXPOSE 80 53/udp
LABEL "a b"=c
`
	st := steps(t, plan(t, src, PlanOptions{}))["stage-0"]
	want := []string{"WORKDIR /app", "WORKDIR /app/sub", "USER nobody", "SHELL [/bin/ash -e -c]",
		`CMD ["/bin/ash" "-e" "-c" "echo hi"]`, `ENTRYPOINT ["/bin/app"]`, "EXPOSE 53/udp 80/tcp", "LABEL a b=c"}
	for i, w := range want {
		if st[i].CreatedBy != w || st[i].Kind != KindMeta {
			t.Errorf("step %d: %q, want %q", i, st[i].CreatedBy, w)
		}
	}
	if st[5].Meta.Cmd != nil {
		t.Error("ENTRYPOINT kept the CMD")
	}
}

type fakeExecutor struct {
	reqs []RunRequest
	code int
	out  string
}

func (f *fakeExecutor) Run(ctx context.Context, req RunRequest) error {
	f.reqs = append(f.reqs, req)
	io.WriteString(req.Stdout, f.out)
	if f.code != 0 {
		return &ExitError{Code: f.code}
	}
	return nil
}

func TestRunStep(t *testing.T) {
	src := "FROM busybox\nARG V=1\nENV E=2\nWORKDIR /w\nUSER 1000\nRUN echo $V\nRUN <<EOF\necho heredoc\nEOF\nRUN <<EOF\n#!/bin/sh\necho shebang\nEOF\nRUN [\"/bin/true\"]\n"
	st := steps(t, plan(t, src, PlanOptions{}))["stage-0"]
	run := st[4].Run
	if !slices.Equal(run.Args, []string{"/bin/sh", "-c", "echo $V"}) || run.User != "1000" || run.WorkingDir != "/w" || run.Network != "none" {
		t.Errorf("run spec %+v", run)
	}
	if !slices.Equal(run.Env, []string{"PATH=/bin", "E=2", "V=1"}) {
		t.Errorf("env %q", run.Env)
	}
	if got := st[5].Run.Args; !slices.Equal(got, []string{"/bin/sh", "-c", "echo heredoc\n"}) {
		t.Errorf("heredoc args %q", got)
	}
	if got := st[6].Run; got.Args[0] != "/dev/pipes/EOF" || len(got.Files) != 1 || got.Files[0].Mode != 0o755 {
		t.Errorf("shebang heredoc %+v", got)
	}
	if got := st[7].Run.Args; !slices.Equal(got, []string{"/bin/true"}) {
		t.Errorf("exec form %q", got)
	}

	root := t.TempDir()
	fx := &fakeExecutor{}
	if err := Run(context.Background(), fx, "id", root, run, io.Discard); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(root, "w")); err != nil || !fi.IsDir() {
		t.Errorf("WORKDIR not made: %v", err)
	}
	fx = &fakeExecutor{code: 3, out: "a\nb\nlast words\n"}
	err := Run(context.Background(), fx, "id", root, run, io.Discard)
	re, ok := err.(*RunError)
	if !ok || re.Code != 3 || re.Tail[len(re.Tail)-1] != "last words" {
		t.Fatalf("failed run: %#v", err)
	}
	if !strings.Contains(err.Error(), "exit code: 3") {
		t.Errorf("message %q", err)
	}
}

func TestCacheKeyCoversArgs(t *testing.T) {
	src := "FROM busybox\nARG V\nRUN echo hi\n"
	a := steps(t, plan(t, src, PlanOptions{BuildArgs: map[string]string{"V": "1"}}))["stage-0"][1]
	b := steps(t, plan(t, src, PlanOptions{BuildArgs: map[string]string{"V": "2"}}))["stage-0"][1]
	if a.CacheKey("sha256:p", "linux/amd64", "") == b.CacheKey("sha256:p", "linux/amd64", "") {
		t.Error("a RUN's key ignores the build args in scope")
	}
	if a.CacheKey("sha256:p", "linux/amd64", "") == a.CacheKey("sha256:q", "linux/amd64", "") {
		t.Error("the key ignores the parent")
	}
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if strings.HasPrefix(data, "->") {
			if err := os.Symlink(strings.TrimPrefix(data, "->"), p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func copyStep(t *testing.T, line string) *CopySpec {
	t.Helper()
	return steps(t, plan(t, "FROM busybox\nWORKDIR /app\n"+line+"\n", PlanOptions{}))["stage-0"][1].Copy
}

func listTree(t *testing.T, root string) []string {
	var out []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		s := rel
		if fi.Mode()&os.ModeSymlink != 0 {
			tgt, _ := os.Readlink(p)
			s += " -> " + tgt
		} else if fi.IsDir() {
			s += "/"
		} else {
			b, _ := os.ReadFile(p)
			s += fmt.Sprintf(" %q %o", b, fi.Mode().Perm())
		}
		out = append(out, s)
		return nil
	})
	return out
}

func TestCopyFromContext(t *testing.T) {
	ctxDir := t.TempDir()
	writeTree(t, ctxDir, map[string]string{
		"a.txt": "a", "b1.txt": "b1", "b2.txt": "b2", "secret.key": "k", "dir/x": "x", "dir/skip.log": "l",
		"dir/link": "->../../../etc/passwd", ".dockerignore": "*.key\n**/*.log\n",
	})
	src, err := NewContext(ctxDir, IgnoreFile(ctxDir, filepath.Join(ctxDir, "Dockerfile")))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	spec := copyStep(t, "COPY b*.txt a.txt dir sub/")
	ms, err := spec.Resolve(src)
	if err != nil {
		t.Fatal(err)
	}
	d1, err := spec.Digest(ctx, src, ms)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := spec.Copy(ctx, src, ms, root, CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(listTree(t, root), "\n")
	want := strings.Join([]string{`app/`, `app/sub/`, `app/sub/a.txt "a" 644`, `app/sub/b1.txt "b1" 644`, `app/sub/b2.txt "b2" 644`,
		`app/sub/link -> ../../../etc/passwd`, `app/sub/x "x" 644`}, "\n")
	if got != want {
		t.Errorf("tree:\n%s\nwant\n%s", got, want)
	}
	// touch keeps the digest; a content or mode change does not.
	future := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(ctxDir, "a.txt"), future, future)
	if d2, _ := spec.Digest(ctx, src, ms); d2 != d1 {
		t.Error("touch changed the sources digest")
	}
	os.Chmod(filepath.Join(ctxDir, "a.txt"), 0o600)
	if d3, _ := spec.Digest(ctx, src, ms); d3 == d1 {
		t.Error("chmod did not change the sources digest")
	}
	os.WriteFile(filepath.Join(ctxDir, "dir/skip.log"), []byte("changed"), 0o644)
	os.Chmod(filepath.Join(ctxDir, "a.txt"), 0o644)
	if d4, _ := spec.Digest(ctx, src, ms); d4 != d1 {
		t.Error("an ignored file changed the sources digest")
	}

	for _, bad := range []string{"COPY ../x /x", "COPY missing /x", "COPY secret.key /x", "COPY nomatch* /x"} {
		if _, err := copyStep(t, bad).Resolve(src); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestCopyChmodAndHeredoc(t *testing.T) {
	ctxDir := t.TempDir()
	writeTree(t, ctxDir, map[string]string{"f": "data"})
	src, _ := NewContext(ctxDir, "")
	root := t.TempDir()
	os.Symlink("/etc", filepath.Join(root, "escape")) // absolute link: resolved inside root
	for _, line := range []string{"COPY --chmod=0755 f /escape/f", "COPY <<EOT /app/note\nhello\nEOT"} {
		spec := copyStep(t, line)
		ms, err := spec.Resolve(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := spec.Copy(context.Background(), src, ms, root, CopyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "etc/f")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("chmod through an in-root symlink: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "app/note")); string(b) != "hello\n" {
		t.Errorf("heredoc: %q", b)
	}
}
