package build

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseChmod(t *testing.T) {
	cases := []struct {
		spec  string
		in    fs.FileMode
		dir   bool
		want  fs.FileMode
		shown string
	}{
		{"0755", 0o600, false, 0o755, "0755"},
		{"755", 0o600, true, 0o755, "0755"},
		{"4755", 0o600, false, 0o755 | fs.ModeSetuid, "4755"},
		{"u+x,go-w", 0o666, false, 0o744, "u+x,go-w"},
		{"+x", 0o644, false, 0o755, "+x"},
		{"a=rX", 0o640, false, 0o444, "a=rX"},
		{"a=rX", 0o700, false, 0o555, "a=rX"},
		{"a=rX", 0o700, true, 0o555, "a=rX"},
		{"go=u", 0o750, false, 0o777, "go=u"},
		{"g=u-w", 0o750, false, 0o750, "g=u-w"},
		{"o-rwx", 0o777, false, 0o770, "o-rwx"},
		{"u+s,+t", 0o755, true, 0o755 | fs.ModeSetuid | fs.ModeSticky, "u+s,+t"},
		{"u=rw,g=r,o=", 0o777, false, 0o640, "u=rw,g=r,o="},
	}
	for _, c := range cases {
		ch, err := ParseChmod(c.spec)
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
			continue
		}
		if got := ch.Apply(c.in, c.dir); got != c.want {
			t.Errorf("%s on %o (dir %v): %o, want %o", c.spec, c.in, c.dir, got, c.want)
		}
		if ch.String() != c.shown {
			t.Errorf("%s shows as %q", c.spec, ch.String())
		}
	}
	for _, bad := range []string{"99999", "u", "u+q", "x+r", "u+ug", "u+x,,g+w", "07777777"} {
		if _, err := ParseChmod(bad); err == nil || !strings.Contains(err.Error(), "--chmod="+bad) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// copyInto runs one COPY line from ctxDir into a fresh root and lists the result.
func copyInto(t *testing.T, ctxDir, line string) []string {
	t.Helper()
	src, err := NewContext(ctxDir, "")
	if err != nil {
		t.Fatal(err)
	}
	spec := copyStep(t, line)
	ms, err := spec.Resolve(src)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := spec.Copy(context.Background(), src, ms, root, CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	return listTree(t, root)
}

func TestCopyExcludeParentsChmod(t *testing.T) {
	ctxDir := t.TempDir()
	writeTree(t, ctxDir, map[string]string{
		"src/a.go": "a", "src/a_test.go": "t", "src/sub/b.go": "b", "src/sub/notes.md": "n",
		"src/tmp/x.go": "x", "top.md": "m", "top.go": "g", "lib/c/d.go": "d",
	})
	cases := []struct {
		line string
		want []string
	}{
		{"COPY --exclude=*_test.go --exclude=**/*.md --exclude=tmp src /out/", []string{
			`out/`, `out/a.go "a" 644`, `out/sub/`, `out/sub/b.go "b" 644`}},
		{"COPY --exclude=*.md top.* /out/", []string{`out/`, `out/top.go "g" 644`}},
		{"COPY --parents src/sub/b.go lib/c/d.go /out/", []string{
			`out/`, `out/lib/`, `out/lib/c/`, `out/lib/c/d.go "d" 644`, `out/src/`, `out/src/sub/`, `out/src/sub/b.go "b" 644`}},
		{"COPY --parents src/./sub/*.go /out", []string{`out/`, `out/sub/`, `out/sub/b.go "b" 644`}},
		{"COPY --parents --exclude=a_test.go src/a*.go /out/", []string{`out/`, `out/src/`, `out/src/a.go "a" 644`}},
		{"COPY --chmod=u+x,go-w src/sub /out/", []string{`out/`, `out/b.go "b" 744`, `out/notes.md "n" 744`}},
		{"COPY --chmod=a=rX src/sub /out/", []string{`out/`, `out/b.go "b" 444`, `out/notes.md "n" 444`}},
	}
	for _, c := range cases {
		got := copyInto(t, ctxDir, c.line)
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s:\n%s\nwant\n%s", c.line, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
}

func TestCopyExcludeDigest(t *testing.T) {
	ctxDir := t.TempDir()
	writeTree(t, ctxDir, map[string]string{"d/keep": "k", "d/skip.log": "1"})
	src, _ := NewContext(ctxDir, "")
	spec := copyStep(t, "COPY --exclude=*.log d /d/")
	ms, err := spec.Resolve(src)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d1, _ := spec.Digest(ctx, src, ms)
	os.WriteFile(filepath.Join(ctxDir, "d/skip.log"), []byte("2"), 0o644)
	if d2, _ := spec.Digest(ctx, src, ms); d2 != d1 {
		t.Error("an excluded file changed the sources digest")
	}
	os.WriteFile(filepath.Join(ctxDir, "d/keep"), []byte("K"), 0o644)
	if d3, _ := spec.Digest(ctx, src, ms); d3 == d1 {
		t.Error("a copied file did not change the sources digest")
	}
}

func TestCopyLinkKey(t *testing.T) {
	// The key text of a --link step does not read the stage's state (USER here).
	a := steps(t, plan(t, "FROM busybox\nUSER a\nCOPY --link f /f\n", PlanOptions{}))["stage-0"][1]
	b := steps(t, plan(t, "FROM busybox\nUSER b\nCOPY --link f /f\n", PlanOptions{}))["stage-0"][1]
	if a.KeyText != b.KeyText || !a.Copy.Link {
		t.Errorf("--link keys differ: %q vs %q", a.KeyText, b.KeyText)
	}
	c := steps(t, plan(t, "FROM busybox\nUSER a\nCOPY f /f\n", PlanOptions{}))["stage-0"][1]
	d := steps(t, plan(t, "FROM busybox\nUSER b\nCOPY f /f\n", PlanOptions{}))["stage-0"][1]
	if c.KeyText == d.KeyText {
		t.Error("without --link the key ignores USER")
	}
	if !strings.Contains(a.CreatedBy, "COPY --link f /f") {
		t.Errorf("history: %q", a.CreatedBy)
	}
}
