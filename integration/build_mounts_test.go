package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func randomMarker(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestBuildSecretNeverStored: a secret given by file and by variable reaches the RUN that
// mounts it, and only that one; afterwards no file of the store holds its bytes (gzip and zstd
// blobs decompressed, tars unpacked, snapshot directories read), nor the build output, history
// or inspect.
func TestBuildSecretNeverStored(t *testing.T) {
	s := runStore(t)
	marker := randomMarker(t)
	envMarker := randomMarker(t)
	secFile := filepath.Join(t.TempDir(), "x.secret")
	if err := os.WriteFile(secFile, []byte(marker), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HAKO_TEST_SECRET_ENV", envMarker)
	dir := buildCtx(t, map[string]string{"Dockerfile": `FROM busybox
RUN --mount=type=secret,id=x cat /run/secrets/x > /dev/null; test -n "$(cat /run/secrets/x)" && test "$(stat -c '%a %u' /run/secrets/x)" = "400 0"
RUN --mount=type=secret,id=y,env=Y test -n "$Y" && test ! -e /run/secrets/y && echo $Y | wc -c
RUN --mount=type=secret,id=x,target=/etc/app/x,mode=0440,uid=1,gid=2,env=BOTH test "$(stat -c '%a %u %g' /etc/app/x)" = "440 1 2" && test "$BOTH" = "$(cat /etc/app/x)"
RUN --mount=type=secret,id=optional test ! -e /run/secrets/optional
RUN test ! -e /run/secrets/x && test -z "$Y" && test ! -e /etc/app && echo after > /after
`})
	out := s.mustBuild("-t", "sec", "--secret", "id=x,src="+secFile, "--secret", "id=y,env=HAKO_TEST_SECRET_ENV", dir)
	if !strings.Contains(out, "65") {
		t.Errorf("the env secret did not reach its RUN:\n%s", out)
	}
	texts := map[string]string{
		"build output": out,
		"history":      s.ok("history", "--no-trunc", "sec"),
		"inspect":      s.ok("inspect", "sec"),
	}
	// A cached rebuild neither needs nor shows the value; a changed value does not change the key.
	os.WriteFile(secFile, []byte(marker), 0o600)
	texts["cached rebuild"] = s.mustBuild("-t", "sec", "--secret", "id=x,src="+secFile, "--secret", "id=y,env=HAKO_TEST_SECRET_ENV", dir)
	if n := strings.Count(texts["cached rebuild"], "CACHED"); n != 5 {
		t.Errorf("rebuild: %d CACHED of 5\n%s", n, texts["cached rebuild"])
	}
	for _, id := range strings.Fields(s.ok("history", "-q", "sec")) {
		if id != "<missing>" {
			texts["inspect "+id] = s.ok("inspect", id)
		}
	}
	for name, text := range texts {
		for _, m := range []string{marker, envMarker} {
			if strings.Contains(text, m) {
				t.Errorf("%s shows the secret:\n%s", name, text)
			}
		}
	}
	scanned := scanStore(t, s.root, [][]byte{[]byte(marker), []byte(envMarker)})
	if scanned < 10 {
		t.Errorf("scanned only %d files", scanned)
	}
	if got := s.ok("run", "--rm", "sec", "cat", "/after"); got != "after\n" {
		t.Errorf("image: %q", got)
	}
}

// scanStore fails the test if any file under root holds one of markers, looking into gzip and
// zstd streams and tar archives (nested too). It returns how many files it read.
func scanStore(t *testing.T, root string, markers [][]byte) int {
	t.Helper()
	n := 0
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("read %s: %v", p, err)
			return nil
		}
		n++
		if where := findMarker(b, markers, 0); where != "" {
			t.Errorf("%s holds the secret (%s)", p, where)
		}
		return nil
	})
	return n
}

