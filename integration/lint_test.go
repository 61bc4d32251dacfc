package integration

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hako lint and hako image check, driven as a user would: files on disk, stdin, every output
// format, exit codes, --explain, --list, suppression comments and the config file.

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const badDockerfile = `FROM debian:latest
RUN apt-get update && apt-get install -y curl
COPY id_rsa /root/.ssh/id_rsa
CMD nginx & php-fpm
`

func TestLintText(t *testing.T) {
	s := newStore(t)
	dir := writeFiles(t, map[string]string{"Dockerfile": badDockerfile, "id_rsa": "k", ".dockerignore": ".git\n"})
	df := filepath.Join(dir, "Dockerfile")
	r := s.run("lint", df)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		df + ":1:1 LatestBaseImage warning: base image debian:latest uses the latest tag; pin a version tag or digest instead of :latest\n    1 | FROM debian:latest\n",
		df + ":2:1 AptNoInstallRecommends info:",
		df + ":3:1 CredentialFileCopied error: COPY copies id_rsa into the image;",
		df + ":4:1 MultipleProcesses warning:",
		df + ":4:1 JSONArgsRecommended warning:",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("missing %q in:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "MissingDockerignore") {
		t.Error("MissingDockerignore with a .dockerignore")
	}

	// thresholds: only the error fails at error; nothing fails at none
	if r := s.run("lint", "--failure-threshold", "error", "--ignore", "CredentialFileCopied", df); r.code != 0 {
		t.Errorf("threshold error without the error finding: exit %d\n%s", r.code, r.stdout)
	}
	if r := s.run("lint", "-t", "error", df); r.code != 1 {
		t.Errorf("threshold error: exit %d", r.code)
	}
	if r := s.run("lint", "-t", "none", df); r.code != 0 {
		t.Errorf("threshold none: exit %d", r.code)
	}
	if r := s.run("lint", "-t", "loud", df); r.code != 125 || !strings.Contains(r.stderr, "invalid severity") {
		t.Errorf("bad threshold: exit %d %s", r.code, r.stderr)
	}
	if r := s.run("lint", filepath.Join(dir, "nope")); r.code == 0 || r.code == 1 {
		t.Errorf("missing file: exit %d", r.code)
	}
}

func TestLintStdinAndClean(t *testing.T) {
	s := newStore(t)
	good := "FROM alpine:3.19\nRUN apk add --no-cache curl=8.5.0-r0\nUSER nobody\nHEALTHCHECK CMD [\"true\"]\nCMD [\"sleep\", \"1\"]\n"
	r := s.runIn([]byte(good), "lint", "-")
	if r.code != 0 || r.stdout != "" {
		t.Errorf("clean Dockerfile: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = s.runIn([]byte("FROM alpine\n"), "lint", "-")
	if r.code != 1 || !strings.HasPrefix(r.stdout, "-:1:1 UntaggedBaseImage warning:") {
		t.Errorf("stdin: exit %d\n%s", r.code, r.stdout)
	}
	r = s.runIn([]byte("FROM alpine:3.19\nFROOM x\n"), "lint", "-")
	if r.code != 1 || !strings.Contains(r.stdout, "-:2:1 DockerfileSyntax error: unknown instruction: FROOM") {
		t.Errorf("syntax error: exit %d\n%s", r.code, r.stdout)
	}
}

func TestLintFormats(t *testing.T) {
	s := newStore(t)
	dir := writeFiles(t, map[string]string{"Dockerfile": badDockerfile, "id_rsa": "k", ".dockerignore": ".git\n"})
	df := filepath.Join(dir, "Dockerfile")

	r := s.run("lint", "--format", "json", df)
	var fs []struct {
		File, Rule, Severity, Message, Code string
		Line, Column                        int
	}
	if err := json.Unmarshal([]byte(r.stdout), &fs); err != nil || r.code != 1 || len(fs) < 5 {
		t.Fatalf("json: %v exit %d\n%s", err, r.code, r.stdout)
	}
	if fs[0].File != df || fs[0].Rule != "LatestBaseImage" || fs[0].Line != 1 || fs[0].Severity != "warning" || fs[0].Code != "FROM debian:latest" {
		t.Errorf("json finding %+v", fs[0])
	}

	r = s.run("lint", "-f", "sarif", df)
	var log struct {
		Version string
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string
					Rules []struct{ ID string }
				}
			}
			Results []struct {
				RuleID    string
				RuleIndex int
				Level     string
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &log); err != nil || log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("sarif: %v\n%s", err, r.stdout)
	}
	run := log.Runs[0]
	if len(run.Results) != len(fs) {
		t.Errorf("sarif results %d, json %d", len(run.Results), len(fs))
	}
	for _, res := range run.Results {
		if run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID || res.Locations[0].PhysicalLocation.ArtifactLocation.URI != df || res.Locations[0].PhysicalLocation.Region.StartLine < 1 {
			t.Errorf("sarif result %+v", res)
		}
	}
	if !strings.Contains(r.stdout, `"$schema": "https://json.schemastore.org/sarif-2.1.0.json"`) {
		t.Error("sarif $schema")
	}

	r = s.run("lint", "-f", "checkstyle", df)
	if r.code != 1 || !strings.HasPrefix(r.stdout, "<?xml") || !strings.Contains(r.stdout, `<file name="`+df+`">`) || !strings.Contains(r.stdout, `source="CredentialFileCopied"`) {
		t.Errorf("checkstyle:\n%s", r.stdout)
	}
	if r := s.run("lint", "-f", "yaml", df); r.code != 125 {
		t.Errorf("unknown format: exit %d", r.code)
	}
}

