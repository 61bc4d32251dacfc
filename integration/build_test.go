package integration

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildCtx writes a build context: name → content ("->target" makes a symlink).
func buildCtx(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if target, ok := strings.CutPrefix(data, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func (s *store) build(args ...string) result {
	s.t.Helper()
	return s.run(append([]string{"build", "--progress", "plain"}, args...)...)
}

func (s *store) mustBuild(args ...string) string {
	s.t.Helper()
	r := s.build(args...)
	if r.code != 0 {
		s.t.Fatalf("build %v: exit %d\n%s", args, r.code, r.stderr)
	}
	return r.stderr
}

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

// TestBuildMultiStage: a multi-stage build with COPY --from, --chown/--chmod, .dockerignore, a
// heredoc RUN and ARG scoping; --target builds only the stages it needs.
func TestBuildMultiStage(t *testing.T) {
	s := runStore(t)
	dir := buildCtx(t, map[string]string{
		"Dockerfile": `ARG GREETING=hello
FROM busybox AS build
ARG GREETING
ARG LOCAL=local-default
WORKDIR /src
COPY . .
RUN <<EOF
echo "$GREETING $LOCAL" > /src/out
echo built
EOF
FROM busybox AS unused
RUN echo UNUSED-STAGE-RAN
FROM busybox
RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group
COPY --from=build --chown=app:app --chmod=0750 /src/out /app/out
COPY --from=build /src/ /tree/
USER app
CMD ["cat", "/app/out"]
`,
		"a.txt": "A", "keep/b.txt": "B", "secret.key": "K", "logs/x.log": "L", "link": "->a.txt",
		".dockerignore": "*.key\nlogs\n",
	})
	out := s.mustBuild("-t", "app", "--build-arg", "LOCAL=from-cli", dir)
	if strings.Contains(out, "UNUSED-STAGE-RAN") {
		t.Error("a stage the target does not need was built")
	}
	if got := s.ok("run", "--rm", "app"); got != "hello from-cli\n" {
		t.Errorf("global ARG and --build-arg: %q", got)
	}
	if got := s.ok("run", "--rm", "app", "stat", "-c", "%U:%G %a", "/app/out"); got != "app:app 750\n" {
		t.Errorf("--chown/--chmod: %q", got)
	}
	tree := s.ok("run", "--rm", "app", "sh", "-c", "cd /tree && find . | sort && readlink link")
	for _, want := range []string{"./a.txt\n", "./keep/b.txt\n", "./link\n", "./out\n", "./.dockerignore\n"} {
		if !strings.Contains(tree, want) {
			t.Errorf("context copy lacks %q:\n%s", want, tree)
		}
	}
	if strings.Contains(tree, "secret.key") || strings.Contains(tree, "logs") || !strings.HasSuffix(tree, "\na.txt\n") {
		t.Errorf("context copy with .dockerignore and a symlink kept as a symlink:\n%s", tree)
	}

	out = s.mustBuild("--target", "build", "-t", "onlybuild", dir)
	if strings.Contains(out, "UNUSED-STAGE-RAN") || strings.Contains(out, "stage-2") {
		t.Errorf("--target built other stages:\n%s", out)
	}
	if got := s.ok("run", "--rm", "onlybuild", "cat", "/src/out"); got != "hello local-default\n" {
		t.Errorf("target image: %q", got)
	}
}

// TestBuildCacheAndHistory: a rebuild after touch is fully cached and gives the same image;
// history shows every step's ID and each ID runs the filesystem after that step.
func TestBuildCacheAndHistory(t *testing.T) {
	s := runStore(t)
	dir := buildCtx(t, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY f /f\nRUN echo two >> /f\nENV X=1\nRUN echo three >> /f\n",
		"f":          "one\n",
	})
	s.mustBuild("-t", "c", dir)
	id1 := strings.TrimSpace(s.ok("images", "-q", "--no-trunc", "c"))
	future := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "f"), future, future)
	out := s.mustBuild("-t", "c", dir)
	steps := regexp.MustCompile(`(?m)^#\d+ \[\d/5\] `).FindAllString(out, -1)
	if n := strings.Count(out, "CACHED"); n != 4 || len(steps) != 5 {
		t.Errorf("rebuild after touch: %d CACHED of %d steps\n%s", n, len(steps), out)
	}
	if id2 := strings.TrimSpace(s.ok("images", "-q", "--no-trunc", "c")); id2 != id1 {
		t.Errorf("cached rebuild made another image: %s then %s", id1, id2)
	}

	hist := strings.Split(strings.TrimSpace(s.ok("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}", "c")), "\n")
	if len(hist) != 5 {
		t.Fatalf("history:\n%s", strings.Join(hist, "\n"))
	}
	want := map[string]string{"COPY f /f": "one\n", "RUN /bin/sh -c echo two": "one\ntwo\n", "ENV X=1": "one\ntwo\n", "RUN /bin/sh -c echo three": "one\ntwo\nthree\n"}
	checked := 0
	for _, h := range hist {
		id, by, _ := strings.Cut(h, "|")
		if id == "<missing>" {
			t.Errorf("history line without an ID: %s", h)
			continue
		}
		for prefix, content := range want {
			if strings.HasPrefix(by, prefix) {
				checked++
				if got := s.ok("run", "--rm", id, "cat", "/f"); got != content {
					t.Errorf("run %s (%s): %q, want %q", id, by, got, content)
				}
			}
		}
	}
	if checked != 4 {
		t.Errorf("history lines matched %d steps:\n%s", checked, strings.Join(hist, "\n"))
	}
	if got := s.ok("run", "--rm", strings.Split(hist[1], "|")[0], "sh", "-c", "echo $X"); got != "1\n" {
		t.Errorf("the ENV step's image has ENV: %q", got)
	}
	os.WriteFile(filepath.Join(dir, "f"), []byte("ONE\n"), 0o644)
	if out := s.mustBuild("-t", "c", dir); strings.Contains(out, "CACHED") {
		t.Errorf("changed source still cached:\n%s", out)
	}
	if out := s.mustBuild("--no-cache", dir); strings.Contains(out, "CACHED") {
		t.Errorf("--no-cache used the cache:\n%s", out)
	}
	s.ok("builder", "prune", "-af")
	if out := s.mustBuild(dir); strings.Contains(out, "CACHED") {
		t.Errorf("cache survived builder prune -a:\n%s", out)
	}
}

