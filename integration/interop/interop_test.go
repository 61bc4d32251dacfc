// Package interop checks that hako's image archives and those of Docker, podman and skopeo are
// interchangeable: what one engine saves, the others load, under the same image ID (the config
// digest) and, where the format carries one, the same tag.
//
// The tests run as root and need the peer engines of /work/shared/peers/peers.sh (override its
// path with HAKO_PEERS_SH). Each peer that is missing skips the tests that need it. TestMain builds
// hako once (HAKO_BIN=/path/to/hako tests that binary instead), starts one dockerd 20.10 in a
// network namespace of its own and gives podman a private storage; every test has its own hako
// --root. Containers run with --network none, so nothing touches the host's network.
package interop

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var (
	hakoBin   string   // the hako binary TestMain built
	rootfsTar string   // a busybox rootfs tar: the base image every engine imports
	dockerEnv []string // DOCKER_HOST=...; nil when docker is unusable
	dockerWhy string   // why docker is unusable
	podmanEnv []string // CONTAINERS_CONF=... CONTAINERS_STORAGE_CONF=...; nil when podman is unusable
	podmanWhy string
	skopeoWhy string // empty when skopeo is usable
)

const cmdTimeout = 2 * time.Minute

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Println("interop: skipped: the tests need root (dockerd, podman storage, hako's overlay snapshots)")
		return 0
	}
	tmp, err := os.MkdirTemp("", "hako-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		unmountUnder(tmp)
		os.RemoveAll(tmp)
	}()

	if hakoBin = os.Getenv("HAKO_BIN"); hakoBin == "" { // HAKO_BIN: test a binary built elsewhere
		hakoBin = filepath.Join(tmp, "hako")
		build := exec.Command("go", "build", "-o", hakoBin, "../../cmd/hako")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "interop: go build of cmd/hako:", err)
			return 1
		}
	}
	rootfsTar = filepath.Join(tmp, "rootfs.tar")
	if err := makeRootfsTar(rootfsTar); err != nil {
		fmt.Fprintln(os.Stderr, "interop: busybox rootfs:", err)
		return 1
	}

	peers := os.Getenv("HAKO_PEERS_SH")
	if peers == "" {
		// The checkout sits beside shared/ in this workplace: ../shared/peers/peers.sh from the
		// repository root.
		peers, _ = filepath.Abs("../../../shared/peers/peers.sh")
		if _, err := os.Stat(peers); err != nil {
			peers = "/work/shared/peers/peers.sh"
		}
	}
	peersDir := filepath.Join(tmp, "peers")
	netns := fmt.Sprintf("hako-interop-%d", os.Getpid())
	peerEnv := append(os.Environ(), "PEERS_DIR="+peersDir, "PEERS_NETNS="+netns)
	_, peersErr := os.Stat(peers)

	switch {
	case !onPath("docker") || !onPath("dockerd"):
		dockerWhy = "docker/dockerd not installed (bash peers.sh install)"
	case peersErr != nil:
		dockerWhy = "no " + peers + " to start dockerd with (set HAKO_PEERS_SH)"
	default:
		out, err := runEnv(peerEnv, "bash", peers, "dockerd", "start")
		host := exportValue(out, "DOCKER_HOST")
		if err == nil && host != "" {
			env := append(os.Environ(), "DOCKER_HOST="+host)
			if _, err = runEnv(env, "docker", "version"); err == nil {
				dockerEnv = env
			}
		}
		if dockerEnv == nil {
			log, _ := os.ReadFile(filepath.Join(peersDir, "dockerd.log"))
			dockerWhy = fmt.Sprintf("dockerd did not start: %v %s\n%s", err, out, tail(string(log), 2000))
		}
		defer func() {
			runEnv(peerEnv, "bash", peers, "dockerd", "stop")
			exec.Command("ip", "netns", "delete", netns).Run()
		}()
	}

	switch {
	case !onPath("podman"):
		podmanWhy = "podman not installed (bash peers.sh install)"
	case peersErr != nil:
		podmanWhy = "no " + peers + " to configure podman with (set HAKO_PEERS_SH)"
	default:
		out, err := runEnv(peerEnv, "bash", peers, "podman-env")
		conf, storage := exportValue(out, "CONTAINERS_CONF"), exportValue(out, "CONTAINERS_STORAGE_CONF")
		if err != nil || conf == "" || storage == "" {
			podmanWhy = fmt.Sprintf("peers.sh podman-env: %v %s", err, out)
			break
		}
		podmanEnv = append(os.Environ(), "CONTAINERS_CONF="+conf, "CONTAINERS_STORAGE_CONF="+storage)
		defer runEnv(podmanEnv, "podman", "rmi", "--all", "--force")
	}

	if !onPath("skopeo") {
		skopeoWhy = "skopeo not installed (bash peers.sh install)"
	}
	return m.Run()
}

