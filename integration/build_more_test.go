package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
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

// tarEntries lists the entries of a tar with their content.
func tarEntries(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	out := map[string]string{}
	eachTarEntry(t, r, func(h *tar.Header, body io.Reader) {
		b, _ := io.ReadAll(body)
		out[strings.TrimPrefix(h.Name, "./")] = string(b)
	})
	return out
}

// eachTarEntry calls fn with each entry of a tar and its content, failing the test on a bad tar.
func eachTarEntry(t *testing.T, r io.Reader, fn func(h *tar.Header, body io.Reader)) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(h, tr)
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

// TestBuildAddURL: ADD of URLs served on 127.0.0.1: --checksum verified (a mismatch names the
// URL and both digests), a rebuild asks with If-None-Match and, on 304, is fully cached; a
// changed file rebuilds; URL archives are unpacked only with --unpack=true.
func TestBuildAddURL(t *testing.T) {
	s := runStore(t)
	var mu sync.Mutex
	body := "hello from the server\n"
	etag := `"v1"`
	modified := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	var conditional, notModified int
	var arc bytes.Buffer
	gz := gzip.NewWriter(&arc)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "inner.txt", Mode: 0o644, Size: 5, Typeflag: tar.TypeReg, ModTime: modified})
	tw.Write([]byte("inner"))
	tw.Close()
	gz.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/file.txt":
			if r.Header.Get("If-None-Match") != "" {
				conditional++
				if r.Header.Get("If-None-Match") == etag {
					notModified++
					w.WriteHeader(http.StatusNotModified)
					return
				}
			}
			w.Header().Set("ETag", etag)
			w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
			io.WriteString(w, body)
		case "/a.tar.gz":
			w.Write(arc.Bytes())
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return "sha256:" + hex.EncodeToString(h[:]) }
	df := func(checksum string) string {
		return "FROM busybox\nADD --checksum=" + checksum + " " + srv.URL + "/file.txt /dl/\n" +
			"ADD " + srv.URL + "/a.tar.gz /arc/\nADD --unpack=true " + srv.URL + "/a.tar.gz /unp/\n"
	}
	dir := buildCtx(t, map[string]string{"Dockerfile": df(sum(body))})
	s.mustBuild("-t", "url", dir)
	got := s.ok("run", "--rm", "url", "sh", "-c", "cat /dl/file.txt; stat -c '%a %Y' /dl/file.txt; ls /arc; ls /unp; cat /unp/inner.txt")
	want := body + "600 " + strconv.FormatInt(modified.Unix(), 10) + "\na.tar.gz\ninner.txt\ninner"
	if got != want {
		t.Errorf("ADD URL:\n%q\nwant\n%q", got, want)
	}
	out := s.mustBuild("-t", "url", dir)
	if n := strings.Count(out, "CACHED"); n != 3 {
		t.Errorf("rebuild with an unchanged server: %d CACHED, want 3\n%s", n, out)
	}
	mu.Lock()
	if conditional == 0 || notModified == 0 {
		t.Errorf("no conditional request answered 304 (%d conditional, %d not modified)", conditional, notModified)
	}
	body, etag = "changed\n", `"v2"`
	mu.Unlock()
	r := s.build("-t", "url", dir)
	if r.code != 125 || !strings.Contains(r.stderr, srv.URL+"/file.txt") || !strings.Contains(r.stderr, "checksum mismatch") ||
		!strings.Contains(r.stderr, sum("hello from the server\n")) || !strings.Contains(r.stderr, sum("changed\n")) {
		t.Errorf("checksum mismatch: exit %d\n%s", r.code, r.stderr)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df(sum("changed\n"))), 0o644)
	s.mustBuild("-t", "url", dir)
	if got := s.ok("run", "--rm", "url", "cat", "/dl/file.txt"); got != "changed\n" {
		t.Errorf("after a change on the server: %q", got)
	}
	for _, bad := range []string{"--checksum=md5:123", "--checksum=sha256:abc"} {
		d := buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nADD " + bad + " " + srv.URL + "/file.txt /x\n"})
		if r := s.build(d); r.code != 125 || !strings.Contains(r.stderr, "--checksum") {
			t.Errorf("%s: exit %d %s", bad, r.code, r.stderr)
		}
	}
	// The downloads are build cache: plain `builder prune` keeps them (the next build asks the
	// server about them), -a frees them, and the next build downloads again.
	downloads := func() int {
		m, _ := filepath.Glob(filepath.Join(s.root, "buildcache/http/*.data"))
		return len(m)
	}
	if n := downloads(); n != 2 {
		t.Fatalf("%d cached downloads, want 2 (file.txt and a.tar.gz)", n)
	}
	s.ok("builder", "prune", "-f")
	if n := downloads(); n != 2 {
		t.Errorf("builder prune without -a removed downloads: %d left", n)
	}
	s.ok("builder", "prune", "-af")
	if n := downloads(); n != 0 {
		t.Errorf("builder prune -a left %d downloads", n)
	}
	mu.Lock()
	conditional = 0
	mu.Unlock()
	s.mustBuild("-t", "url", dir)
	mu.Lock()
	defer mu.Unlock()
	if conditional != 0 || downloads() != 2 {
		t.Errorf("after prune -a the build asked conditionally %d times and cached %d downloads; want a fresh download of both", conditional, downloads())
	}
}

