package integration

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestLoadRefusesBadArchives: each bad archive is refused with an error naming the archive and
// the entry, exit 125, and the store exactly as before: no image, no blob, no index change.
func TestLoadRefusesBadArchives(t *testing.T) {
	outside := t.TempDir() // where an escaping entry would land
	marker := filepath.Join(outside, "pwned")
	good := makeTar(t, dir("etc/"), file("etc/hostname", "box\n"))
	cases := []struct {
		name    string
		archive func() []byte
		want    []string // all must appear in stderr
	}{
		{"truncated", func() []byte { a := dockerArchive(t, "x:1", [][]byte{good}, nil); return a[:len(a)/2+100] }, []string{"truncated or corrupt"}},
		{"garbage", func() []byte { return bytes.Repeat([]byte("not a tar "), 200) }, []string{"not a valid tar"}},
		{"blob digest mismatch", func() []byte {
			return dockerArchive(t, "x:1", [][]byte{good}, func(f map[string][]byte, order *[]string) {
				name := "blobs/sha256/" + strings.Repeat("ab", 32)
				f[name] = []byte("these bytes do not hash to their name")
				*order = append([]string{name}, *order...)
			})
		}, []string{"blobs/sha256/abab", "does not match"}},
		{"diffID mismatch", func() []byte {
			return dockerArchive(t, "x:1", [][]byte{good}, func(f map[string][]byte, _ *[]string) {
				f["layer0/layer.tar"] = makeTar(t, file("other", "content"))
			})
		}, []string{"diffID"}},
		{"dotdot entry", func() []byte {
			return dockerArchive(t, "x:1", [][]byte{makeTar(t, file("../../../../../.."+marker, "x"))}, nil)
		}, []string{"pwned"}},
		{"absolute entry", func() []byte { return dockerArchive(t, "x:1", [][]byte{makeTar(t, file(marker, "x"))}, nil) }, []string{"pwned"}},
		{"symlink then file, one hop", func() []byte {
			return dockerArchive(t, "x:1", [][]byte{makeTar(t, symlink("esc", outside), file("esc/pwned", "x"))}, nil)
		}, []string{"esc/pwned"}},
		{"symlink then file, two hops", func() []byte {
			return dockerArchive(t, "x:1", [][]byte{makeTar(t, symlink("a", "b"), symlink("b", outside), file("a/pwned", "x"))}, nil)
		}, []string{"a/pwned"}},
		{"relative symlink out then file", func() []byte {
			return dockerArchive(t, "x:1", [][]byte{makeTar(t, symlink("up", "../../../../../../../.."+outside), file("up/pwned", "x"))}, nil)
		}, []string{"up/pwned"}},
		{"hardlink out of the root", func() []byte {
			return dockerArchive(t, "x:1", [][]byte{makeTar(t, hardlink("passwd", "/etc/passwd"))}, nil)
		}, []string{"passwd"}},
		{"hardlink dotdot", func() []byte {
			return dockerArchive(t, "x:1", [][]byte{makeTar(t, hardlink("shadow", "../../../../etc/shadow"))}, nil)
		}, []string{"shadow"}},
		{"whiteout outside", func() []byte {
			return dockerArchive(t, "x:1", [][]byte{makeTar(t, file("../.wh.victim", ""))}, nil)
		}, []string{".wh.victim"}},
		{"PAX global header", func() []byte {
			return dockerArchive(t, "x:1", [][]byte{makeTar(t, entry{name: "pax_global_header", typ: tar.TypeXGlobalHeader}, file("a", "b"))}, nil)
		}, []string{"global"}},
		{"second layer bad, first good", func() []byte {
			return dockerArchive(t, "x:1", [][]byte{good, makeTar(t, symlink("esc", outside), file("esc/pwned", "x"))}, nil)
		}, []string{"esc/pwned"}},
		{"manifest names a missing layer", func() []byte {
			return dockerArchive(t, "x:1", [][]byte{good}, func(f map[string][]byte, order *[]string) {
				delete(f, "layer0/layer.tar")
				*order = (*order)[1:]
			})
		}, []string{"layer0/layer.tar", "missing"}},
	}
	s := newStore(t)
	s.ok("import", busyboxTar(t), "keep:me")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.t = t
			before := s.state()
			path := filepath.Join(t.TempDir(), "bad.tar")
			os.WriteFile(path, c.archive(), 0o644)
			r := s.run("load", "-i", path)
			if r.code != 125 {
				t.Errorf("exit %d, want 125 (stderr %q)", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, path) {
				t.Errorf("error does not name the archive: %q", r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("error %q does not contain %q", r.stderr, w)
				}
			}
			if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("error is not one line: %q", r.stderr)
			}
			if after := s.state(); after != before {
				t.Errorf("store changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if _, err := os.Lstat(marker); err == nil {
				t.Fatalf("an entry escaped the layer root: %s exists", marker)
			}
		})
	}
	// The store still works.
	s.t = t
	if got := s.ok("images", "--format", "{{.Repository}}"); got != "keep\n" {
		t.Fatalf("images after the bad loads: %q", got)
	}
}