// storeRoot is a fresh directory for a hako store; its runtime directory on a tmpfs (the
// engine's runtimedir.go) goes with it.
func storeRoot(t *testing.T) string {
	root := t.TempDir()
	t.Cleanup(func() {
		if target, err := os.Readlink(filepath.Join(root, "runtime")); err == nil && strings.Contains(filepath.Base(target), "hako-runtime-") {
			os.RemoveAll(target)
		}
	})
	return root
}

// --- the tests ---

// A `hako save` archive loads in docker 20.10 under hako's image ID and tag, and runs there.
func TestHakoSaveLoadsInDocker(t *testing.T) {
	needDocker(t)
	root := storeRoot(t)
	id := hakoImport(t, root, "interop/hako-to-docker:v1")
	archive := filepath.Join(t.TempDir(), "hako.tar")
	hako(t, root, "save", "-o", archive, "interop/hako-to-docker:v1")

	defer docker(t, "rmi", "-f", "interop/hako-to-docker:v1")
	out := docker(t, "load", "-i", archive)
	if !strings.Contains(out, "Loaded image: interop/hako-to-docker:v1") {
		t.Errorf("docker load said %q, want Loaded image: interop/hako-to-docker:v1", out)
	}
	if got := strings.TrimSpace(docker(t, "image", "inspect", "--format", "{{.Id}}", "interop/hako-to-docker:v1")); got != id {
		t.Errorf("docker's image ID %s, hako's %s", got, id)
	}
	if got := strings.TrimSpace(docker(t, "run", "--rm", "--network", "none", "interop/hako-to-docker:v1", "echo", "ok")); got != "ok" {
		t.Errorf("docker run … echo ok printed %q", got)
	}
}

// A `hako save` archive loads in podman under hako's image ID and tag, and runs there.
func TestHakoSaveLoadsInPodman(t *testing.T) {
	needPodman(t)
	root := storeRoot(t)
	id := hakoImport(t, root, "interop/hako-to-podman:v1")
	archive := filepath.Join(t.TempDir(), "hako.tar")
	hako(t, root, "save", "-o", archive, "interop/hako-to-podman:v1")

	defer podman(t, "rmi", "-f", "docker.io/interop/hako-to-podman:v1")
	out := podman(t, "load", "-i", archive)
	if !strings.Contains(out, "Loaded image: docker.io/interop/hako-to-podman:v1") {
		t.Errorf("podman load said %q, want Loaded image: docker.io/interop/hako-to-podman:v1", out)
	}
	if got := "sha256:" + strings.TrimSpace(podman(t, "image", "inspect", "--format", "{{.Id}}", "docker.io/interop/hako-to-podman:v1")); got != id {
		t.Errorf("podman's image ID %s, hako's %s", got, id)
	}
	if got := strings.TrimSpace(podman(t, "run", "--rm", "--network", "none", "docker.io/interop/hako-to-podman:v1", "echo", "ok")); got != "ok" {
		t.Errorf("podman run … echo ok printed %q", got)
	}
}

// skopeo reads a `hako save` archive both as docker-archive: and as oci-archive:, and sees hako's
// config (and, through the OCI layout, hako's own manifest).
func TestSkopeoInspectsHakoArchive(t *testing.T) {
	needSkopeo(t)
	root := storeRoot(t)
	id := hakoImport(t, root, "interop/hako-to-skopeo:v1")
	archive := filepath.Join(t.TempDir(), "hako.tar")
	hako(t, root, "save", "-o", archive, "interop/hako-to-skopeo:v1")
	manifestDigest := strings.TrimSpace(hako(t, root, "images", "--no-trunc", "--format", "{{.Digest}}", "interop/hako-to-skopeo:v1"))

	for _, transport := range []string{"docker-archive", "oci-archive"} {
		t.Run(transport, func(t *testing.T) {
			ref := transport + ":" + archive
			var info struct {
				Digest string
				Layers []string
				Os     string
			}
			if err := json.Unmarshal([]byte(skopeo(t, "inspect", ref)), &info); err != nil {
				t.Fatalf("skopeo inspect %s: %v", ref, err)
			}
			if info.Os != "linux" || len(info.Layers) != 1 {
				t.Errorf("skopeo inspect %s: Os %q, %d layers; want linux, 1", ref, info.Os, len(info.Layers))
			}
			if got := skopeoConfigDigest(t, ref); got != id {
				t.Errorf("skopeo inspect --raw %s: config %s, hako's image ID %s", ref, got, id)
			}
			if cfg := skopeo(t, "inspect", "--config", "--raw", ref); sha256hex([]byte(cfg)) != id {
				t.Errorf("skopeo inspect --config --raw %s: config digest %s, want %s", ref, sha256hex([]byte(cfg)), id)
			}
			if transport == "oci-archive" && info.Digest != manifestDigest {
				t.Errorf("skopeo inspect %s: manifest %s, hako images --digests says %s", ref, info.Digest, manifestDigest)
			}
		})
	}
}

