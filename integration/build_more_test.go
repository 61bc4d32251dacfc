package integration

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
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

// TestBuildParallelStages: two independent stages run at the same time, which the times their
// RUNs write from inside show (the host's uptime, the same clock in every container); the plain
// output keeps each line's #N prefix.
func TestBuildParallelStages(t *testing.T) {
	s := runStore(t)
	stamp := "cut -d' ' -f1 /proc/uptime > /start && sleep 2 && cut -d' ' -f1 /proc/uptime > /end"
	dir := buildCtx(t, map[string]string{"Dockerfile": "FROM busybox AS a\nRUN echo A; " + stamp + "\n" +
		"FROM busybox AS b\nRUN echo B; " + stamp + "\n" +
		"FROM busybox\nCOPY --from=a /start /a.start\nCOPY --from=a /end /a.end\nCOPY --from=b /start /b.start\nCOPY --from=b /end /b.end\n"})
	out := s.mustBuild("-t", "par", dir)
	var times [4]float64
	got := s.ok("run", "--rm", "par", "cat", "/a.start", "/a.end", "/b.start", "/b.end")
	for i, f := range strings.Fields(got) {
		if i < 4 {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				t.Fatalf("times %q: %v", got, err)
			}
			times[i] = v
		}
	}
	aStart, aEnd, bStart, bEnd := times[0], times[1], times[2], times[3]
	if !(aStart < bEnd && bStart < aEnd) {
		t.Errorf("stages did not overlap: a %.2f–%.2f, b %.2f–%.2f\n%s", aStart, aEnd, bStart, bEnd, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "WARNING") {
			t.Errorf("an output line without its #N prefix: %q", l)
		}
	}
	if !regexp.MustCompile(`(?m)^#\d+ \d+\.\d+ A$`).MatchString(out) || !regexp.MustCompile(`(?m)^#\d+ \d+\.\d+ B$`).MatchString(out) {
		t.Errorf("RUN output lost its vertex prefix:\n%s", out)
	}
}

// TestBuildParallelStageFails: when one stage fails, the other's RUN is killed at once, the
// build exits 1 naming the failed step, and nothing is tagged.
func TestBuildParallelStageFails(t *testing.T) {
	s := runStore(t)
	dir := buildCtx(t, map[string]string{"Dockerfile": "FROM busybox AS slow\nRUN echo slow-started; sleep 61; touch /done\n" +
		"FROM busybox AS bad\nRUN sleep 1; echo failing; exit 3\n" +
		"FROM busybox\nCOPY --from=slow /done /done\nCOPY --from=bad /etc/passwd /p\n"})
	start := time.Now()
	r := s.build("-t", "parfail", dir)
	took := time.Since(start)
	if r.code != 1 || !strings.Contains(r.stderr, "exit code: 3") || !strings.Contains(r.stderr, "[bad 2/2] RUN sleep 1") {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	if took > 30*time.Second {
		t.Errorf("the failing stage did not stop the other (%v)", took)
	}
	if !regexp.MustCompile(`(?m)^#\d+ CANCELED$`).MatchString(r.stderr) {
		t.Errorf("the slow stage is not shown as canceled:\n%s", r.stderr)
	}
	if strings.Contains(s.ok("images"), "parfail") {
		t.Error("a failed build was tagged")
	}
	// The slow RUN's process is gone.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && string(b) == "sleep\x0061\x00" {
			t.Errorf("the canceled RUN still runs: %s", p)
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(s.root, "tmp", "build-*")); len(tmp) > 0 {
		t.Errorf("the failed build left its scratch directory: %v", tmp)
	}
}

// tarEntries lists the entries of a tar.
func tarEntries(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[strings.TrimPrefix(h.Name, "./")] = string(b)
	}
}

// TestBuildOutputs: --output type=local|tar|docker|oci and the -o DIR shortcut write the result
// outside the store and tag nothing; type=image (the default) tags.
func TestBuildOutputs(t *testing.T) {
	s := runStore(t)
	dir := buildCtx(t, map[string]string{
		"Dockerfile": "FROM busybox AS b\nRUN echo x > /x\nFROM busybox\nCOPY --from=b /x /out/x\nCOPY f /f\nCMD [\"cat\", \"/f\"]\n",
		"f":          "F",
	})
	top := func() string { return s.ok("images", "--no-trunc", "--format", "{{.ID}} {{.Repository}}") }
	before := top()
	out := t.TempDir()
	s.mustBuild("-t", "outimg", "-o", "type=local,dest="+out+"/local", dir)
	s.mustBuild("-t", "outimg", "-o", out+"/short", dir)
	for _, d := range []string{"local", "short"} {
		if b, err := os.ReadFile(filepath.Join(out, d, "out/x")); err != nil || string(b) != "x\n" {
			t.Errorf("%s: out/x %q %v", d, b, err)
		}
		if fi, err := os.Lstat(filepath.Join(out, d, "bin/sh")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s: bin/sh is not the image's symlink: %v", d, err)
		}
	}
	s.mustBuild("-t", "outimg", "--output", "type=tar,dest="+out+"/fs.tar", dir)
	f, err := os.Open(filepath.Join(out, "fs.tar"))
	if err != nil {
		t.Fatal(err)
	}
	names := tarEntries(t, f)
	f.Close()
	if names["f"] != "F" || names["out/x"] != "x\n" || names["bin/busybox"] == "" {
		t.Errorf("type=tar: %d entries, f=%q out/x=%q", len(names), names["f"], names["out/x"])
	}
	r := s.build("-q", "-o", "-", dir)
	if r.code != 0 {
		t.Fatalf("-o -: %s", r.stderr)
	}
	if got := tarEntries(t, strings.NewReader(r.stdout)); got["f"] != "F" {
		t.Errorf("-o - wrote no tar of the filesystem to stdout")
	}

	s.mustBuild("-t", "outimg", "--output", "type=docker,dest="+out+"/img.tar", dir)
	s.mustBuild("-t", "outimg", "--output", "type=oci,dest="+out+"/oci.tar", dir)
	f, _ = os.Open(filepath.Join(out, "oci.tar"))
	names = tarEntries(t, f)
	f.Close()
	if names["oci-layout"] == "" || !strings.Contains(names["index.json"], "outimg") {
		t.Errorf("type=oci: no OCI layout naming the image:\n%s", names["index.json"])
	}
	if after := top(); after != before || strings.Contains(after, "outimg") {
		t.Errorf("a non-image output recorded or tagged an image:\nbefore %s\nafter %s", before, after)
	}
	// The docker archive loads into another store and runs.
	s2 := runStore(t)
	s2.ok("load", "-i", filepath.Join(out, "img.tar"))
	if got := s2.ok("run", "--rm", "outimg"); got != "F" {
		t.Errorf("loaded docker output runs: %q", got)
	}
	// The default output tags.
	s.mustBuild("-t", "outimg", "--output", "type=image", dir)
	if !strings.Contains(top(), "outimg") {
		t.Error("type=image did not tag")
	}
	for _, bad := range [][]string{{"-o", "type=nope"}, {"-o", "type=tar"}, {"-o", "type=local,dest=/x,color=red"}} {
		if r := s.build(append(bad, dir)...); r.code != 125 || !strings.Contains(r.stderr, "--output") {
			t.Errorf("%v: exit %d %s", bad, r.code, r.stderr)
		}
	}
}