// TestImportRefusesEscapes runs the layer attacks through `import` too.
func TestImportRefusesEscapes(t *testing.T) {
	outside := t.TempDir()
	s := newStore(t)
	before := s.state()
	for _, layer := range [][]byte{
		makeTar(t, symlink("esc", outside), file("esc/pwned", "x")),
		makeTar(t, file("../../../../../../.."+outside+"/pwned", "x")),
		makeTar(t, hardlink("pw", "/etc/passwd")),
	} {
		r := s.runIn(layer, "import", "-", "evil:1")
		if r.code != 125 || !strings.Contains(r.stderr, "import") {
			t.Errorf("import of an escaping layer: exit %d, %q", r.code, r.stderr)
		}
	}
	if _, err := os.Lstat(filepath.Join(outside, "pwned")); err == nil {
		t.Fatal("an import wrote outside the layer root")
	}
	if after := s.state(); after != before {
		t.Fatalf("store changed:\n%s\n%s", before, after)
	}
}

// TestLayerLimit: 500 layers load (the kernel's overlay limit), 501 are refused.
func TestLayerLimit(t *testing.T) {
	s := newStore(t)
	mk := func(n int) string {
		layers := make([][]byte, n)
		for i := range layers {
			layers[i] = makeTar(t, file(fmt.Sprintf("f%03d", i), fmt.Sprint(i)))
		}
		p := filepath.Join(t.TempDir(), "deep.tar")
		os.WriteFile(p, dockerArchive(t, fmt.Sprintf("deep:%d", n), layers, nil), 0o644)
		return p
	}
	before := s.state()
	r := s.run("load", "-i", mk(501))
	if r.code != 125 || !strings.Contains(r.stderr, "501 layers") {
		t.Fatalf("501 layers: exit %d %q", r.code, r.stderr)
	}
	if after := s.state(); after != before {
		t.Fatalf("store changed after refusing 501 layers")
	}
	s.ok("load", "-i", mk(500))
	if got := s.ok("inspect", "--format", "{{len .RootFS.Layers}}", "deep:500"); got != "500\n" {
		t.Fatalf("deep image has %q layers", got)
	}
	// A container runs on a 500-layer image: the overlay mount takes all 500 lower dirs.
	base, err := os.ReadFile(busyboxTar(t))
	if err != nil {
		t.Fatal(err)
	}
	layers := [][]byte{base}
	for i := 1; i < 500; i++ {
		layers = append(layers, makeTar(t, file(fmt.Sprintf("f%03d", i), fmt.Sprint(i))))
	}
	p := filepath.Join(t.TempDir(), "deeprun.tar")
	os.WriteFile(p, dockerArchive(t, "deeprun:1", layers, nil), 0o644)
	s.ok("load", "-i", p)
	if got := s.ok("run", "--rm", "deeprun:1", "sh", "-c", "cat /f001 /f499; ls / | grep -c '^f'"); got != "1499499\n" { // "1" and "499" without newlines, then the count
		t.Fatalf("run on 500 layers: %q", got)
	}
}

// bigArchive is a docker-archive with a 50 MB random layer: slow enough to kill mid-load.
func bigArchive(t *testing.T, tag string) string {
	t.Helper()
	big := make([]byte, 50<<20)
	rand.Read(big)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "big.bin", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(big)), ModTime: time.Unix(1700000000, 0)})
	tw.Write(big)
	tw.Close()
	p := filepath.Join(t.TempDir(), "big.tar")
	os.WriteFile(p, dockerArchive(t, tag, [][]byte{makeTar(t, file("etc/hostname", "x")), buf.Bytes()}, nil), 0o644)
	return p
}

// TestKill9DuringLoad kills `hako load` at several moments; every time the next commands work, a
// retried load succeeds, and a prune leaves no blob that no image owns.
func TestKill9DuringLoad(t *testing.T) {
	s := newStore(t)
	s.ok("import", busyboxTar(t), "keep:me")
	archive := bigArchive(t, "big:1")
	for _, delay := range []time.Duration{20 * time.Millisecond, 80 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond} {
		cmd := exec.Command(hakoBin, "--root", s.root, "load", "-i", archive)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if got := s.ok("images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(got, "keep:me") {
			t.Fatalf("after kill at %v: images = %q", delay, got)
		}
	}
	if got := s.ok("load", "-i", archive); got != "Loaded image: big:1\n" {
		t.Fatalf("retried load: %q", got)
	}
	s.ok("rmi", "big:1")
	s.ok("image", "prune", "-f")
	blobs, _ := filepath.Glob(filepath.Join(s.root, "content/blobs/sha256/*"))
	if len(blobs) != 3 { // keep:me's manifest, config and layer
		t.Fatalf("after prune %d blobs remain, want the 3 of keep:me", len(blobs))
	}
	if ing, _ := os.ReadDir(filepath.Join(s.root, "content/ingest")); len(ing) != 0 {
		t.Fatalf("ingest holds %d files of dead loads", len(ing))
	}
}

// TestConcurrentLoads: several hako processes load into one store at once.
func TestConcurrentLoads(t *testing.T) {
	s := newStore(t)
	tarPath := busyboxTar(t)
	src := newStore(t)
	src.ok("import", tarPath, "base:1")
	archive := filepath.Join(t.TempDir(), "base.tar")
	src.ok("save", "-o", archive, "base:1")
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			out, err := exec.Command(hakoBin, "--root", s.root, "load", "-i", archive).CombinedOutput()
			if err != nil {
				errs <- fmt.Sprintf("load %d: %v %s", i, err, out)
			}
			out, err = exec.Command(hakoBin, "--root", s.root, "tag", "base:1", fmt.Sprintf("copy:%d", i)).CombinedOutput()
			if err != nil {
				errs <- fmt.Sprintf("tag %d: %v %s", i, err, out)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := strings.Count(s.ok("images", "--format", "{{.Repository}}"), "copy"); got != 6 {
		t.Fatalf("%d of 6 concurrent tags survived", got)
	}
}