// TestBuildFromStdin: -f - and a context tar on stdin; -q and --iidfile give the ID; --label.
func TestBuildFromStdin(t *testing.T) {
	s := runStore(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range map[string]string{"Dockerfile": "FROM busybox\nCOPY hi /hi\n", "hi": "from tar\n"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	iid := filepath.Join(t.TempDir(), "iid")
	r := s.runIn(buf.Bytes(), "build", "-q", "--iidfile", iid, "-t", "fromtar", "-")
	if r.code != 0 {
		t.Fatalf("build -: %+v", r)
	}
	b, _ := os.ReadFile(iid)
	if strings.TrimSpace(r.stdout) != string(b) || !strings.HasPrefix(string(b), "sha256:") {
		t.Errorf("-q printed %q, iidfile has %q", r.stdout, b)
	}
	if got := s.ok("run", "--rm", "fromtar", "cat", "/hi"); got != "from tar\n" {
		t.Errorf("context from stdin: %q", got)
	}
	dir := buildCtx(t, map[string]string{"x": "x\n"})
	r = s.runIn([]byte("FROM busybox\nCOPY x /x\nLABEL a=b\n"), "build", "-q", "-f", "-", "-t", "dfstdin", "--label", "from=cli", dir)
	if r.code != 0 {
		t.Fatalf("build -f -: %+v", r)
	}
	if got := s.ok("inspect", "--format", "{{.Config.Labels}}", "dfstdin"); got != "map[a:b from:cli]\n" {
		t.Errorf("labels: %q", got)
	}
}

// TestBuildBadInput: each bad input gives a clear error, a non-zero exit, and no tag.
func TestBuildBadInput(t *testing.T) {
	s := runStore(t)
	os.Unsetenv("HAKO_TEST_UNSET_VAR")
	cases := []struct {
		name  string
		files map[string]string // nil: a context that does not exist
		args  []string
		code  int
		msg   string
	}{
		{"missing Dockerfile", map[string]string{"a": "a"}, nil, 125, "failed to read dockerfile"},
		{"empty Dockerfile", map[string]string{"Dockerfile": ""}, nil, 125, "the Dockerfile is empty"},
		{"syntax error", map[string]string{"Dockerfile": "FROM busybox\nFORM x\n"}, nil, 125, "Dockerfile:2:1: unknown instruction: FORM"},
		{"image not in store", map[string]string{"Dockerfile": "FROM nosuch/image:1\n"}, nil, 125, "no registry configured"},
		{"COPY missing file", map[string]string{"Dockerfile": "FROM busybox\nCOPY nothere /x\n"}, nil, 125, `"nothere" not found in the build context`},
		{"COPY ../x", map[string]string{"Dockerfile": "FROM busybox\nCOPY ../x /x\n"}, nil, 125, "outside the build context"},
		{"build-arg without value", map[string]string{"Dockerfile": "FROM busybox\n"}, []string{"--build-arg", "HAKO_TEST_UNSET_VAR"}, 125, "has no value"},
		{"RUN fails", map[string]string{"Dockerfile": "FROM busybox\nRUN echo ok\nRUN echo last words; exit 7\n"}, nil, 1, "exit code: 7"},
		{"unsupported flag", map[string]string{"Dockerfile": "FROM busybox\nRUN --device=/dev/null true\n"}, nil, 125, "not supported by hako"},
		{"missing context", nil, nil, 125, "not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := "/nonexistent-hako-context"
			if c.files != nil {
				dir = buildCtx(t, c.files)
			}
			args := append(append([]string{"-t", "bad:tag"}, c.args...), dir)
			before := s.ok("images", "-a", "-q")
			r := s.build(args...)
			if r.code != c.code || !strings.Contains(r.stderr, c.msg) {
				t.Errorf("exit %d (want %d), stderr:\n%s\nwant %q", r.code, c.code, r.stderr, c.msg)
			}
			if strings.Contains(s.ok("images"), "bad") {
				t.Error("a failed build tagged its image")
			}
			if c.name == "RUN fails" {
				if !strings.Contains(r.stderr, "[3/3] RUN echo last words") || !strings.Contains(r.stderr, "last output: last words") {
					t.Errorf("failure does not name the step or its output:\n%s", r.stderr)
				}
				// The step before the failure stays cached.
				if out := s.mustBuild(buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo ok\n"})); !strings.Contains(out, "CACHED") {
					t.Errorf("the step before the failure was not cached:\n%s", out)
				}
			} else if after := s.ok("images", "-a", "-q"); after != before {
				t.Errorf("a failed build recorded images:\nbefore %s\nafter %s", before, after)
			}
			if tmp, _ := filepath.Glob(filepath.Join(s.root, "tmp", "build-*")); len(tmp) > 0 {
				t.Errorf("a failed build left its scratch directory: %v", tmp)
			}
		})
	}
}

// TestBuildKilled: a build killed with SIGKILL during a RUN tags nothing and leaves no image.
func TestBuildKilled(t *testing.T) {
	s := runStore(t)
	// The RUN ends well before the next build below (which then collects its runtime state and
	// cgroups): with `sleep 5` it could still run then, and its cgroups outlived the test.
	dir := buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo start; sleep 3\n"})
	before := s.ok("images", "-a", "-q")
	cmd := exec.Command(hakoBin, "--root", s.root, "build", "-t", "killed", "--progress", "plain", dir)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), " start") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	time.Sleep(5500 * time.Millisecond) // the orphaned RUN ends; its mounts go with its namespace
	if strings.Contains(s.ok("images"), "killed") {
		t.Error("a killed build was tagged")
	}
	if after := s.ok("images", "-a", "-q"); after != before {
		t.Errorf("a killed build recorded an image:\n%s", after)
	}
	// The next build works and collects what the killed one left.
	s.mustBuild("-t", "after", dir)
}
