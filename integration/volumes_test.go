package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// volumeStore is a store with busybox:latest and "seeded", an image whose /data holds a file and
// is a VOLUME, and whose /escape is a symlink to the host's root.
func volumeStore(t *testing.T) *store {
	t.Helper()
	s := runStore(t)
	dir := t.TempDir()
	script := `set -e
mkdir "$1/r" && tar -C "$1/r" -xf "$2"
mkdir -p "$1/r/data/sub" && echo seeded >"$1/r/data/file" && chown 123:45 "$1/r/data/sub" && chmod 0750 "$1/r/data/sub"
ln -s / "$1/r/escape" && ln -s ../../../../.. "$1/r/up"
tar -C "$1/r" -cf "$1/seeded.tar" .`
	if out, err := exec.Command("sh", "-c", script, "sh", dir, busyboxTar(t)).CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	s.ok("import", "-c", `CMD ["sh"]`, "-c", "VOLUME /data", filepath.Join(dir, "seeded.tar"), "seeded")
	t.Cleanup(func() { s.run("volume", "prune", "-f", "-a") })
	return s
}

// TestVolumeCommands: create, ls with its filters and formats, inspect, rm (refused while a
// container names the volume), prune with and without -a; bad names change nothing.
func TestVolumeCommands(t *testing.T) {
	s := volumeStore(t)
	if got := s.ok("volume", "create", "--label", "team=a", "data1"); got != "data1\n" {
		t.Fatalf("create: %q", got)
	}
	s.ok("volume", "create", "data2")
	unnamed := strings.TrimSpace(s.ok("volume", "create"))
	if len(unnamed) != 64 {
		t.Fatalf("create without a name printed %q", unnamed)
	}
	// An anonymous volume: the image's VOLUME of a container that rm (without -v) left behind.
	s.ok("rm", strings.TrimSpace(s.ok("create", "seeded")))
	anon := strings.TrimSpace(s.ok("volume", "ls", "-q", "--filter", "label=com.docker.volume.anonymous"))
	if len(anon) != 64 {
		t.Fatalf("anonymous volume: %q", anon)
	}
	if got := s.ok("volume", "create", "data1"); got != "data1\n" {
		t.Fatalf("create of an existing name: %q", got)
	}
	if got := s.ok("volume", "ls"); !strings.HasPrefix(got, "DRIVER    VOLUME NAME\n") || !strings.Contains(got, "local     data1\n") {
		t.Fatalf("ls:\n%s", got)
	}
	if got := s.ok("volume", "ls", "-q", "--filter", "label=team=a"); got != "data1\n" {
		t.Fatalf("ls --filter label: %q", got)
	}
	if got := s.ok("volume", "ls", "-q", "--filter", "name=data"); got != "data1\ndata2\n" {
		t.Fatalf("ls --filter name: %q", got)
	}
	var vs []map[string]any
	if err := json.Unmarshal([]byte(s.ok("volume", "inspect", "data1")), &vs); err != nil || len(vs) != 1 {
		t.Fatalf("inspect: %v %v", vs, err)
	}
	if vs[0]["Name"] != "data1" || vs[0]["Driver"] != "local" || vs[0]["Scope"] != "local" ||
		vs[0]["Mountpoint"] != filepath.Join(s.root, "volumes/data1/_data") || vs[0]["Labels"].(map[string]any)["team"] != "a" {
		t.Fatalf("inspect: %v", vs[0])
	}
	if got := s.ok("volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "data2"); got != "data2 local\n" {
		t.Fatalf("inspect -f: %q", got)
	}

	// A stopped container still names its volume: rm refuses it, dangling=true leaves it out.
	id := strings.TrimSpace(s.ok("create", "-v", "data1:/d", "busybox", "true"))
	if got := s.ok("volume", "ls", "-q", "--filter", "dangling=true"); strings.Contains(got, "data1") || !strings.Contains(got, "data2") {
		t.Fatalf("ls dangling=true: %q", got)
	}
	if got := s.ok("volume", "ls", "--format", "{{.Name}} {{.Links}}", "--filter", "dangling=false"); got != "data1 1\n" {
		t.Fatalf("ls dangling=false: %q", got)
	}
	if r := s.run("volume", "rm", "data1"); r.code != 125 || !strings.Contains(r.stderr, "volume is in use - ["+id[:12]+"]") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("rm of a volume in use: %+v", r)
	}
	if r := s.run("volume", "rm", "-f", "data1"); r.code != 125 {
		t.Fatalf("rm -f of a volume in use: %+v", r)
	}

	// Bad input: one line, 125, nothing changed.
	before := s.ok("volume", "ls", "-q")
	for _, args := range [][]string{{"rm", "nosuch"}, {"rm", "a/b"}, {"rm", ".."}, {"rm", "../data2"}, {"create", "a/b"}, {"create", ".."}, {"inspect", "nosuch"}, {"ls", "--filter", "color=red"}} {
		r := s.run(append([]string{"volume"}, args...)...)
		if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "Error:") {
			t.Errorf("volume %v: %+v", args, r)
		}
	}
	if after := s.ok("volume", "ls", "-q"); after != before {
		t.Fatalf("bad input changed the volumes:\n%s\n%s", before, after)
	}
	if _, err := os.Stat(filepath.Join(s.root, "volumes/data2/_data")); err != nil {
		t.Fatalf("data2 after rm ../data2: %v", err)
	}
	if r := s.run("volume", "rm", "-f", "nosuch"); r.code != 0 {
		t.Fatalf("rm -f of a missing volume: %+v", r)
	}

	// prune takes anonymous unused volumes; -a also the named ones; used ones stay.
	if got := s.ok("volume", "prune", "-f"); !strings.Contains(got, "Deleted Volumes:\n"+anon+"\n\n") {
		t.Fatalf("prune: %q", got)
	}
	if got := s.ok("volume", "prune", "-f", "-a"); !strings.Contains(got, "data2") || !strings.Contains(got, unnamed) || strings.Contains(got, "data1") {
		t.Fatalf("prune -a: %q", got)
	}
	s.ok("rm", id)
	s.ok("volume", "rm", "data1")
	if got := s.ok("volume", "ls", "-q"); got != "" {
		t.Fatalf("left: %q", got)
	}
}

