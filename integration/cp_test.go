package integration

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCp: files and directories both ways, Docker's destination rules, -a, -L, tar streams, and
// a stopped container.
func TestCp(t *testing.T) {
	s := runStore(t)
	s.ok("run", "-d", "--name", "box", "busybox", "sleep", "100000")
	host := t.TempDir()
	os.MkdirAll(filepath.Join(host, "d", "sub"), 0o750)
	os.WriteFile(filepath.Join(host, "d", "f"), []byte("file f\n"), 0o640)
	os.WriteFile(filepath.Join(host, "d", "sub", "g"), []byte("file g\n"), 0o600)
	os.Symlink("f", filepath.Join(host, "d", "link"))
	os.Chown(filepath.Join(host, "d", "f"), 1234, 5678)

	// host -> container: a directory into an existing one, a file under a new name.
	s.ok("cp", filepath.Join(host, "d"), "box:/tmp")
	if got := s.ok("exec", "box", "sh", "-c", "cat /tmp/d/f /tmp/d/sub/g; readlink /tmp/d/link; stat -c '%a %u:%g' /tmp/d/f /tmp/d"); got != "file f\nfile g\nf\n640 0:0\n750 0:0\n" {
		t.Fatalf("cp dir into container: %q", got)
	}
	s.ok("cp", filepath.Join(host, "d", "f"), "box:/renamed")
	s.ok("cp", "-a", filepath.Join(host, "d", "f"), "box:/kept")
	if got := s.ok("exec", "box", "stat", "-c", "%u:%g", "/renamed", "/kept"); got != "0:0\n1234:5678\n" {
		t.Fatalf("cp without and with -a: %q", got)
	}
	// "SRC/." copies the contents.
	s.ok("exec", "box", "mkdir", "/contents")
	s.ok("cp", filepath.Join(host, "d")+"/.", "box:/contents")
	if got := s.ok("exec", "box", "ls", "/contents"); got != "f\nlink\nsub\n" {
		t.Fatalf("cp SRC/.: %q", got)
	}

	// container -> host
	out := t.TempDir()
	s.ok("cp", "box:/tmp/d", out)
	if b, _ := os.ReadFile(filepath.Join(out, "d", "sub", "g")); string(b) != "file g\n" {
		t.Fatalf("cp dir out of container: %q", b)
	}
	s.ok("cp", "box:/etc/passwd", filepath.Join(out, "pw"))
	if b, _ := os.ReadFile(filepath.Join(out, "pw")); !strings.HasPrefix(string(b), "root:x:0:0") {
		t.Fatalf("cp file out: %q", b)
	}
	// -L follows a source symlink; without it the link itself is copied.
	s.ok("exec", "box", "ln", "-s", "/etc/passwd", "/pwlink")
	s.ok("cp", "box:/pwlink", filepath.Join(out, "asLink"))
	s.ok("cp", "-L", "box:/pwlink", filepath.Join(out, "followed"))
	if l, err := os.Readlink(filepath.Join(out, "asLink")); err != nil || l != "/etc/passwd" {
		t.Fatalf("cp of a symlink: %q %v", l, err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "followed")); !strings.HasPrefix(string(b), "root:x:0:0") {
		t.Fatalf("cp -L: %q", b)
	}

	// tar streams both ways.
	r := s.run("cp", "box:/tmp/d", "-")
	names := tarNames(t, []byte(r.stdout))
	if r.code != 0 || strings.Join(names, " ") != "d/ d/f d/link d/sub/ d/sub/g" {
		t.Fatalf("cp to -: %v %+v", names, r.stderr)
	}
	if r := s.runIn(cpTar(t, map[string]string{"in/a": "A"}), "cp", "-", "box:/tmp"); r.code != 0 {
		t.Fatalf("cp from -: %+v", r)
	}
	if got := s.ok("exec", "box", "cat", "/tmp/in/a"); got != "A" {
		t.Fatalf("cp from -: %q", got)
	}

	// A stopped container: its snapshot is mounted for the copy, and the copy is there at the
	// next start.
	s.ok("stop", "-t", "0", "box")
	s.ok("cp", filepath.Join(host, "d", "f"), "box:/while-stopped")
	s.ok("cp", "box:/tmp/in/a", filepath.Join(out, "from-stopped"))
	if b, _ := os.ReadFile(filepath.Join(out, "from-stopped")); string(b) != "A" {
		t.Fatalf("cp from a stopped container: %q", b)
	}
	s.ok("start", "box")
	if got := s.ok("exec", "box", "cat", "/while-stopped"); got != "file f\n" {
		t.Fatalf("cp into a stopped container: %q", got)
	}
	mnt, _ := os.ReadFile("/proc/self/mountinfo")
	if n := strings.Count(string(mnt), " "+s.root+"/"); n != 1 {
		t.Fatalf("cp left mounts behind: %d mounts under the store, want the running container's", n)
	}

	// Bad input: one line, 125, nothing written.
	for _, args := range [][]string{
		{"cp", "box:/nosuch", out},
		{"cp", filepath.Join(host, "nosuch"), "box:/tmp"},
		{"cp", "nosuchbox:/etc/passwd", out},
		{"cp", "box:/etc", "box:/tmp"},
		{"cp", filepath.Join(host, "d"), "box:/etc/passwd"},
	} {
		r := s.run(args...)
		if r.code != 125 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.HasPrefix(r.stderr, "Error: ") {
			t.Errorf("%v: %+v", args, r)
		}
	}
	if r := s.run("cp", "box:/nosuch", out); !strings.Contains(r.stderr, "Could not find the file /nosuch in container box") {
		t.Errorf("cp of a missing path: %q", r.stderr)
	}
}

