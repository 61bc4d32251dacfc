package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestImageLifecycle walks the foundation verbs as a user would: import a busybox rootfs with
// --change, list it every way, history, inspect, tag, save, remove, load back with the same ID.
func TestImageLifecycle(t *testing.T) {
	s := newStore(t)
	tarPath := busyboxTar(t)
	id := strings.TrimSpace(s.ok("import", "-c", `CMD ["sh"]`, "-c", "ENV A=1 B=two", "-c", "LABEL team=core", "-c", "USER nobody",
		"-c", "WORKDIR /srv", "-c", "EXPOSE 8080", "-m", "base image", tarPath, "busybox:1.0"))
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("import printed %q, want an image ID", id)
	}
	out := s.ok("images")
	if !regexp.MustCompile(`(?m)^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^busybox\s+1\.0\s+`+id[7:19]+`\s+.*ago\s+[0-9.]+MB$`).MatchString(out) {
		t.Fatalf("images:\n%s", out)
	}
	if got := strings.TrimSpace(s.ok("images", "-q")); got != id[7:19] {
		t.Fatalf("images -q = %q", got)
	}
	if got := strings.TrimSpace(s.ok("images", "-q", "--no-trunc")); got != id {
		t.Fatalf("images -q --no-trunc = %q", got)
	}
	var row map[string]string
	if err := json.Unmarshal([]byte(s.ok("images", "--format", "json")), &row); err != nil || row["Repository"] != "busybox" || row["Tag"] != "1.0" {
		t.Fatalf("images --format json: %v %v", row, err)
	}
	if got := s.ok("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "label=team=core"); got != "busybox:1.0\n" {
		t.Fatalf("label filter: %q", got)
	}
	if got := s.ok("images", "-q", "--filter", "label=team=other"); got != "" {
		t.Fatalf("label filter matched: %q", got)
	}
	if got := s.ok("images", "-q", "--filter", "dangling=true"); got != "" {
		t.Fatalf("dangling filter matched a tagged image: %q", got)
	}
	if got := s.ok("images", "-q", "--filter", "reference=busy*"); strings.TrimSpace(got) != id[7:19] {
		t.Fatalf("reference filter: %q", got)
	}

	// inspect: Docker's shape, config from --change.
	var docs []map[string]any
	if err := json.Unmarshal([]byte(s.ok("inspect", "busybox:1.0")), &docs); err != nil || len(docs) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	cfg := docs[0]["Config"].(map[string]any)
	if docs[0]["Id"] != id || cfg["User"] != "nobody" || cfg["WorkingDir"] != "/srv" || docs[0]["Os"] != "linux" {
		t.Fatalf("inspect: %v", docs[0])
	}
	if got := s.ok("inspect", "--format", "{{json .Config.Cmd}} {{.Config.Env}} {{.Comment}}", id[7:15]); got != "[\"sh\"] [A=1 B=two] base image\n" {
		t.Fatalf("inspect --format by ID prefix: %q", got)
	}

	// history: one imported layer, the message as comment.
	hist := s.ok("history", "busybox:1.0")
	if !regexp.MustCompile(`(?m)^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$`).MatchString(hist) || !strings.Contains(hist, id[7:19]) || !strings.Contains(hist, "base image") {
		t.Fatalf("history:\n%s", hist)
	}
	if got := s.ok("history", "-q", "--no-trunc", "busybox:1.0"); strings.TrimSpace(got) != id {
		t.Fatalf("history -q: %q", got)
	}

	// tag, then rmi by name untags only.
	s.ok("tag", "busybox:1.0", "example.com/team/bb:v2")
	if got := s.ok("images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(got, "example.com/team/bb:v2") || !strings.Contains(got, "busybox:1.0") {
		t.Fatalf("after tag: %q", got)
	}
	if r := s.run("rmi", id[7:19]); r.code == 0 || !strings.Contains(r.stderr, "referenced in multiple repositories") {
		t.Fatalf("rmi by ID of a twice-tagged image: %d %s", r.code, r.stderr)
	}
	if got := s.ok("rmi", "example.com/team/bb:v2"); got != "Untagged: example.com/team/bb:v2\n" {
		t.Fatalf("rmi by name: %q", got)
	}

	// save, remove, load: same ID, same tag, and the store is empty in between.
	archive := filepath.Join(t.TempDir(), "bb.tar")
	s.ok("save", "-o", archive, "busybox:1.0")
	if got := s.ok("rmi", "busybox:1.0"); got != "Untagged: busybox:1.0\nDeleted: "+id+"\n" {
		t.Fatalf("rmi: %q", got)
	}
	if blobs, _ := filepath.Glob(filepath.Join(s.root, "content/blobs/sha256/*")); len(blobs) != 0 {
		t.Fatalf("rmi left %d blobs", len(blobs))
	}
	if snaps, _ := filepath.Glob(filepath.Join(s.root, "snapshots/*/snapshots/[0-9]*")); len(snaps) != 0 {
		t.Fatalf("rmi left %d snapshots", len(snaps))
	}
	if got := s.ok("load", "-i", archive); got != "Loaded image: busybox:1.0\n" {
		t.Fatalf("load: %q", got)
	}
	if got := strings.TrimSpace(s.ok("images", "-q", "--no-trunc", "busybox:1.0")); got != id {
		t.Fatalf("loaded ID %q, saved %q", got, id)
	}
	// load from stdin too, into another store.
	b, _ := os.ReadFile(archive)
	s2 := newStore(t)
	if r := s2.runIn(b, "load"); r.code != 0 || r.stdout != "Loaded image: busybox:1.0\n" {
		t.Fatalf("load from stdin: %+v", r)
	}

	// a dangling image: re-import under the same tag leaves the old one <none>.
	s.ok("import", "-m", "second", tarPath, "busybox:1.0")
	if got := s.ok("images", "--filter", "dangling=true", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"); got != "<none>:<none> "+id[7:19]+"\n" {
		t.Fatalf("dangling: %q", got)
	}
	if got := s.ok("image", "prune", "-f"); !strings.Contains(got, "deleted: "+id) || !strings.Contains(got, "Total reclaimed space:") {
		t.Fatalf("image prune: %q", got)
	}
	if got := s.ok("system", "df"); !regexp.MustCompile(`(?m)^Images\s+1\s+0\s+`).MatchString(got) {
		t.Fatalf("system df:\n%s", got)
	}
}

