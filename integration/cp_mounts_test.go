package integration

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCpThroughMounts: cp reads and writes through the container's named and anonymous volumes
// and bind mounts, the deepest mount winning, for a running and a stopped container, as
// Docker's cp does; export leaves the volumes out, as Docker documents.
func TestCpThroughMounts(t *testing.T) {
	s := volumeStore(t)
	bind, inner := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(bind, "hostfile"), []byte("BIND"), 0o644)
	host := t.TempDir()
	out := t.TempDir()
	s.ok("run", "-d", "--name", "box", "-v", "named:/vol", "-v", inner+":/vol/inner", "-v", bind+":/mnt", "seeded", "sleep", "100000")
	volData := filepath.Join(s.root, "volumes", "named", "_data")

	for _, state := range []string{"running", "stopped"} {
		if state == "stopped" {
			s.ok("stop", "-t", "0", "box")
		}
		x := filepath.Join(host, "x-"+state)
		os.WriteFile(x, []byte("payload "+state), 0o644)

		// Into a named volume, a bind, a bind nested in the volume and the image's VOLUME.
		s.ok("cp", x, "box:/vol/")
		s.ok("cp", x, "box:/mnt/")
		s.ok("cp", x, "box:/vol/inner/")
		s.ok("cp", x, "box:/data/")
		for _, p := range []string{filepath.Join(volData, "x-"+state), filepath.Join(bind, "x-"+state), filepath.Join(inner, "x-"+state)} {
			if b, err := os.ReadFile(p); string(b) != "payload "+state {
				t.Fatalf("%s: cp into the mount did not reach %s: %q %v", state, p, b, err)
			}
		}
		if _, err := os.Stat(filepath.Join(volData, "inner", "x-"+state)); err == nil {
			t.Fatalf("%s: the copy into /vol/inner went to the volume under the nested bind", state)
		}

		// Out of them.
		for src, want := range map[string]string{
			"/vol/x-" + state:       "payload " + state,
			"/vol/inner/x-" + state: "payload " + state,
			"/mnt/hostfile":         "BIND",
			"/data/file":            "seeded\n",
			"/data/x-" + state:      "payload " + state,
		} {
			dst := filepath.Join(out, state+strings.ReplaceAll(src, "/", "_"))
			s.ok("cp", "box:"+src, dst)
			if b, _ := os.ReadFile(dst); string(b) != want {
				t.Errorf("%s: cp box:%s: %q, want %q", state, src, b, want)
			}
		}
		// A directory read through the mounts on and in it, as a tar stream.
		r := s.run("cp", "box:/vol", "-")
		if names := tarNames(t, []byte(r.stdout)); r.code != 0 || !slices.Contains(names, "vol/x-"+state) || !slices.Contains(names, "vol/inner/x-"+state) {
			t.Errorf("%s: cp box:/vol -: %v %s", state, names, r.stderr)
		}
	}
	s.ok("start", "box")
	got := s.ok("exec", "box", "cat", "/vol/x-stopped", "/mnt/x-stopped", "/vol/inner/x-stopped", "/data/x-stopped", "/data/file")
	if got != "payload stoppedpayload stoppedpayload stoppedpayload stoppedseeded\n" {
		t.Fatalf("what cp wrote while stopped, seen by the container: %q", got)
	}
	mnt, _ := os.ReadFile("/proc/self/mountinfo")
	if n := strings.Count(string(mnt), " "+s.root+"/"); n != 1 {
		t.Fatalf("cp left mounts behind: %d mounts under the store, want the running container's", n)
	}

	// export leaves the volumes and binds out and keeps what the image has under them.
	r := s.run("export", "box")
	names := tarNames(t, []byte(r.stdout))
	if r.code != 0 || !slices.Contains(names, "vol/") || !slices.Contains(names, "data/file") {
		t.Fatalf("export: %v %s", names, r.stderr)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "vol/x-") || strings.HasPrefix(n, "data/x-") || strings.HasPrefix(n, "mnt/x-") || n == "mnt/hostfile" {
			t.Errorf("export holds %s, from a volume or bind", n)
		}
	}
}