// `docker save` (20.10: the legacy layout with <id>.json and <layer>/layer.tar) loads in hako.
func TestDockerSaveLoadsInHako(t *testing.T) {
	needDocker(t)
	defer docker(t, "rmi", "-f", "interop/docker-to-hako:v1")
	docker(t, "import", rootfsTar, "interop/docker-to-hako:v1")
	id := strings.TrimSpace(docker(t, "image", "inspect", "--format", "{{.Id}}", "interop/docker-to-hako:v1"))
	archive := filepath.Join(t.TempDir(), "docker.tar")
	docker(t, "save", "-o", archive, "interop/docker-to-hako:v1")

	root := storeRoot(t)
	out := hako(t, root, "load", "-i", archive)
	if !strings.Contains(out, "Loaded image: interop/docker-to-hako:v1") {
		t.Errorf("hako load said %q", out)
	}
	hakoWant(t, root, "interop/docker-to-hako:v1", id)
}

// `podman save` in its default docker-archive format and as an OCI archive loads in hako.
func TestPodmanSaveLoadsInHako(t *testing.T) {
	needPodman(t)
	const name = "localhost/interop/podman-to-hako:v1"
	defer podman(t, "rmi", "-f", name)
	podman(t, "import", rootfsTar, name)
	id := "sha256:" + strings.TrimSpace(podman(t, "image", "inspect", "--format", "{{.Id}}", name))

	for _, format := range []string{"docker-archive", "oci-archive"} {
		t.Run(format, func(t *testing.T) {
			archive := filepath.Join(t.TempDir(), "podman.tar")
			podman(t, "save", "--format", format, "-o", archive, name)
			root := storeRoot(t)
			out := hako(t, root, "load", "-i", archive)
			if !strings.Contains(out, "Loaded image: "+name) {
				t.Errorf("hako load said %q, want Loaded image: %s", out, name)
			}
			hakoWant(t, root, name, id)
		})
	}
}

// `skopeo copy` to docker-archive: and oci-archive: makes archives that load in hako under the
// image ID skopeo reports (its OCI conversion rewrites the config, so the ID may change) and the
// tag it wrote. Sources: podman's storage (an image podman imported), and a `hako save` archive.
func TestSkopeoCopyLoadsInHako(t *testing.T) {
	needSkopeo(t)
	type source struct{ name, ref string }
	var sources []source

	hroot := storeRoot(t)
	hakoImport(t, hroot, "interop/hako-src:v1")
	hakoArchive := filepath.Join(t.TempDir(), "hako.tar")
	hako(t, hroot, "save", "-o", hakoArchive, "interop/hako-src:v1")
	sources = append(sources, source{"from-hako-archive", "docker-archive:" + hakoArchive})
	if podmanEnv != nil {
		const name = "localhost/interop/skopeo-src:v1"
		defer podman(t, "rmi", "-f", name)
		podman(t, "import", rootfsTar, name)
		sources = append(sources, source{"from-containers-storage", "containers-storage:" + name})
	} else {
		t.Logf("no containers-storage source: %s", podmanWhy)
	}

	for _, src := range sources {
		for _, transport := range []string{"docker-archive", "oci-archive"} {
			t.Run(src.name+"/"+transport, func(t *testing.T) {
				tag := "interop/skopeo-" + transport + ":" + src.name
				archive := filepath.Join(t.TempDir(), "skopeo.tar")
				dest := transport + ":" + archive + ":" + tag
				skopeo(t, "copy", "--quiet", src.ref, dest)
				id := skopeoConfigDigest(t, transport+":"+archive)

				root := storeRoot(t)
				out := hako(t, root, "load", "-i", archive)
				if !strings.Contains(out, "Loaded image: "+tag) {
					t.Errorf("hako load said %q, want Loaded image: %s", out, tag)
				}
				hakoWant(t, root, tag, id)
			})
		}
	}
}