func TestLintExplainList(t *testing.T) {
	s := newStore(t)
	out := s.ok("lint", "--list")
	for _, want := range []string{"RULE", "AptUnpinned", "DL3008", "StageNameCasing", "buildkit", "ImageCredentialFile", "image"} {
		if !strings.Contains(out, want) {
			t.Errorf("--list lacks %q", want)
		}
	}
	if lines := strings.Count(out, "\n"); lines < 50 {
		t.Errorf("--list has %d lines", lines)
	}
	out = s.ok("lint", "--explain", "DL3008")
	if !strings.HasPrefix(out, "AptUnpinned (warning, dockerfile, from hadolint)") || !strings.Contains(out, "Fix: ") {
		t.Errorf("--explain DL3008:\n%s", out)
	}
	out = s.ok("lint", "--explain", "SecretsUsedInArgOrEnv")
	if !strings.Contains(out, "https://docs.docker.com/go/dockerfile/rule/secrets-used-in-arg-or-env/") {
		t.Errorf("--explain BuildKit rule:\n%s", out)
	}
	if r := s.run("lint", "--explain", "NoSuchRule"); r.code != 125 || !strings.Contains(r.stderr, "no rule") {
		t.Errorf("--explain unknown: %d %s", r.code, r.stderr)
	}
}

func TestLintSuppression(t *testing.T) {
	s := newStore(t)
	body := "FROM debian:12\n# hadolint ignore=DL3008,DL3015\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\nMAINTAINER me\n"
	dir := writeFiles(t, map[string]string{"Dockerfile": body, ".dockerignore": ".git\n"})
	r := s.run("lint", filepath.Join(dir, "Dockerfile"))
	if r.code != 1 || strings.Contains(r.stdout, "AptUnpinned") || strings.Contains(r.stdout, "AptNoInstallRecommends") || !strings.Contains(r.stdout, "MaintainerDeprecated") {
		t.Errorf("hadolint ignore: exit %d\n%s", r.code, r.stdout)
	}
	dir = writeFiles(t, map[string]string{"Dockerfile": "# check=skip=MaintainerDeprecated,DL3008,AptNoInstallRecommends\n" + body, ".dockerignore": ".git\n"})
	if r := s.run("lint", filepath.Join(dir, "Dockerfile")); r.code != 0 || r.stdout != "" {
		t.Errorf("check=skip: exit %d\n%s", r.code, r.stdout)
	}
	// check=error=true fails even below the threshold
	dir = writeFiles(t, map[string]string{"Dockerfile": "# check=error=true\nFROM debian:12\nMAINTAINER me\n", ".dockerignore": ".git\n"})
	if r := s.run("lint", "-t", "error", filepath.Join(dir, "Dockerfile")); r.code != 1 {
		t.Errorf("check=error=true: exit %d\n%s", r.code, r.stdout)
	}
	// .hako-lint.yaml beside the Dockerfile
	dir = writeFiles(t, map[string]string{"Dockerfile": "FROM ghcr.io/acme/base:1\nMAINTAINER me\n", ".dockerignore": ".git\n",
		".hako-lint.yaml": "ignored: [DL4000]\ntrustedRegistries: [ghcr.io/acme]\nrequiredLabels: [org.opencontainers.image.source]\noverride:\n  error: [MissingRequiredLabel]\n"})
	r = s.run("lint", "-f", "json", filepath.Join(dir, "Dockerfile"))
	if r.code != 1 || !strings.Contains(r.stdout, `"rule": "MissingRequiredLabel"`) || !strings.Contains(r.stdout, `"severity": "error"`) || strings.Contains(r.stdout, "Maintainer") || strings.Contains(r.stdout, "Untrusted") {
		t.Errorf("config: exit %d\n%s", r.code, r.stdout)
	}
	os.WriteFile(filepath.Join(dir, ".hako-lint.yaml"), []byte("ignore: [DL4000]\n"), 0o644)
	if r := s.run("lint", filepath.Join(dir, "Dockerfile")); r.code != 125 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("bad config: exit %d %s", r.code, r.stderr)
	}
}