func findMarker(b []byte, markers [][]byte, depth int) string {
	for _, m := range markers {
		if bytes.Contains(b, m) {
			return "raw"
		}
	}
	if depth > 3 {
		return ""
	}
	if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
		if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
			if d, err := io.ReadAll(zr); err == nil || len(d) > 0 {
				if w := findMarker(d, markers, depth+1); w != "" {
					return "gzip/" + w
				}
			}
		}
	}
	if len(b) > 4 && bytes.Equal(b[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		if zr, err := zstd.NewReader(bytes.NewReader(b)); err == nil {
			d, _ := io.ReadAll(zr)
			zr.Close()
			if w := findMarker(d, markers, depth+1); w != "" {
				return "zstd/" + w
			}
		}
	}
	if len(b) >= 512 {
		tr := tar.NewReader(bytes.NewReader(b))
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			for _, m := range markers {
				if strings.Contains(h.Name, string(m)) || strings.Contains(h.Linkname, string(m)) {
					return "tar name " + h.Name
				}
			}
			for _, v := range h.PAXRecords {
				for _, m := range markers {
					if strings.Contains(v, string(m)) {
						return "tar record " + h.Name
					}
				}
			}
			d, _ := io.ReadAll(tr)
			if w := findMarker(d, markers, depth+1); w != "" {
				return "tar " + h.Name + "/" + w
			}
		}
	}
	return ""
}

// TestBuildSecretRequired: a required secret that was not given fails the build, naming it;
// bad --secret values are refused.
func TestBuildSecretRequired(t *testing.T) {
	s := runStore(t)
	dir := buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nRUN --mount=type=secret,id=apitoken,required cat /run/secrets/apitoken\n"})
	r := s.build("-t", "nosec", dir)
	if r.code != 125 || !strings.Contains(r.stderr, `"apitoken"`) || !strings.Contains(r.stderr, "required") {
		t.Errorf("missing required secret: exit %d\n%s", r.code, r.stderr)
	}
	for _, c := range []struct{ arg, msg string }{
		{"id=a,src=/nonexistent/file", "/nonexistent/file"},
		{"src=/etc/hostname", "id is required"},
		{"id=a,bogus=1", `"bogus"`},
		{"id=a,env=HAKO_TEST_UNSET_SECRET_VAR", "HAKO_TEST_UNSET_SECRET_VAR"},
	} {
		r := s.build("--secret", c.arg, dir)
		if r.code != 125 || !strings.Contains(r.stderr, c.msg) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("--secret %s: exit %d\n%s", c.arg, r.code, r.stderr)
		}
	}
}

// TestBuildMountCache: a cache mount keeps its files between builds, never in the image; ids,
// source subpaths, mode and owner, from= seeding; builder prune frees it.
func TestBuildMountCache(t *testing.T) {
	s := runStore(t)
	dir := buildCtx(t, map[string]string{
		"Dockerfile": `FROM busybox AS seed
RUN mkdir -p /data/sub && echo seeded > /data/sub/f
FROM busybox
COPY v /v
RUN --mount=type=cache,target=/root/.cache cat /v >> /root/.cache/log && wc -l < /root/.cache/log > /count
RUN --mount=type=cache,id=other,target=/c,sharing=locked,mode=0750,uid=7,gid=8 stat -c '%a %u %g' /c > /perm && touch /c/x
RUN --mount=type=cache,id=other,target=/c2,source=sub,sharing=private ls -a /c2 > /sub
RUN --mount=type=cache,id=seeded,from=seed,source=/data,target=/s cat /s/sub/f > /seedout
`,
		"v": "1\n",
	})
	s.mustBuild("-t", "cache", dir)
	if got := s.ok("run", "--rm", "cache", "cat", "/count", "/perm", "/seedout"); got != "1\n750 7 8\nseeded\n" {
		t.Errorf("first build: %q", got)
	}
	if got := s.ok("run", "--rm", "cache", "sh", "-c", "ls -a /root; ls /root/.cache /c /c2 /s 2>&1; true"); got != ".\n..\n"+
		"ls: /root/.cache: No such file or directory\nls: /c: No such file or directory\nls: /c2: No such file or directory\nls: /s: No such file or directory\n" {
		t.Errorf("the cache mount is in the image:\n%s", got)
	}
	os.WriteFile(filepath.Join(dir, "v"), []byte("2\n"), 0o644)
	s.mustBuild("-t", "cache", dir)
	if got := s.ok("run", "--rm", "cache", "cat", "/count"); got != "2\n" {
		t.Errorf("the cache was not kept between builds: %q", got)
	}
	if ents, _ := filepath.Glob(filepath.Join(s.root, "cachemounts", "*", "0")); len(ents) != 3 {
		t.Errorf("cache instances: %v", ents)
	}
	out := s.ok("builder", "prune", "-af")
	if ents, _ := filepath.Glob(filepath.Join(s.root, "cachemounts", "*", "[0-9]")); len(ents) != 0 {
		t.Errorf("builder prune left cache mounts %v:\n%s", ents, out)
	}
	os.WriteFile(filepath.Join(dir, "v"), []byte("3\n"), 0o644)
	s.mustBuild("-t", "cache", dir)
	if got := s.ok("run", "--rm", "cache", "cat", "/count"); got != "1\n" {
		t.Errorf("after prune the cache starts empty: %q", got)
	}
}