// TestSaveSeveralImages writes one archive with two images and loads both.
func TestSaveSeveralImages(t *testing.T) {
	s := newStore(t)
	s.ok("import", busyboxTar(t), "one:latest")
	s.runIn(makeTar(t, dir("data/"), file("data/x", "x")), "import", "-", "two:latest")
	archive := filepath.Join(t.TempDir(), "two.tar")
	s.ok("save", "-o", archive, "one", "two")
	s2 := newStore(t)
	out := s2.ok("load", "-i", archive)
	if !strings.Contains(out, "Loaded image: one:latest") || !strings.Contains(out, "Loaded image: two:latest") {
		t.Fatalf("load of two images: %q", out)
	}
	for _, f := range []string{"manifest.json", "index.json", "oci-layout", "repositories"} {
		if r := s.runIn(nil, "save", "one"); r.code != 0 || !strings.Contains(r.stdout, f) {
			t.Fatalf("save to stdout lacks %s", f)
		}
	}
}

// TestCommandErrors: the usual mistakes give a one-line error and Docker's exit code.
func TestCommandErrors(t *testing.T) {
	s := newStore(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"rmi", "nosuch"}, "No such image: nosuch"},
		{[]string{"inspect", "nosuch"}, "No such object: nosuch"},
		{[]string{"image", "inspect", "nosuch"}, "No such image: nosuch"},
		{[]string{"history", "nosuch"}, "No such image: nosuch"},
		{[]string{"tag", "nosuch", "x"}, "No such image: nosuch"},
		{[]string{"load", "-i", "/nonexistent.tar"}, "/nonexistent.tar"},
		{[]string{"import", "/nonexistent.tar"}, "/nonexistent.tar"},
		{[]string{"images", "--filter", "color=red"}, `invalid filter "color"`},
		{[]string{"images", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"import", "-c", "RUN echo", "-"}, "RUN is not supported here"},
		{[]string{"tag", "a", "UPPER"}, "invalid reference format"},
	} {
		r := s.run(c.args...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("hako %v: exit %d, stderr %q; want non-zero and %q", c.args, r.code, r.stderr, c.want)
		}
		if r.code != 125 && c.args[0] != "inspect" && c.args[1] != "inspect" { // inspect exits 1 like Docker
			t.Errorf("hako %v: exit %d, want 125", c.args, r.code)
		}
	}
}