// TestVolumeMounts: -v NAME, --mount, seeding from the image, read-only, anonymous volumes from
// VOLUME removed by rm -v and --rm, binds and tmpfs, and targets through symlinks that stay in the
// container's root.
func TestVolumeMounts(t *testing.T) {
	s := volumeStore(t)
	// A new named volume is seeded from the image's content at its target, with ownership.
	out := s.ok("run", "--rm", "-v", "vol:/data", "seeded", "sh", "-c", "cat /data/file; stat -c '%u:%g %a' /data/sub; echo mine >/data/mine")
	if out != "seeded\n123:45 750\n" {
		t.Fatalf("seeded volume: %q", out)
	}
	// It keeps what a container wrote; it is not seeded again; ro is read-only.
	r := s.run("run", "--rm", "--mount", "type=volume,source=vol,target=/other,readonly", "busybox", "sh", "-c", "cat /other/mine /other/file; touch /other/x")
	if r.code == 0 || r.stdout != "mine\nseeded\n" || !strings.Contains(r.stderr, "Read-only file system") {
		t.Fatalf("readonly volume: %+v", r)
	}
	// volume-nocopy leaves a new volume empty.
	if out := s.ok("run", "--rm", "--mount", "type=volume,src=empty,dst=/data,volume-nocopy", "seeded", "ls", "-A", "/data"); out != "" {
		t.Fatalf("nocopy: %q", out)
	}

	// The image's VOLUME gets an anonymous volume; rm -v removes it, plain rm keeps it.
	id := strings.TrimSpace(s.ok("run", "-d", "seeded", "sh", "-c", "echo x >/data/new"))
	s.ok("wait", id)
	anon := s.ok("volume", "ls", "-q", "--filter", "label=com.docker.volume.anonymous")
	if len(strings.Fields(anon)) != 1 {
		t.Fatalf("anonymous volumes: %q", anon)
	}
	a := strings.TrimSpace(anon)
	if b, err := os.ReadFile(filepath.Join(s.root, "volumes", a, "_data/new")); err != nil || string(b) != "x\n" {
		t.Fatalf("anonymous volume content: %q %v", b, err)
	}
	s.ok("rm", "-v", id)
	if got := s.ok("volume", "ls", "-q", "--filter", "name="+a); got != "" {
		t.Fatalf("rm -v left %q", got)
	}
	id = strings.TrimSpace(s.ok("create", "seeded"))
	a = strings.TrimSpace(s.ok("volume", "ls", "-q", "--filter", "label=com.docker.volume.anonymous"))
	s.ok("rm", id)
	if got := s.ok("volume", "ls", "-q", "--filter", "name="+a); got != a+"\n" {
		t.Fatalf("rm without -v removed the anonymous volume: %q", got)
	}
	s.ok("volume", "rm", a)
	s.ok("run", "--rm", "seeded", "true")
	if got := s.ok("volume", "ls", "-q"); strings.Count(got, "\n") != 2 { // vol, empty
		t.Fatalf("run --rm left anonymous volumes: %q", got)
	}
	// -v NAME:/data replaces the image's VOLUME at that path: no anonymous volume.
	s.ok("run", "--rm", "-v", "vol:/data", "seeded", "true")
	if got := s.ok("volume", "ls", "-q", "--filter", "label=com.docker.volume.anonymous"); got != "" {
		t.Fatalf("anonymous volume despite -v at the VOLUME path: %q", got)
	}

	// Binds and tmpfs.
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "h"), []byte("from-host\n"), 0o644)
	if out := s.ok("run", "--rm", "-v", host+":/h:ro", "--mount", "type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770", "busybox", "sh", "-c",
		"cat /h/h; stat -c %a /t; grep ' /t ' /proc/mounts | grep -o 'size=[0-9]*k'; touch /h/x 2>/dev/null || echo ro"); out != "from-host\n1770\nsize=1024k\nro\n" {
		t.Fatalf("bind and tmpfs: %q", out)
	}
	if r := s.run("run", "--rm", "--mount", "type=bind,source=/nonexistent-hako,target=/x", "busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, "bind source path does not exist") {
		t.Fatalf("bind of a missing path: %+v", r)
	}
	if r := s.run("run", "--rm", "-v", "va:/x", "-v", "vb:/x", "busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, "Duplicate mount point") {
		t.Fatalf("duplicate target: %+v", r)
	}
	for _, bad := range [][]string{{"-v", "../x:/x"}, {"-v", "a/b:/x"}, {"--mount", "type=volume,src=..,dst=/x"}, {"-v", "vol:relative"}, {"--mount", "type=bind,src=/tmp"}} {
		if r := s.run(append(append([]string{"run", "--rm"}, bad...), "busybox", "true")...); r.code != 125 || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("run %v: %+v", bad, r)
		}
	}

	// Targets through the image's symlinks to / land inside the container's root, not the host's.
	canary := "hako-canary-" + filepath.Base(filepath.Dir(s.root))
	for _, target := range []string{"/escape/" + canary, "/up/" + canary, "/escape/tmp/../" + canary} {
		out := s.ok("run", "--rm", "-v", host+":"+target, "seeded", "sh", "-c", "cat /"+canary+"/h")
		if out != "from-host\n" {
			t.Errorf("-v %s: %q", target, out)
		}
		if _, err := os.Lstat("/" + canary); err == nil {
			os.RemoveAll("/" + canary)
			t.Fatalf("-v %s made /%s on the host", target, canary)
		}
	}
	if r := s.run("run", "--rm", "-v", "vol:/escape", "seeded", "true"); r.code != 125 || !strings.Contains(r.stderr, "resolves to the container's root") {
		t.Fatalf("-v onto a symlink to /: %+v", r)
	}
}