// TestCpNeverStartedContainer: a created container's empty volume is seeded from the image for
// the copy, as the start would seed it, so the copy and the image's files are both there.
func TestCpNeverStartedContainer(t *testing.T) {
	s := volumeStore(t)
	s.ok("create", "--name", "fresh", "seeded", "sleep", "100000")
	out := filepath.Join(t.TempDir(), "file")
	s.ok("cp", "fresh:/data/file", out)
	if b, _ := os.ReadFile(out); string(b) != "seeded\n" {
		t.Fatalf("cp out of a fresh container's volume: %q", b)
	}
	s.ok("cp", out, "fresh:/data/copied")
	s.ok("start", "fresh")
	if got := s.ok("exec", "fresh", "cat", "/data/file", "/data/copied"); got != "seeded\nseeded\n" {
		t.Fatalf("after start: %q", got)
	}
}

// TestCpReadOnlyMounts: a copy into a read-only volume or bind, or into a --read-only
// container's root, is refused with Docker's message and writes nothing; reading works.
func TestCpReadOnlyMounts(t *testing.T) {
	s := volumeStore(t)
	ro := t.TempDir()
	os.WriteFile(filepath.Join(ro, "keep"), []byte("KEEP"), 0o644)
	x := filepath.Join(t.TempDir(), "x")
	os.WriteFile(x, []byte("payload"), 0o644)
	s.ok("run", "-d", "--name", "box", "-v", ro+":/ro:ro", "-v", "rovol:/rovol:ro", "-v", "rw:/rw", "--read-only", "seeded", "sleep", "100000")
	volData := filepath.Join(s.root, "volumes", "rovol", "_data")

	for _, state := range []string{"running", "stopped"} {
		if state == "stopped" {
			s.ok("stop", "-t", "0", "box")
		}
		for _, c := range []struct {
			stdin []byte
			args  []string
			msg   string
		}{
			{nil, []string{"cp", x, "box:/ro/"}, "mounted volume is marked read-only"},
			{nil, []string{"cp", x, "box:/ro/keep"}, "mounted volume is marked read-only"},
			{nil, []string{"cp", x, "box:/ro"}, "mounted volume is marked read-only"},
			{nil, []string{"cp", x, "box:/rovol/new"}, "mounted volume is marked read-only"},
			{cpTar(t, map[string]string{"t": "x"}), []string{"cp", "-", "box:/ro"}, "mounted volume is marked read-only"},
			{nil, []string{"cp", x, "box:/tmp/"}, "container rootfs is marked read-only"},
		} {
			r := s.runIn(c.stdin, c.args...)
			if r.code == 0 || !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, c.msg) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("%s: %v: %+v, want a refusal saying %q", state, c.args, r, c.msg)
			}
		}
		if ents, _ := os.ReadDir(ro); len(ents) != 1 {
			t.Fatalf("%s: the read-only bind was written: %v", state, ents)
		}
		if b, _ := os.ReadFile(filepath.Join(ro, "keep")); string(b) != "KEEP" {
			t.Fatalf("%s: the read-only bind's file changed: %q", state, b)
		}
		if ents, _ := os.ReadDir(volData); len(ents) != 0 {
			t.Fatalf("%s: the read-only volume was written: %v", state, ents)
		}
		// Reading a read-only mount, and writing a writable volume of a read-only container.
		dst := filepath.Join(t.TempDir(), "keep")
		s.ok("cp", "box:/ro/keep", dst)
		if b, _ := os.ReadFile(dst); string(b) != "KEEP" {
			t.Fatalf("%s: cp out of a read-only bind: %q", state, b)
		}
		s.ok("cp", x, "box:/rw/"+state)
	}
}

