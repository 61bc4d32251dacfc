package integration

import (
	"archive/tar"
	"fmt"
	"io"
	"os"

	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const usernsMap = "0:100000:65536"

// usernsStore is runStore whose root the container's root (host uid 100000) can reach: t.TempDir
// makes its directories 0700, which a user namespace's root cannot search.
func usernsStore(t *testing.T, global ...string) *store {
	t.Helper()
	s := newStore(t)
	for _, d := range []string{filepath.Dir(s.root), s.root} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	s.ok(append(global, "import", "-c", `CMD ["sh"]`, busyboxTar(t), "busybox:latest")...)
	t.Cleanup(func() {
		for _, id := range strings.Fields(s.run("ps", "-aq", "--no-trunc").stdout) {
			s.run("rm", "-f", id)
		}
	})
	return s
}

// mountLines counts the lines of the host's mountinfo that name the store.
func (s *store) mountLines() int {
	s.t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		s.t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s.root) {
			n++
		}
	}
	return n
}

func hostUID(t *testing.T, p string) uint32 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Uid
}

// TestUserNSRun: --uidmap runs the container in a user namespace whose root is host uid 100000,
// on the image's layers idmapped (never chowned): the image's files are root's inside, what the
// container's root writes is host uid 100000 in its upper dir, exec joins the same namespace,
// inspect shows the mapping, and restart and rm leave no mount behind.
func TestUserNSRun(t *testing.T) {
	s := usernsStore(t)
	got := s.ok("run", "--rm", "--uidmap", usernsMap, "busybox", "sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map; stat -c %u:%g /bin/busybox /etc/passwd")
	if f := strings.Fields(got); strings.Join(f, " ") != "0 0 100000 65536 0 100000 65536 0:0 0:0" {
		t.Fatalf("run --uidmap: %q", got)
	}
	// --rm answers once the container is out of the store; its monitor unmounts the root
	// filesystem (and here the idmapped layers) after the answer: checked once it is done.
	if !waitStoreIdle(s.root) {
		t.Fatal("the store's processes did not end in 10 s after run --rm")
	}
	if n := s.mountLines(); n != 0 {
		t.Errorf("%d mounts of the store left after run --rm", n)
	}

	s.ok("run", "-d", "--name", "u", "--uidmap", usernsMap, "busybox", "sh", "-c", "echo x >/etc/x && mkdir /made && touch /tmp/ready; exec sleep 1000")
	waitFor(t, "the container's files", func() bool { return s.run("exec", "u", "test", "-e", "/tmp/ready").code == 0 })
	upper := strings.TrimSpace(s.ok("inspect", "--format", "{{.GraphDriver.Data.UpperDir}}", "u"))
	for _, p := range []string{"etc/x", "made", "tmp/ready", "."} {
		if uid := hostUID(t, filepath.Join(upper, p)); uid != 100000 {
			t.Errorf("%s in the upper dir is host uid %d, want 100000", p, uid)
		}
	}
	lower := strings.TrimSpace(s.ok("inspect", "--format", "{{.GraphDriver.Data.LowerDir}}", "u"))
	if uid := hostUID(t, filepath.Join(strings.Split(lower, ":")[0], "bin", "busybox")); uid != 0 {
		t.Errorf("the image's layer was chowned: /bin/busybox is host uid %d", uid)
	}
	pid1Map := s.ok("exec", "u", "cat", "/proc/1/uid_map")
	if execMap := s.ok("exec", "u", "cat", "/proc/self/uid_map"); execMap != pid1Map || !strings.Contains(execMap, "100000") {
		t.Errorf("exec's uid_map %q, the container's %q", execMap, pid1Map)
	}
	if got := s.ok("exec", "u", "sh", "-c", "id -u; stat -c %u /etc/x /etc/passwd /etc/hosts"); strings.Fields(got)[0] != "0" || strings.Count(got, "0\n") != 4 {
		t.Errorf("exec: %q", got)
	}
	if got := s.ok("inspect", "--format", "{{.HostConfig.UsernsMode}} {{json .HostConfig.IDMappings}}", "u"); got != `private {"GidMap":["0:100000:65536"],"UidMap":["0:100000:65536"]}`+"\n" {
		t.Errorf("inspect: %q", got)
	}
	if n := s.mountLines(); n != 1 {
		t.Errorf("%d mounts of the store while running, want only the rootfs (a leaked idmapped layer?)", n)
	}

	if got := s.ok("diff", "u"); !strings.Contains(got, "A /etc/x") {
		t.Errorf("diff: %q", got)
	}
	// export and commit give the container's IDs (the upper dir holds host IDs): running and
	// stopped, what its root made is root's, a file it chowned keeps that owner.
	s.ok("exec", "u", "sh", "-c", "touch /made/owned && chown 1000:1001 /made/owned")
	checkOwners := func(what, tarball string) {
		t.Helper()
		owners := tarOwners(t, tarball)
		for name, want := range map[string]string{"etc/x": "0:0", "made/owned": "1000:1001", "made": "0:0", "bin/busybox": "0:0"} {
			if owners[name] != want {
				t.Errorf("%s: %s is %q, want %s", what, name, owners[name], want)
			}
		}
	}
	checkOwners("export of the running container", s.ok("export", "u"))
	s.ok("commit", "u", "usercommit:1")
	if got := s.ok("run", "--rm", "usercommit:1", "stat", "-c", "%u:%g", "/etc/x", "/made/owned", "/bin/busybox"); got != "0:0\n1000:1001\n0:0\n" {
		t.Errorf("a container of the committed image (no user namespace) sees owners %q", got)
	}
	// cp: out with the container's IDs (its /etc files, idmapped binds, too), in as the
	// container's root, or with -a as the archive's owner, mapped to host IDs on disk.
	checkOwners("cp -a of the running container", s.ok("cp", "-a", "u:/", "-"))
	if got := tarOwners(t, s.ok("cp", "u:/etc/hostname", "-"))["hostname"]; got != "0:0" {
		t.Errorf("cp of /etc/hostname: owner %q", got)
	}
	in := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(in, []byte("in\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chown(in, 1234, 1234)
	s.ok("cp", in, "u:/made/in")
	s.ok("cp", "-a", in, "u:/made/in-a")
	if got := s.ok("exec", "u", "stat", "-c", "%u:%g", "/made/in", "/made/in-a"); got != "0:0\n1234:1234\n" {
		t.Errorf("cp into the container: owners %q inside", got)
	}
	if uid := hostUID(t, filepath.Join(upper, "made", "in-a")); uid != 101234 {
		t.Errorf("cp -a wrote host uid %d, want 101234", uid)
	}

	s.ok("restart", "-t", "1", "u")
	waitFor(t, "the restarted container", func() bool { return s.run("exec", "u", "cat", "/etc/x").stdout == "x\n" })
	if got := s.ok("exec", "u", "cat", "/proc/self/uid_map"); got != pid1Map {
		t.Errorf("after restart: uid_map %q", got)
	}
	s.ok("stop", "-t", "1", "u")
	if n := s.mountLines(); n != 0 {
		t.Errorf("%d mounts of the store left after stop", n)
	}
	checkOwners("export of the stopped container", s.ok("export", "u"))
	if n := s.mountLines(); n != 0 {
		t.Errorf("%d mounts of the store left after export", n)
	}
	s.ok("start", "u")
	waitFor(t, "the started container", func() bool { return s.run("exec", "u", "id", "-u").stdout == "0\n" })
	s.ok("rm", "-f", "u")
	if n := s.mountLines(); n != 0 {
		t.Errorf("%d mounts of the store left after rm", n)
	}
	if _, err := os.Stat(upper); !os.IsNotExist(err) {
		t.Errorf("the upper dir outlived rm: %v", err)
	}
}

// TestUserNSMounts: a named volume is idmapped (seeded from the image with the container's IDs,
// written as the container's root: uid 0 on disk), a host bind is not unless asked with :idmap,
// and --network host binds the host's /sys (sysfs cannot be mounted there).
func TestUserNSMounts(t *testing.T) {
	s := usernsStore(t)
	host := t.TempDir()
	os.Chmod(host, 0o755)
	os.WriteFile(filepath.Join(host, "f"), []byte("f"), 0o644)
	os.Chown(filepath.Join(host, "f"), 1000, 1000)
	got := s.ok("run", "--rm", "--uidmap", usernsMap, "-v", "data:/etc", "-v", host+":/plain", "-v", host+":/mapped:idmap", "busybox", "sh", "-c",
		"stat -c %u /etc/passwd /plain/f /mapped/f; echo v >/etc/v && echo m >/mapped/m; touch /plain/p 2>/dev/null || echo refused")
	if f := strings.Fields(got); strings.Join(f, " ") != "0 65534 1000 refused" {
		t.Errorf("mounts seen from the container: %q", got)
	}
	data := strings.TrimSpace(s.ok("volume", "inspect", "--format", "{{.Mountpoint}}", "data"))
	for _, p := range []string{filepath.Join(data, "passwd"), filepath.Join(data, "v"), filepath.Join(host, "m")} {
		if uid := hostUID(t, p); uid != 0 {
			t.Errorf("%s is host uid %d, want 0 (an idmapped mount stores the container's IDs)", p, uid)
		}
	}
	// cp reads through the idmapped volume (the container's IDs), and refuses to write into it:
	// hako, host root, cannot create files on a mount whose mapping does not reach it.
	s.ok("create", "--name", "v", "--uidmap", usernsMap, "-v", "data:/etc", "busybox")
	if got := tarOwners(t, s.ok("cp", "-a", "v:/etc/v", "-"))["v"]; got != "0:0" {
		t.Errorf("cp out of an idmapped volume: owner %q", got)
	}
	if r := s.runIn(nil, "cp", filepath.Join(host, "f"), "v:/etc/new"); r.code != 125 || !strings.Contains(r.stderr, "user namespace is not supported yet") {
		t.Errorf("cp into an idmapped volume: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(data, "new")); err == nil {
		t.Error("the refused cp wrote into the volume")
	}
	// A copy whose tar enters the volume below its destination is refused the same way.
	etc := filepath.Join(t.TempDir(), "etc")
	os.Mkdir(etc, 0o755)
	os.WriteFile(filepath.Join(etc, "new"), []byte("new"), 0o644)
	if r := s.runIn(nil, "cp", etc, "v:/"); r.code != 125 || !strings.Contains(r.stderr, "user namespace is not supported yet") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("cp of a directory into an idmapped volume below the destination: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(data, "new")); err == nil {
		t.Error("the refused cp wrote into the volume")
	}
	s.ok("rm", "v")
	if r := s.run("run", "--rm", "-v", host+":/mapped:idmap", "busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, "idmap needs a user namespace") {
		t.Errorf(":idmap without --uidmap: %+v", r)
	}
	if got := s.ok("run", "--rm", "--uidmap", usernsMap, "--network", "host", "busybox", "sh", "-c", "id -u; test -d /sys/class/net && echo sys"); got != "0\nsys\n" {
		t.Errorf("--network host: %q", got)
	}
}

// TestUserNSNative: the native snapshotter's rootfs, a bind of a copy, is idmapped as a whole:
// its writable layer holds the container's IDs, which commit and export keep; cp out gives them
// too, and cp into it (host root cannot create files on it) is refused as for a volume.
func TestUserNSNative(t *testing.T) {
	s := usernsStore(t, "--snapshotter", "native")
	native := func(args ...string) []string { return append([]string{"--snapshotter", "native"}, args...) }
	got := s.ok(native("run", "--rm", "--uidmap", usernsMap, "busybox", "sh", "-c", "stat -c %u /bin/busybox; touch /x && stat -c %u /x; cat /proc/self/uid_map")...)
	if f := strings.Fields(got); strings.Join(f, " ") != "0 0 0 100000 65536" {
		t.Errorf("native: %q", got)
	}

	s.ok(native("run", "-d", "--name", "n", "--uidmap", usernsMap, "busybox", "sh", "-c", "mkdir /made && echo x >/made/x && chown 1000:1001 /made/x && touch /tmp/ready; exec sleep 1000")...)
	waitFor(t, "the container's files", func() bool { return s.run(native("exec", "n", "test", "-e", "/tmp/ready")...).code == 0 })
	checkOwners := func(what, tarball string) {
		t.Helper()
		owners := tarOwners(t, tarball)
		for name, want := range map[string]string{"made": "0:0", "made/x": "1000:1001"} {
			if owners[name] != want {
				t.Errorf("%s: %s is %q, want %s", what, name, owners[name], want)
			}
		}
	}
	s.ok(native("commit", "n", "nativecommit:1")...)
	if got := s.ok(native("run", "--rm", "nativecommit:1", "stat", "-c", "%u:%g", "/made", "/made/x", "/bin/busybox")...); got != "0:0\n1000:1001\n0:0\n" {
		t.Errorf("a container of the committed image (no user namespace) sees owners %q", got)
	}
	checkOwners("export", s.ok(native("export", "n")...))
	checkOwners("cp -a", s.ok(native("cp", "-a", "n:/made", "-")...))
	in := filepath.Join(t.TempDir(), "in")
	os.WriteFile(in, []byte("in\n"), 0o644)
	for _, state := range []string{"running", "stopped"} {
		if state == "stopped" {
			s.ok(native("stop", "-t", "0", "n")...)
		}
		if r := s.runIn(nil, native("cp", in, "n:/made/in")...); r.code != 125 || !strings.Contains(r.stderr, "user namespace is not supported yet") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s: cp into the idmapped root: %+v", state, r)
		}
		if r := s.run(native("cp", "n:/made/in", "-")...); r.code == 0 {
			t.Errorf("%s: the refused cp wrote /made/in", state)
		}
	}
}

// TestUserNSBadFlags: a mapping of the wrong shape, an empty or overlapping range, an unmapped
// root and a --userns other than host fail with one line naming the flag, exit 125, and leave no
// container behind.
func TestUserNSBadFlags(t *testing.T) {
	s := usernsStore(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--uidmap", "0:x:1"}, "--uidmap"},
		{[]string{"--uidmap", "0:100000"}, "--uidmap"},
		{[]string{"--uidmap", "0:100000:0"}, "--uidmap"},
		{[]string{"--gidmap", "0:100000:-1"}, "--gidmap"},
		{[]string{"--uidmap", "0:100000:10", "--uidmap", "5:200000:10"}, "overlap"},
		{[]string{"--uidmap", "0:100000:10", "--uidmap", "10:100005:10"}, "overlap"},
		{[]string{"--uidmap", "0:100000:65536", "--gidmap", "1:100000:65536"}, "--gidmap"},
		{[]string{"--userns", "keep-id"}, "--userns"},
		{[]string{"--userns", "host", "--uidmap", usernsMap}, "--userns"},
	} {
		for _, verb := range []string{"run", "create"} {
			args := append(append([]string{verb, "--rm"}, tc.args...), "busybox", "true")
			if verb == "create" {
				args = append(append([]string{verb}, tc.args...), "busybox", "true")
			}
			r := s.run(args...)
			if r.code != 125 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("%v: exit %d, stderr %q; want 125 and one line naming %s", args, r.code, r.stderr, tc.want)
			}
		}
	}
	if ps := s.ok("ps", "-aq"); ps != "" {
		t.Errorf("containers left: %q", ps)
	}
	s.ok("create", "--name", "h", "--userns=host", "busybox")
	if got := s.ok("inspect", "--format", "{{.HostConfig.UsernsMode}}", "h"); got != "host\n" {
		t.Errorf("--userns=host: UsernsMode %q", got)
	}
	// The user's own directories above the store must let the container's root through.
	os.Chmod(filepath.Dir(s.root), 0o700)
	defer os.Chmod(filepath.Dir(s.root), 0o711)
	r := s.run("run", "--rm", "--uidmap", usernsMap, "busybox", "true")
	if r.code != 125 || !strings.Contains(r.stderr, filepath.Dir(s.root)+" is mode 0700") {
		t.Errorf("unreachable store: %+v", r)
	}
	if ps := s.ok("ps", "-aq"); strings.Count(ps, "\n") != 1 {
		t.Errorf("containers: %q", ps)
	}
}

// tarOwners gives the owner ("uid:gid") of each entry of a tar, by name without "./" or a
// trailing "/".
func tarOwners(t *testing.T, tarball string) map[string]string {
	t.Helper()
	out := map[string]string{}
	eachTarEntry(t, strings.NewReader(tarball), func(h *tar.Header, _ io.Reader) {
		out[strings.Trim(filepath.Clean("/"+h.Name), "/")] = fmt.Sprintf("%d:%d", h.Uid, h.Gid)
	})
	return out
}

// TestUserNSNotRecycled: a container in a user namespace neither takes the layer that one
// without left (package snapshot, recycle_linux.go), whose /etc copy-up holds host IDs it does
// not map, nor leaves one: its /etc is its root's and writable, after any other container.
func TestUserNSNotRecycled(t *testing.T) {
	s := usernsStore(t)
	slot := filepath.Join(s.root, "snapshots", "overlay", "snapshots", "recycled")
	s.ok("run", "--rm", "busybox", "true")
	waitFor(t, "a recycled layer", func() bool { _, err := os.Stat(slot); return err == nil })
	for i := 0; i < 2; i++ {
		got := s.ok("run", "--rm", "--uidmap", usernsMap, "busybox", "sh", "-c", "stat -c %u:%g /etc; touch /etc/x && echo wrote")
		if got != "0:0\nwrote\n" {
			t.Fatalf("a container in a user namespace after one without: %q", got)
		}
	}
	if _, err := os.Stat(slot); err != nil {
		t.Fatalf("the recycled layer was taken by a container in a user namespace: %v", err)
	}
}