// TestBuildMountCacheEscape (BuildKit CVE-2024-23651 class): symlinks that one build leaves in
// a shared cache, and source= paths that climb, never show another build the host's files.
func TestBuildMountCacheEscape(t *testing.T) {
	s := runStore(t)
	hostDir := t.TempDir()
	secret := randomMarker(t)
	os.WriteFile(filepath.Join(hostDir, "hostfile"), []byte(secret), 0o644)
	first := buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nRUN --mount=type=cache,id=shared,target=/c ln -s / /c/root && ln -s " + hostDir + " /c/abs && ln -s ../../../../../../.. /c/up && mkdir -p /c/d\n"})
	s.mustBuild(first)
	// Each source either resolves inside the cache (a symlink there is followed as in a chroot
	// of the cache) or fails with one line that names it; none shows a host file.
	for _, src := range []string{"root", "root" + hostDir, "abs", "up/etc", "../../..", "d/../../.."} {
		dir := buildCtx(t, map[string]string{"Dockerfile": `FROM busybox
RUN --mount=type=cache,id=shared,source=` + src + `,target=/m ls -la /m; cat /m/hostfile /m` + hostDir + `/hostfile /m/passwd /m/etc/passwd 2>/dev/null; true
`})
		r := s.build(dir)
		if strings.Contains(r.stderr, secret) || strings.Contains(r.stderr, "root:x:0:0") {
			t.Errorf("source=%s showed host files:\n%s", src, r.stderr)
		}
		if r.code != 0 && !strings.Contains(r.stderr, "source=/"+strings.TrimPrefix(src, "/")) && !strings.Contains(r.stderr, "source=") {
			t.Errorf("source=%s: exit %d without naming the source:\n%s", src, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(hostDir, "hostfile")); err != nil {
		t.Error(err)
	}
}

// TestBuildMountBindNoWrites (buildah CVE-2024-1753, CVE-2025-4953 classes): rw binds of an
// image's / and of the context take writes, and neither the host, the image nor the context
// sees them.
func TestBuildMountBindNoWrites(t *testing.T) {
	s := runStore(t)
	before := s.ok("inspect", "--format", "{{.Id}}", "busybox")
	victim := "hako-pwned-" + randomMarker(t)[:12]
	dir := buildCtx(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN --mount=type=bind,from=busybox,source=/,target=/m,rw touch /m/` + victim + ` /m/tmp/` + victim + ` && echo x > /m/bin/busybox.new && rm /m/bin/ls && ls /m/` + victim + `
RUN --mount=type=bind,from=busybox,source=../../..,target=/m,rw touch /m/` + victim + `2
RUN --mount=type=bind,target=/ctx,rw echo changed > /ctx/keep.txt && rm /ctx/gone.txt && touch /ctx/new.txt && mkdir /ctx/newdir && cat /ctx/keep.txt
RUN --mount=type=bind,source=keep.txt,target=/k,rw echo changed > /k
RUN --mount=type=bind,target=/ro echo no > /ro/keep.txt; test ! -s /ro/new.txt
RUN --mount=type=bind,source=sub/../../..,target=/up ls /up > /uplist
`,
		"keep.txt": "original\n", "gone.txt": "gone\n", "sub/x": "x",
	})
	s.mustBuild("-t", "binds", dir)
	for _, p := range []string{"/" + victim, "/tmp/" + victim, "/" + victim + "2"} {
		if _, err := os.Lstat(p); err == nil {
			os.Remove(p)
			t.Errorf("the build wrote %s on the host", p)
		}
	}
	if after := s.ok("inspect", "--format", "{{.Id}}", "busybox"); after != before {
		t.Errorf("the source image changed: %s -> %s", before, after)
	}
	if got := s.ok("run", "--rm", "busybox", "sh", "-c", "ls / /bin/ls /bin/busybox.new 2>&1; true"); strings.Contains(got, victim) || !strings.Contains(got, "No such file") {
		t.Errorf("the source image's filesystem changed:\n%s", got)
	}
	if got := s.ok("run", "--rm", "binds", "sh", "-c", "ls / /m /ctx /k 2>&1; true"); strings.Contains(got, victim) || strings.Contains(got, "keep.txt") {
		t.Errorf("a bind mount's writes reached the image:\n%s", got)
	}
	if got := s.ok("run", "--rm", "binds", "cat", "/uplist"); !strings.Contains(got, "keep.txt") || strings.Contains(got, "etc") {
		t.Errorf("source=../.. of the context is the context: %q", got)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "keep.txt")); string(b) != "original\n" || strings.Join(names, " ") != "Dockerfile gone.txt keep.txt sub" {
		t.Errorf("the context changed: keep.txt %q, entries %v", b, names)
	}
}

// TestBuildMountBadOptions (CVE-2024-9407 class): an option outside a type's documented set is
// refused with one line naming it.
func TestBuildMountBadOptions(t *testing.T) {
	s := runStore(t)
	for _, c := range []struct{ mount, opt string }{
		{"type=bind,source=/,target=/h,bind-propagation=rshared", "bind-propagation"},
		{"type=bind,target=/h,bind-nonrecursive=true", "bind-nonrecursive"},
		{"type=cache,target=/h,consistency=cached", "consistency"},
		{"type=tmpfs,target=/h,tmpfs-mode=1777", "tmpfs-mode"},
		{"type=tmpfs,target=/h,from=busybox", "from"},
		{"type=bind,target=/h,id=x", "id"},
		{"type=secret,id=x,sharing=shared", "sharing"},
		{"type=volume,target=/h", "volume"},
		{"type=bind,target=/h,volume-opt=o=bind", "volume-opt"},
	} {
		dir := buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nRUN --mount=" + c.mount + " true\n"})
		r := s.build("-t", "bad", dir)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		last := lines[len(lines)-1]
		if r.code != 125 || !strings.Contains(last, c.opt) || strings.Contains(r.stderr, "#5") {
			t.Errorf("--mount=%s: exit %d, last line %q\n%s", c.mount, r.code, last, r.stderr)
		}
	}
}

// TestBuildMountStubsStayInside (BuildKit CVE-2024-23652 class): mount points made for a RUN
// are removed afterwards without following a symlink out of the rootfs, whether the image
// holds the symlink or the RUN plants one in place of a stub's parent (on the native
// snapshotter, where a directory of a lower layer can be renamed).
func TestBuildMountStubsStayInside(t *testing.T) {
	for _, snap := range []string{"overlay", "native"} {
		t.Run(snap, func(t *testing.T) {
			s := newStore(t)
			s.ok("--snapshotter", snap, "import", "-c", `CMD ["sh"]`, busyboxTar(t), "busybox:latest")
			host := t.TempDir()
			for _, d := range []string{"sub", "b/c", "x"} {
				os.MkdirAll(filepath.Join(host, d), 0o755)
			}
			os.WriteFile(filepath.Join(host, "empty"), nil, 0o644)
			dir := buildCtx(t, map[string]string{"Dockerfile": `FROM busybox
RUN ln -s ` + host + ` /tgt
RUN --mount=type=tmpfs,target=/tgt/sub --mount=type=tmpfs,target=/tgt/x/y true
RUN --mount=type=secret,id=s,target=/tgt/empty true
RUN --mount=type=tmpfs,target=/new/b/c sh -c 'mv /new /new.old && ln -s ` + host + ` /new'
RUN mkdir /a
RUN --mount=type=tmpfs,target=/a/b/c sh -c 'mv /a /a.old 2>/dev/null && ln -s ` + host + ` /a; true'
`})
			s.ok("--snapshotter", snap, "build", "--progress", "plain", "--secret", "id=s,src=/etc/hostname", "-t", "stubs", dir)
			for _, d := range []string{"sub", "b", "b/c", "x", "empty"} {
				if _, err := os.Lstat(filepath.Join(host, d)); err != nil {
					t.Errorf("cleaning up mount stubs removed a host path: %v", err)
				}
			}
			got := s.ok("--snapshotter", snap, "run", "--rm", "stubs", "sh", "-c", "readlink /tgt; readlink /new; ls /tgt/x/y 2>&1; true")
			if got != host+"\n"+host+"\nls: /tgt/x/y: No such file or directory\n" {
				t.Errorf("image after the RUNs: %q", got)
			}
		})
	}
}

// TestBuildMountNetworkAndTmpfs: RUN --network=none has only loopback, host has the host's
// interfaces; a tmpfs mount has its size and leaves nothing behind.
func TestBuildMountNetworkAndTmpfs(t *testing.T) {
	s := runStore(t)
	hostIfaces, _ := net.Interfaces()
	dir := buildCtx(t, map[string]string{"Dockerfile": `FROM busybox
RUN --network=none tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /none
RUN --network=host tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort > /host
RUN --network=default tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /default
RUN --mount=type=tmpfs,target=/t,size=2m df -k /t | tail -1 | awk '{print $2}' > /size && dd if=/dev/zero of=/t/f bs=1k count=100 2>/dev/null
`})
	s.mustBuild("-t", "net", dir)
	if got := s.ok("run", "--rm", "net", "cat", "/none", "/default", "/size"); got != "lo\nlo\n2048\n" {
		t.Errorf("none/default/tmpfs: %q", got)
	}
	got := s.ok("run", "--rm", "net", "cat", "/host")
	if n := len(strings.Fields(got)); n != len(hostIfaces) {
		t.Errorf("--network=host sees %d interfaces, the host has %d: %q", n, len(hostIfaces), got)
	}
	if got := s.ok("run", "--rm", "net", "sh", "-c", "ls /t 2>&1; true"); !strings.Contains(got, "No such file") {
		t.Errorf("the tmpfs mount point or its contents in the image: %q", got)
	}
}

// TestBuildMountSSH: --ssh default forwards the caller's agent, --ssh id=KEY serves a key file
// from an agent in hako; the socket exists only in the RUN that mounts it.
func TestBuildMountSSH(t *testing.T) {
	s := runStore(t)
	tmp := t.TempDir()
	client := filepath.Join(tmp, "ctx", "sshlist")
	os.MkdirAll(filepath.Dir(client), 0o755)
	gobuild := exec.Command("go", "build", "-o", client, "./testdata/sshlist")
	gobuild.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := gobuild.CombinedOutput(); err != nil {
		t.Fatalf("build sshlist: %v\n%s", err, out)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	kr := agent.NewKeyring()
	kr.Add(agent.AddedKey{PrivateKey: priv, Comment: "forwarded-key"})
	sock := filepath.Join(tmp, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(kr, c); c.Close() }()
		}
	}()
	_, priv2, _ := ed25519.GenerateKey(rand.Reader)
	blk, err := ssh.MarshalPrivateKey(priv2, "file-key")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(tmp, "id_ed25519")
	os.WriteFile(keyFile, pem.EncodeToMemory(blk), 0o600)
	os.WriteFile(filepath.Join(tmp, "ctx", "Dockerfile"), []byte(`FROM busybox
COPY sshlist /sshlist
RUN --mount=type=ssh /sshlist > /default.txt && test "$(stat -c %a $SSH_AUTH_SOCK)" = 600
RUN --mount=type=ssh,id=k,target=/agent.sock,mode=0666,uid=1 SSH_AUTH_SOCK=/agent.sock /sshlist > /k.txt && stat -c '%a %u' /agent.sock >> /k.txt
RUN --mount=type=ssh,id=absent true
RUN test ! -e /run/buildkit && test ! -e /agent.sock && test -z "$SSH_AUTH_SOCK"
`), 0o644)
	cmd := exec.Command(hakoBin, "--root", s.root, "build", "--progress", "plain", "-t", "ssh", "--ssh", "default", "--ssh", "k="+keyFile, filepath.Join(tmp, "ctx"))
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if got := s.ok("run", "--rm", "ssh", "cat", "/default.txt", "/k.txt"); got != "key ssh-ed25519 forwarded-key\nkey ssh-ed25519 \n666 1\n" {
		t.Errorf("agents: %q", got)
	}
	r := s.build("--ssh", "default", filepath.Join(tmp, "ctx"))
	if r.code != 125 || !strings.Contains(r.stderr, "SSH_AUTH_SOCK") {
		t.Errorf("--ssh default without an agent: exit %d\n%s", r.code, r.stderr)
	}
	os.WriteFile(filepath.Join(tmp, "ctx", "Dockerfile"), []byte("FROM busybox\nRUN --mount=type=ssh,id=needed,required true\n"), 0o644)
	if r := s.build(filepath.Join(tmp, "ctx")); r.code != 125 || !strings.Contains(r.stderr, `"needed"`) {
		t.Errorf("missing required agent: exit %d\n%s", r.code, r.stderr)
	}
}