// TestBuildAddGit: ADD of a git repository served by git http-backend on 127.0.0.1: a tag and a
// subdirectory, --keep-git-dir, a commit checksum and its mismatch.
func TestBuildAddGit(t *testing.T) {
	backend := "/usr/lib/git-core/git-http-backend"
	if _, err := os.Stat(backend); err != nil {
		t.Skip("needs git (git http-backend)")
	}
	s := runStore(t)
	repos := t.TempDir()
	repo := filepath.Join(repos, "repo.git")
	work := t.TempDir()
	git := func(dir string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t",
			"GIT_AUTHOR_DATE=2024-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2024-01-02T03:04:05Z", "HOME="+work)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(work, "init", "-q", "-b", "main")
	os.MkdirAll(filepath.Join(work, "sub"), 0o755)
	os.WriteFile(filepath.Join(work, "sub", "a.txt"), []byte("A\n"), 0o644)
	os.WriteFile(filepath.Join(work, "top.txt"), []byte("T\n"), 0o644)
	git(work, "add", ".")
	git(work, "commit", "-q", "-m", "one")
	git(work, "tag", "v1")
	commit := git(work, "rev-parse", "HEAD")
	git(repos, "clone", "-q", "--bare", work, repo)
	srv := httptest.NewServer(&cgi.Handler{Path: backend, Root: "/", Env: []string{"GIT_PROJECT_ROOT=" + repos, "GIT_HTTP_EXPORT_ALL=1"}})
	defer srv.Close()
	u := srv.URL + "/repo.git"
	dir := buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nADD " + u + "#v1:sub /src/\n" +
		"ADD --keep-git-dir=true --checksum=" + commit + " " + u + "#main /full/\n"})
	s.mustBuild("-t", "gitimg", dir)
	got := s.ok("run", "--rm", "gitimg", "sh", "-c", "ls -A /src; cat /src/a.txt; ls -A /full; stat -c %Y /src/a.txt")
	want := "a.txt\nA\n.git\nsub\ntop.txt\n1704164645\n"
	if got != want {
		t.Errorf("ADD git:\n%q\nwant\n%q", got, want)
	}
	if out := s.mustBuild("-t", "gitimg", dir); strings.Count(out, "CACHED") != 2 {
		t.Errorf("rebuild of an unchanged repository is not cached:\n%s", out)
	}
	bad := strings.Repeat("0", 40)
	d := buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nADD --checksum=" + bad + " " + u + "#v1 /x/\n"})
	if r := s.build(d); r.code != 125 || !strings.Contains(r.stderr, "checksum mismatch") || !strings.Contains(r.stderr, commit) || !strings.Contains(r.stderr, u) {
		t.Errorf("git checksum mismatch: exit %d\n%s", r.code, r.stderr)
	}
}