// TestCpMountsStayInside: a symlink in a volume or a bind source that points at "/" resolves in
// the container's root, never the host's, both ways.
func TestCpMountsStayInside(t *testing.T) {
	s := volumeStore(t)
	bind := t.TempDir()
	mark := filepath.Base(bind)
	hostDir := filepath.Join("/tmp", "hako-cpm-"+mark)
	os.MkdirAll(hostDir, 0o755)
	t.Cleanup(func() { os.RemoveAll(hostDir) })
	os.WriteFile(filepath.Join(hostDir, "secret"), []byte("HOST"), 0o644)
	os.Symlink("/", filepath.Join(bind, "root"))
	os.Symlink(hostDir, filepath.Join(bind, "hostdir"))
	x := filepath.Join(t.TempDir(), "x")
	os.WriteFile(x, []byte("payload"), 0o644)
	s.ok("run", "-d", "--name", "box", "-v", "vol:/vol", "-v", bind+":/mnt", "seeded", "sleep", "100000")
	s.ok("exec", "box", "ln", "-s", "/", "/vol/root")
	s.ok("exec", "box", "ln", "-s", "../../../../..", "/vol/up")

	for _, state := range []string{"running", "stopped"} {
		if state == "stopped" {
			s.ok("stop", "-t", "0", "box")
		}
		for _, dir := range []string{"/vol/root", "/vol/up", "/mnt/root"} {
			// Reading: the container's /etc/passwd (two lines), never the host's.
			dst := filepath.Join(t.TempDir(), "pw")
			s.ok("cp", "box:"+dir+"/etc/passwd", dst)
			if b, _ := os.ReadFile(dst); strings.Count(string(b), "\n") != 2 {
				t.Fatalf("%s: cp box:%s/etc/passwd read the host's:\n%s", state, dir, b)
			}
			if r := s.run("cp", "box:"+dir+hostDir+"/secret", dst); r.code == 0 {
				t.Fatalf("%s: cp box:%s%s/secret read the host", state, dir, hostDir)
			}
			// Writing: lands in the container's /tmp.
			name := state + strings.ReplaceAll(dir, "/", "_")
			s.ok("cp", x, "box:"+dir+"/tmp/"+name)
			if _, err := os.Stat("/tmp/" + name); err == nil {
				os.Remove("/tmp/" + name)
				t.Fatalf("%s: cp through %s wrote the host's /tmp", state, dir)
			}
		}
		// The bind's symlink to a host directory is the container's path of that name.
		if r := s.run("cp", "box:/mnt/hostdir/secret", filepath.Join(t.TempDir(), "s")); r.code == 0 {
			t.Fatalf("%s: cp followed a bind's symlink to the host", state)
		}
		if r := s.run("cp", x, "box:/mnt/hostdir/"); r.code == 0 {
			t.Fatalf("%s: cp wrote through a bind's symlink to the host", state)
		}
		if ents, _ := os.ReadDir(hostDir); len(ents) != 1 {
			t.Fatalf("%s: the host directory was written: %v", state, ents)
		}
	}
	s.ok("start", "box")
	got := s.ok("exec", "box", "ls", "/tmp")
	for _, state := range []string{"running", "stopped"} {
		for _, dir := range []string{"_vol_root", "_vol_up", "_mnt_root"} {
			if !strings.Contains(got, state+dir+"\n") {
				t.Errorf("the copy %s%s is not in the container's /tmp: %q", state, dir, got)
			}
		}
	}
}

// TestCpEtcFiles: cp sees the /etc/hostname, /etc/hosts and /etc/resolv.conf that the container
// has (the monitor writes and binds them), running or stopped, not the image's files under
// them. Copying onto one fails as with Docker (the file is a mount point: "device or resource
// busy") and changes nothing.
func TestCpEtcFiles(t *testing.T) {
	s := runStore(t)
	id := strings.TrimSpace(s.ok("run", "-d", "--name", "etc", "-h", "cphost", "busybox", "sleep", "100000"))
	out := t.TempDir()
	for _, state := range []string{"running", "stopped"} {
		if state == "stopped" {
			s.ok("stop", "-t", "0", "etc")
		}
		for _, f := range []string{"hostname", "hosts", "resolv.conf"} {
			want, err := os.ReadFile(filepath.Join(s.root, "containers", id, "etc", f))
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(out, state+"-"+f)
			s.ok("cp", "etc:/etc/"+f, dst)
			if got, _ := os.ReadFile(dst); string(got) != string(want) {
				t.Errorf("%s: cp etc:/etc/%s gave %q, want the container's %q", state, f, got, want)
			}
		}
		if got, _ := os.ReadFile(filepath.Join(out, state+"-hostname")); string(got) != "cphost\n" {
			t.Errorf("%s: /etc/hostname %q", state, got)
		}
	}
	s.ok("start", "etc")
	add := filepath.Join(out, "hosts")
	os.WriteFile(add, []byte("10.1.2.3 added\n"), 0o644)
	before := s.ok("exec", "etc", "cat", "/etc/hosts")
	if r := s.run("cp", add, "etc:/etc/hosts"); r.code != 125 || !strings.Contains(r.stderr, "busy") {
		t.Errorf("cp onto /etc/hosts: %+v", r)
	}
	if got := s.ok("exec", "etc", "cat", "/etc/hosts"); got != before {
		t.Errorf("after a refused cp the container reads %q, was %q", got, before)
	}
	s.ok("rm", "-f", "etc")
}