// A two-layer image that docker builds (a RUN that adds a file and deletes one, so the second layer
// carries a whiteout) goes docker → hako → podman and back to docker under one ID, and runs.
func TestDockerBuildRoundTrip(t *testing.T) {
	needDocker(t)
	const base, name = "interop/build-base:v1", "interop/build:v1"
	defer docker(t, "rmi", "-f", name, base)
	docker(t, "import", rootfsTar, base)
	ctx := t.TempDir()
	dockerfile := "FROM " + base + "\nRUN echo built > /built && rm /bin/vi\nENV STAGE=two\nCMD [\"cat\", \"/built\"]\n"
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	docker(t, "build", "-q", "-t", name, ctx)
	id := strings.TrimSpace(docker(t, "image", "inspect", "--format", "{{.Id}}", name))
	dockerArchive := filepath.Join(t.TempDir(), "docker.tar")
	docker(t, "save", "-o", dockerArchive, name)

	root := storeRoot(t)
	hako(t, root, "load", "-i", dockerArchive)
	hakoWant(t, root, name, id)
	if n := strings.TrimSpace(hako(t, root, "inspect", "--format", "{{len .RootFS.Layers}}", name)); n != "2" {
		t.Errorf("hako: %s has %s layers, want 2", name, n)
	}
	hakoArchive := filepath.Join(t.TempDir(), "hako.tar")
	hako(t, root, "save", "-o", hakoArchive, name)

	docker(t, "rmi", name)
	docker(t, "load", "-i", hakoArchive)
	if got := strings.TrimSpace(docker(t, "image", "inspect", "--format", "{{.Id}}", name)); got != id {
		t.Errorf("docker → hako → docker: ID %s, was %s", got, id)
	}
	if got := strings.TrimSpace(docker(t, "run", "--rm", "--network", "none", name)); got != "built" {
		t.Errorf("docker run %s printed %q, want built", name, got)
	}
	if podmanEnv == nil {
		t.Logf("no podman leg: %s", podmanWhy)
		return
	}
	defer podman(t, "rmi", "-f", "docker.io/"+name)
	podman(t, "load", "-i", hakoArchive)
	if got := "sha256:" + strings.TrimSpace(podman(t, "image", "inspect", "--format", "{{.Id}}", "docker.io/"+name)); got != id {
		t.Errorf("docker → hako → podman: ID %s, was %s", got, id)
	}
	out := podman(t, "run", "--rm", "--network", "none", "docker.io/"+name, "sh", "-c", "cat /built; test -e /bin/vi && echo vi-is-back || echo vi-gone")
	if got := strings.Fields(out); !slices.Equal(got, []string{"built", "vi-gone"}) {
		t.Errorf("podman run: %q, want built and vi-gone (the whiteout of /bin/vi)", out)
	}
}

// A multi-image `hako save a b` (here with a second tag of a as well) loads in docker with every tag.
func TestMultiImageSaveLoadsInDocker(t *testing.T) {
	needDocker(t)
	root := storeRoot(t)
	idA := hakoImport(t, root, "interop/multi-a:v1")
	idB := strings.TrimSpace(hako(t, root, "import", "-c", "ENV MULTI=b", "-c", `CMD ["echo","b"]`, rootfsTar, "interop/multi-b:v1"))
	if idA == idB {
		t.Fatalf("the two imports have the same ID %s", idA)
	}
	hako(t, root, "tag", "interop/multi-a:v1", "interop/multi-a:v2")
	archive := filepath.Join(t.TempDir(), "multi.tar")
	hako(t, root, "save", "-o", archive, "interop/multi-a:v1", "interop/multi-b:v1", "interop/multi-a:v2")

	want := map[string]string{"interop/multi-a:v1": idA, "interop/multi-a:v2": idA, "interop/multi-b:v1": idB}
	for tag := range want {
		defer docker(t, "rmi", "-f", tag)
	}
	out := docker(t, "load", "-i", archive)
	for tag, id := range want {
		if !strings.Contains(out, "Loaded image: "+tag) {
			t.Errorf("docker load said %q, no Loaded image: %s", out, tag)
		}
		if got := strings.TrimSpace(docker(t, "image", "inspect", "--format", "{{.Id}}", tag)); got != id {
			t.Errorf("docker: %s has ID %s, hako's is %s", tag, got, id)
		}
	}
	if got := strings.TrimSpace(docker(t, "run", "--rm", "--network", "none", "interop/multi-b:v1")); got != "b" {
		t.Errorf("docker run interop/multi-b:v1 (CMD echo b) printed %q", got)
	}
}

// --- helpers ---

func needDocker(t *testing.T) {
	t.Helper()
	if dockerEnv == nil {
		t.Skip("docker unusable here: " + dockerWhy)
	}
}

func needPodman(t *testing.T) {
	t.Helper()
	if podmanEnv == nil {
		t.Skip("podman unusable here: " + podmanWhy)
	}
}