// TestCpStaysInsideTheContainer: symlinks resolve inside the container root, "../" stops at it,
// tar streams cannot climb out or write through symlinks, and a path swapped for a symlink while
// cp runs never redirects it to the host (CVE-2018-15664).
func TestCpStaysInsideTheContainer(t *testing.T) {
	s := runStore(t)
	s.ok("run", "-d", "--name", "box", "busybox", "sleep", "100000")
	host := t.TempDir()
	mark := filepath.Base(host) // unique, and the same name exists nowhere in the container
	hostDir := filepath.Join("/tmp", "hako-cp-"+mark)
	os.MkdirAll(hostDir, 0o755)
	t.Cleanup(func() { os.RemoveAll(hostDir) })
	os.WriteFile(filepath.Join(hostDir, "secret"), []byte("HOST"), 0o644)
	os.WriteFile(filepath.Join(host, "x"), []byte("payload"), 0o644)

	// A symlink to /tmp lands in the container's /tmp.
	s.ok("exec", "box", "ln", "-s", "/tmp", "/tlink")
	s.ok("cp", filepath.Join(host, "x"), "box:/tlink/"+mark)
	if got := s.ok("exec", "box", "cat", "/tmp/"+mark); got != "payload" {
		t.Fatalf("through /tlink: %q", got)
	}
	if _, err := os.Stat("/tmp/" + mark); err == nil {
		t.Fatalf("cp through a container symlink wrote the host's /tmp")
	}
	// An absolute symlink to a host path reads the container's path of that name.
	s.ok("exec", "box", "ln", "-s", hostDir+"/secret", "/leak")
	if r := s.run("cp", "-L", "box:/leak", filepath.Join(host, "leaked")); r.code == 0 {
		b, _ := os.ReadFile(filepath.Join(host, "leaked"))
		t.Fatalf("cp -L followed a symlink to the host: %q", b)
	}
	// "../" stops at the root, both ways.
	s.ok("cp", filepath.Join(host, "x"), "box:/../../../../tmp/up-"+mark)
	if got := s.ok("exec", "box", "cat", "/tmp/up-"+mark); got != "payload" {
		t.Fatalf("../ into the container: %q", got)
	}
	if _, err := os.Stat("/tmp/up-" + mark); err == nil {
		t.Fatalf("../ wrote the host")
	}
	s.ok("cp", "box:/../../../etc/passwd", filepath.Join(host, "pw"))
	if b, _ := os.ReadFile(filepath.Join(host, "pw")); strings.Count(string(b), "\n") != 2 {
		t.Fatalf("../ read the host's /etc/passwd:\n%s", b)
	}
	// Tar streams: no climbing out, no writing through a symlink in the way.
	if r := s.runIn(cpTar(t, map[string]string{"../../../../" + hostDir[1:] + "/climbed": "x"}), "cp", "-", "box:/tmp"); r.code != 125 {
		t.Fatalf("tar with ../: %+v", r)
	}
	s.ok("exec", "box", "ln", "-s", hostDir, "/tmp/trap")
	if r := s.runIn(cpTar(t, map[string]string{"trap/through": "x"}), "cp", "-", "box:/tmp"); r.code != 125 {
		t.Fatalf("tar through a symlink: %+v", r)
	}
	if ents, _ := os.ReadDir(hostDir); len(ents) != 1 {
		t.Fatalf("the host directory was written: %v", ents)
	}

	// The race: the container swaps /w between a directory and a symlink to the host
	// directory's path while cp reads and writes under /w.
	s.ok("exec", "box", "sh", "-c", "mkdir -p /w.real && echo CTR >/w.real/secret && ln -s "+hostDir+" /w.link")
	s.ok("exec", "-d", "box", "sh", "-c", "while :; do mv -T /w.real /w; mv -T /w /w.real; mv -T /w.link /w; mv -T /w /w.link; done")
	deadline := time.Now().Add(3 * time.Second)
	n := 0
	for time.Now().Before(deadline) || n < 20 {
		n++
		dst := filepath.Join(host, "race")
		os.Remove(dst)
		if r := s.run("cp", "box:/w/secret", dst); r.code == 0 {
			if b, _ := os.ReadFile(dst); string(b) != "CTR\n" {
				t.Fatalf("round %d: cp read %q through a swapped path", n, b)
			}
		}
		s.run("cp", filepath.Join(host, "x"), "box:/w/pwned")
	}
	if ents, _ := os.ReadDir(hostDir); len(ents) != 1 {
		t.Fatalf("the host directory was written during the race: %v", ents)
	}
	t.Logf("%d rounds of cp against a swapping path", n)
}