// TestCpEtcUnderMount: the monitor binds /etc/hostname, hosts and resolv.conf before the user's
// mounts, so a volume on /etc hides them from the container; cp sees what the container sees,
// running or stopped: the volume's files, without those three, and it never creates them in the
// volume to bind them on. A read-only bind on /etc leaves cp working (nothing to create there).
func TestCpEtcUnderMount(t *testing.T) {
	s := runStore(t)
	s.ok("run", "-d", "--name", "ev", "-v", "etcvol:/etc", "busybox", "sleep", "100000")
	data := filepath.Join(s.root, "volumes", "etcvol", "_data")
	s.ok("exec", "ev", "sh", "-c", "echo mine >/etc/mine")
	out := t.TempDir()
	for _, state := range []string{"running", "stopped"} {
		if state == "stopped" {
			s.ok("stop", "-t", "0", "ev")
		}
		dst := filepath.Join(out, state+"-mine")
		s.ok("cp", "ev:/etc/mine", dst)
		if b, _ := os.ReadFile(dst); string(b) != "mine\n" {
			t.Errorf("%s: cp ev:/etc/mine: %q", state, b)
		}
		r := s.run("cp", "ev:/etc", "-")
		names := tarNames(t, []byte(r.stdout))
		if r.code != 0 || !slices.Contains(names, "etc/mine") || !slices.Contains(names, "etc/passwd") {
			t.Errorf("%s: cp ev:/etc -: %v %s", state, names, r.stderr)
		}
		for _, f := range []string{"hostname", "hosts", "resolv.conf"} {
			if slices.Contains(names, "etc/"+f) {
				t.Errorf("%s: cp shows /etc/%s, which the volume hides from the container", state, f)
			}
			if _, err := os.Lstat(filepath.Join(data, f)); err == nil {
				t.Errorf("%s: cp created %s in the volume on /etc", state, f)
			}
		}
	}

	hostEtc := t.TempDir()
	os.Chmod(hostEtc, 0o755)
	os.WriteFile(filepath.Join(hostEtc, "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644)
	s.ok("run", "-d", "--name", "ro", "-v", hostEtc+":/etc:ro", "busybox", "sleep", "100000")
	dst := filepath.Join(out, "passwd")
	s.ok("cp", "ro:/etc/passwd", dst)
	if b, _ := os.ReadFile(dst); string(b) != "root:x:0:0:root:/root:/bin/sh\n" {
		t.Errorf("cp out of a read-only bind on /etc: %q", b)
	}
	if ents, _ := os.ReadDir(hostEtc); len(ents) != 1 {
		t.Errorf("cp wrote into the host directory on /etc: %v", ents)
	}
}

// TestExportStoppedPrivateMount: export of a stopped container mounts its snapshot where only the
// export sees it, so a hako killed in the middle of one leaves no mount behind.
func TestExportStoppedPrivateMount(t *testing.T) {
	s := runStore(t)
	s.ok("create", "--name", "stopped", "busybox")
	cmd := exec.Command(hakoBin, "--root", s.root, "export", "stopped")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	// The tar is far longer than a pipe holds: export has its mount and waits for a reader.
	if _, err := io.ReadFull(out, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	if n := s.mountLines(); n != 0 {
		t.Errorf("export's mount is seen by the host: %d mounts of the store", n)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if n := s.mountLines(); n != 0 {
		t.Errorf("the killed export left %d mounts of the store", n)
	}
	if tarNames(t, []byte(s.ok("export", "stopped"))) == nil {
		t.Error("export after the killed one: an empty tar")
	}
}