// imageArchive is a docker-archive of one image with the given container config.
func imageArchive(t *testing.T, tag string, config map[string]any, history []map[string]any, layers ...[]byte) []byte {
	t.Helper()
	var entries []entry
	var diffIDs, names []string
	for i, l := range layers {
		name := fmt.Sprintf("l%d/layer.tar", i)
		entries = append(entries, entry{name: name, typ: tar.TypeReg, body: string(l), mode: 0o644})
		names = append(names, name)
		diffIDs = append(diffIDs, sha(l))
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "config": config,
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}, "history": history})
	cfgName := fmt.Sprintf("%x.json", sha256.Sum256(cfg))
	m, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{tag}, "Layers": names}})
	entries = append(entries, entry{name: cfgName, typ: tar.TypeReg, body: string(cfg), mode: 0o644}, entry{name: "manifest.json", typ: tar.TypeReg, body: string(m), mode: 0o644})
	return makeTar(t, entries...)
}

func TestImageCheck(t *testing.T) {
	s := newStore(t)
	base := makeTar(t, dir("etc"),
		file("etc/passwd", "root:x:0:0::/root:/bin/sh\nadmin:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n"),
		entry{name: "etc/shadow", typ: tar.TypeReg, body: "root:*:1::::::\napp::1::::::\n", mode: 0o600},
		entry{name: "usr/bin/su", typ: tar.TypeReg, body: "elf", mode: 0o4755},
		entry{name: "srv/upload", typ: tar.TypeDir, mode: 0o777},
		file("root/.aws/credentials", "[default]\naws_secret_access_key=x\n"),
		file("build/cache.bin", strings.Repeat("z", 10000)))
	cleanup := makeTar(t, file("root/.aws/.wh.credentials", ""), file("build/.wh.cache.bin", ""))
	arch := imageArchive(t, "bad:1", map[string]any{"Env": []string{"PATH=/bin", "API_KEY=abc123"}},
		[]map[string]any{{"created_by": "COPY . /"}, {"created_by": "|1 NPM_TOKEN=npm_abcdef /bin/sh -c npm ci"}}, base, cleanup)
	s.runIn(arch, "load")
	if out := s.ok("images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, "bad:1") {
		t.Fatalf("load: %s", out)
	}
	r := s.run("image", "check", "bad:1")
	if r.code != 1 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"bad:1 ImageRunsAsRoot warning: the image has no USER and runs as root",
		"ImageSecretInConfig error: ENV API_KEY holds a secret",
		"ImageSecretInHistory error: history step 2 records NPM_TOKEN=…",
		"ImageCredentialFile error: /root/.aws/credentials (layer 1, deleted later but still in that layer)",
		"ImageWastedBytes info: 9.8 KiB in 2 files",
		"ImageSetuidFile info: 1 setuid/setgid files: /usr/bin/su",
		"ImageWorldWritableDir warning: /srv/upload is world-writable",
		"ImageEmptyPassword error: user app has an empty password",
		"ImageDuplicateUID warning: UID 0 is shared by root, admin",
		"ImageNoHealthcheck info",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("missing %q in:\n%s", want, r.stdout)
		}
	}
	r = s.run("image", "check", "-f", "json", "bad:1")
	var fs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &fs); err != nil || len(fs) < 10 {
		t.Errorf("json: %v\n%s", err, r.stdout)
	}

	// a clean image made with import: unprivileged USER, a HEALTHCHECK, nothing else to say
	good := makeTar(t, dir("etc"), file("etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n"),
		entry{name: "tmp", typ: tar.TypeDir, mode: 0o1777}, entry{name: "app", typ: tar.TypeReg, body: "elf", mode: 0o755})
	s.runIn(imageArchive(t, "good:1", map[string]any{"User": "app", "Healthcheck": map[string]any{"Test": []string{"CMD", "/app", "-h"}}}, nil, good), "load")
	if r := s.run("image", "check", "good:1"); r.code != 0 || r.stdout != "" {
		t.Errorf("good image: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	p := filepath.Join(t.TempDir(), "plain.tar")
	os.WriteFile(p, good, 0o644)
	s.ok("import", p, "plain:1")
	if r := s.run("image", "check", "-t", "error", "plain:1"); r.code != 0 || !strings.Contains(r.stdout, "ImageRunsAsRoot") || !strings.Contains(r.stdout, "ImageNoHealthcheck") {
		t.Errorf("imported image: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := s.run("image", "check", "nosuch:1"); r.code != 125 {
		t.Errorf("missing image: exit %d", r.code)
	}
}

func TestRunWarnsAndStrictRefuses(t *testing.T) {
	s := newStore(t)
	s.ok("import", busyboxTar(t), "bb:1")
	sock := filepath.Join(t.TempDir(), "docker.sock")
	os.WriteFile(sock, nil, 0o600)
	r := s.run("run", "--rm", "-v", sock+":/var/run/docker.sock:ro", "bb:1", "true")
	if r.code != 0 || !strings.Contains(r.stderr, "WARNING: mounting the engine socket "+sock) || !strings.Contains(r.stderr, "read-only does not help") {
		t.Errorf("socket warning: exit %d\n%s", r.code, r.stderr)
	}
	r = s.run("run", "--rm", "--strict", "-v", "/etc:/host-etc", "bb:1", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "refusing to run (--strict): mounting the host's /etc") {
		t.Errorf("strict /etc: exit %d\n%s", r.code, r.stderr)
	}
	r = s.run("create", "--strict", "--privileged", "bb:1", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "--privileged") {
		t.Errorf("strict privileged: exit %d\n%s", r.code, r.stderr)
	}
	if out := s.ok("ps", "-a", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("--strict left containers: %q", out)
	}
	r = s.run("run", "--rm", "-v", t.TempDir()+":/data", "bb:1", "true")
	if r.code != 0 || strings.Contains(r.stderr, "WARNING") {
		t.Errorf("plain bind: exit %d\n%s", r.code, r.stderr)
	}
}

func TestBuildCheck(t *testing.T) {
	s := newStore(t)
	dir := writeFiles(t, map[string]string{"Dockerfile": "FROM bb:1\nVOLUME /proc\nCMD echo hi\n", ".dockerignore": ".git\n"})
	r := s.run("build", "--check", "-t", "x:1", dir)
	if r.code != 1 || !strings.Contains(r.stdout, "VolumeSystemPath error") || !strings.Contains(r.stdout, "JSONArgsRecommended warning") {
		t.Errorf("build --check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	dir = writeFiles(t, map[string]string{"Dockerfile": "FROM bb:1\nCMD echo hi\n", ".dockerignore": ".git\n"})
	if r := s.run("build", "--check", "-t", "x:1", dir); r.code != 0 || !strings.Contains(r.stdout, "JSONArgsRecommended") {
		t.Errorf("build --check with warnings only: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if out := s.ok("images", "-a", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("build --check built something: %q", out)
	}
	// # check=error=true stops a real build before any step, after the summary
	dir = writeFiles(t, map[string]string{"Dockerfile": "# check=error=true\nFROM bb:1\nCMD echo hi\n", ".dockerignore": ".git\n"})
	r = s.run("build", "-t", "x:1", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "1 warnings found") || !strings.Contains(r.stderr, " - JSONArgsRecommended: ") || !strings.Contains(r.stderr, "check=error=true") {
		t.Errorf("check=error=true: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