func needSkopeo(t *testing.T) {
	t.Helper()
	if skopeoWhy != "" {
		t.Skip("skopeo unusable here: " + skopeoWhy)
	}
}

func hako(t *testing.T, root string, args ...string) string {
	t.Helper()
	return mustRun(t, nil, hakoBin, append([]string{"--root", root}, args...)...)
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	return mustRun(t, dockerEnv, "docker", args...)
}

func podman(t *testing.T, args ...string) string {
	t.Helper()
	return mustRun(t, podmanEnv, "podman", args...)
}

func skopeo(t *testing.T, args ...string) string {
	t.Helper()
	env := podmanEnv // containers-storage: needs podman's storage configuration
	return mustRun(t, env, "skopeo", args...)
}

// hakoImport imports the busybox rootfs into hako as name and returns the image ID.
func hakoImport(t *testing.T, root, name string) string {
	t.Helper()
	id := strings.TrimSpace(hako(t, root, "import", rootfsTar, name))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("hako import printed %q, want an image ID", id)
	}
	return id
}

// hakoWant checks that hako has name, with image ID id, and that the image's name is in RepoTags.
func hakoWant(t *testing.T, root, name, id string) {
	t.Helper()
	out, err := runEnv(nil, hakoBin, "--root", root, "image", "inspect", "--format", "{{.Id}} {{json .RepoTags}}", name)
	if err != nil {
		imgs, _ := runEnv(nil, hakoBin, "--root", root, "images", "--no-trunc")
		t.Errorf("hako has no image %s: %v %s; hako images:\n%s", name, err, out, imgs)
		return
	}
	gotID, tagsJSON, _ := strings.Cut(strings.TrimSpace(out), " ")
	if gotID != id {
		t.Errorf("hako: %s has ID %s, want %s", name, gotID, id)
	}
	var tags []string
	json.Unmarshal([]byte(tagsJSON), &tags)
	if !slices.Contains(tags, strings.TrimPrefix(name, "docker.io/")) {
		t.Errorf("hako: %s has RepoTags %v", name, tags)
	}
}

// skopeoConfigDigest is the image ID skopeo sees in ref: the config digest of its manifest.
func skopeoConfigDigest(t *testing.T, ref string) string {
	t.Helper()
	var m struct{ Config struct{ Digest string } }
	raw := skopeo(t, "inspect", "--raw", ref)
	if err := json.Unmarshal([]byte(raw), &m); err != nil || m.Config.Digest == "" {
		t.Fatalf("skopeo inspect --raw %s: no config digest in %q: %v", ref, raw, err)
	}
	return m.Config.Digest
}

func mustRun(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runEnv(env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// runEnv runs a command (env nil: this process's environment) and returns stdout, or stdout and
// stderr together when it fails.
func runEnv(env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

func onPath(name string) bool { _, err := exec.LookPath(name); return err == nil }

// exportValue finds NAME=value in the "export ..." lines that peers.sh prints.
func exportValue(out, name string) string {
	for _, f := range strings.Fields(out) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return v
		}
	}
	return ""
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// makeRootfsTar writes a 2 MB busybox root filesystem tar, like `peers.sh rootfs-tar`: a static
// /bin/busybox with its applet links, /etc/passwd and /etc/group.
func makeRootfsTar(out string) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox not installed (apt-get install busybox-static): %w", err)
	}
	bin, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	if ef, err := elf.NewFile(bytes.NewReader(bin)); err != nil {
		return fmt.Errorf("%s: %w", bb, err)
	} else if slices.ContainsFunc(ef.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
		return fmt.Errorf("%s is dynamically linked: install busybox-static", bb)
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	mtime := time.Unix(1700000000, 0)
	add := func(h *tar.Header, body []byte) error {
		h.ModTime, h.Format = mtime, tar.FormatPAX
		if body != nil {
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	for _, d := range []string{"bin", "etc", "tmp", "root", "proc", "sys", "dev", "home"} {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := add(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode}, nil); err != nil {
			return err
		}
	}
	if err := add(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755}, bin); err != nil {
		return err
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + applet, Linkname: "busybox", Mode: 0o777}, nil); err != nil {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for _, name := range []string{"etc/group", "etc/passwd"} {
		if err := add(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644}, []byte(files[name])); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// unmountUnder detaches whatever dockerd or podman left mounted below dir (deepest first), so
// that the directory can be removed.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var mounts []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			mounts = append(mounts, f[4])
		}
	}
	slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
	for _, m := range mounts {
		unix.Unmount(m, unix.MNT_DETACH)
	}
}
