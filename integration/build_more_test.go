package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// manifestDigest reads the manifest digest that the store's index records for a name.
func (s *store) manifestDigest(name string) string {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.root, "content", "index.json"))
	if err != nil {
		s.t.Fatal(err)
	}
	var idx struct {
		Manifests []struct {
			Digest      string
			Annotations map[string]string
		}
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		s.t.Fatal(err)
	}
	for _, m := range idx.Manifests {
		if m.Annotations["io.containerd.image.name"] == "docker.io/library/"+name+":latest" {
			return m.Digest
		}
	}
	s.t.Fatalf("no %s in index.json:\n%s", name, b)
	return ""
}

func (s *store) imageID(name string) string {
	s.t.Helper()
	return strings.TrimSpace(s.ok("images", "-q", "--no-trunc", name))
}

// TestBuildCopyFlags: COPY --link makes a layer that does not depend on the parent (cached and
// byte-identical under another parent), --chown by name from the image's own /etc/passwd and by
// id, --chmod in symbolic form, --parents and repeatable --exclude.
func TestBuildCopyFlags(t *testing.T) {
	s := runStore(t)
	files := map[string]string{
		"f": "F", "src/a.go": "a", "src/a_test.go": "t", "src/doc/x.md": "x", "src/sub/b.go": "b",
	}
	df := func(first string) string {
		return "FROM busybox\n" + first + "\n" +
			"RUN echo 'app:x:1001:1002::/home/app:/bin/sh' >> /etc/passwd && echo 'appg:x:1002:' >> /etc/group\n" +
			"COPY --link --chown=app:appg --chmod=u+x,go-w f /linked/f\n" +
			"COPY --link f /plain/f\n" +
			"COPY --chown=42:43 --chmod=a=rX f /ids/f\n" +
			"COPY --parents src/a.go src/sub/b.go /p/\n" +
			"COPY --exclude=*_test.go --exclude=doc src /ex/\n"
	}
	files["Dockerfile"] = df("RUN echo one > /first")
	dirA := buildCtx(t, files)
	s.mustBuild("-t", "flags-a", dirA)
	got := s.ok("run", "--rm", "flags-a", "sh", "-c",
		"stat -c '%n %u:%g %a' /linked/f /ids/f; cat /linked/f; cd /p && find . -type f | sort; cd /ex && find . | sort")
	want := "/linked/f 1001:1002 744\n/ids/f 42:43 444\nF./src/a.go\n./src/sub/b.go\n.\n./a.go\n./sub\n./sub/b.go\n"
	if got != want {
		t.Errorf("flags:\n%s\nwant\n%s", got, want)
	}

	// Another parent: the plain --link step is cached and its layer is the same blob (the one
	// with --chown by name depends on the parent's /etc/passwd, so it is rebuilt).
	files["Dockerfile"] = df("RUN echo two > /first")
	out := s.mustBuild("-t", "flags-b", buildCtx(t, files))
	if !strings.Contains(out, "COPY --link f /plain/f\n#") || !lineHas(out, "COPY --link f /plain/f", "CACHED") {
		t.Errorf("COPY --link under a new parent was not cached:\n%s", out)
	}
	la := layers(t, s, "flags-a")
	lb := layers(t, s, "flags-b")
	if len(la) != len(lb) || len(la) < 6 {
		t.Fatalf("layers: %v vs %v", la, lb)
	}
	n := len(la)
	// busybox, RUN first, RUN passwd, link chown, link plain, ids, parents, exclude
	if la[n-7] == lb[n-7] {
		t.Error("the RUN layers should differ")
	}
	if la[n-4] != lb[n-4] {
		t.Errorf("--link layers differ under another parent:\n%v\n%v", la, lb)
	}
	if got := s.ok("run", "--rm", "flags-b", "cat", "/first", "/plain/f"); got != "two\nF" {
		t.Errorf("image on the new parent: %q", got)
	}
}

// lineHas reports whether the progress vertex whose title contains title ends with word.
func lineHas(out, title, word string) bool {
	id := ""
	for _, l := range strings.Split(out, "\n") {
		if id == "" && strings.Contains(l, title) {
			id = strings.Fields(l)[0]
			continue
		}
		if id != "" && strings.HasPrefix(l, id+" ") && strings.Contains(l, word) {
			return true
		}
	}
	return false
}

func layers(t *testing.T, s *store, name string) []string {
	t.Helper()
	return strings.Fields(s.ok("inspect", "--format", `{{range .RootFS.Layers}}{{.}} {{end}}`, name))
}

// TestBuildReproducible: with SOURCE_DATE_EPOCH (build arg or environment), two --no-cache
// builds of one context give the same config and manifest digests; without it they differ.
func TestBuildReproducible(t *testing.T) {
	s := runStore(t)
	dir := buildCtx(t, map[string]string{
		"Dockerfile": "FROM busybox AS b\nRUN echo built > /b\nFROM busybox\nCOPY . /src\nCOPY --from=b /b /b\nRUN mkdir -p /data && echo hi > /data/x && touch /data/y\nLABEL a=b\n",
		"a.txt":      "A", "dir/b.txt": "B",
	})
	const epoch = "1700000000"
	s.mustBuild("--no-cache", "-t", "r1", "--build-arg", "SOURCE_DATE_EPOCH="+epoch, dir)
	s.mustBuild("--no-cache", "-t", "r2", "--build-arg", "SOURCE_DATE_EPOCH="+epoch, dir)
	os.Setenv("SOURCE_DATE_EPOCH", epoch)
	out := s.mustBuild("--no-cache", "-t", "r3", dir)
	os.Unsetenv("SOURCE_DATE_EPOCH")
	if strings.Contains(out, "were not consumed") {
		t.Errorf("SOURCE_DATE_EPOCH reported as an unused build arg:\n%s", out)
	}
	id1, id2, id3 := s.imageID("r1"), s.imageID("r2"), s.imageID("r3")
	if id1 != id2 || id1 != id3 {
		t.Errorf("image IDs with SOURCE_DATE_EPOCH differ: %s %s %s", id1, id2, id3)
	}
	if m1, m2 := s.manifestDigest("r1"), s.manifestDigest("r2"); m1 != m2 {
		t.Errorf("manifest digests differ: %s %s", m1, m2)
	}
	if got := s.ok("inspect", "--format", "{{.Created}}", "r1"); !strings.HasPrefix(got, "2023-11-14T22:13:20") {
		t.Errorf("created is not the epoch: %q", got)
	}
	if got := s.ok("run", "--rm", "r1", "stat", "-c", "%Y", "/data/y", "/b"); got != epoch+"\n"+epoch+"\n" {
		t.Errorf("file times are not clamped: %q", got)
	}
	s.mustBuild("--no-cache", "-t", "r4", dir)
	if id4 := s.imageID("r4"); id4 == id1 {
		t.Error("a build without SOURCE_DATE_EPOCH has the same ID")
	}
}