// TestCpRunsNothingFromTheContainer: CVE-2019-14271. cp -a loads no library and runs no helper
// of the container's: with booby-trapped NSS files in the container, the traced cp execs only
// itself and opens none of them.
func TestCpRunsNothingFromTheContainer(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("needs strace")
	}
	s := runStore(t)
	s.ok("run", "-d", "--name", "box", "busybox", "sleep", "100000")
	s.ok("exec", "box", "sh", "-c", "mkdir -p /lib/x86_64-linux-gnu /lib64 && for l in /lib/x86_64-linux-gnu/libnss_files.so.2 /lib64/libnss_files.so.2 /lib/x86_64-linux-gnu/libc.so.6; do echo trap >$l; done; printf 'passwd: files\\ngroup: files\\n' >/etc/nsswitch.conf")
	dir := t.TempDir()
	trace := filepath.Join(dir, "trace")
	for _, args := range [][]string{{"cp", "-a", "box:/etc", filepath.Join(dir, "etc")}, {"cp", "-a", filepath.Join(dir, "etc"), "box:/copied"}} {
		cmd := exec.Command("strace", append([]string{"-f", "-qq", "-e", "trace=execve,execveat,open,openat,openat2", "-o", trace, hakoBin, "--root", s.root}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		b, _ := os.ReadFile(trace)
		var execs []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "execve") && !strings.Contains(l, "resumed") {
				execs = append(execs, l)
			}
			// The copy itself opens each entry relative to its directory with O_NOFOLLOW; a
			// lookup would open an absolute path.
			_, p, _ := strings.Cut(l, `"`)
			abs := strings.HasPrefix(p, "/")
			if abs && (strings.Contains(p, ".so") && strings.Contains(p, s.root) || strings.Contains(p, "libnss") || strings.Contains(p, "nsswitch")) {
				t.Errorf("%v opened a library of the container: %s", args, l)
			}
		}
		if len(execs) != 1 {
			t.Errorf("%v ran other programs: %q", args, execs)
		}
	}
}

func tarNames(t *testing.T, b []byte) []string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var out []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		out = append(out, h.Name)
	}
	return out
}

func cpTar(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	return buf.Bytes()
}
