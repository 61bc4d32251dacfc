package integration

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// compressed is data gzipped and zstd-compressed.
func compressed(data []byte) (gz, zs []byte) {
	var g, z bytes.Buffer
	gw := gzip.NewWriter(&g)
	gw.Write(data)
	gw.Close()
	zw, _ := zstd.NewWriter(&z)
	zw.Write(data)
	zw.Close()
	return g.Bytes(), z.Bytes()
}

// TestImportCompressedAndFilters: gzip and zstd tarballs import to the same layer as the plain
// one; before/since filters, history -H=false and prune -a behave as Docker's.
func TestImportCompressedAndFilters(t *testing.T) {
	s := newStore(t)
	plain := makeTar(t, dir("etc/"), file("etc/os-release", "NAME=test\n"))
	gz, zs := compressed(plain)
	layers := map[string]string{}
	for _, c := range []struct {
		tag  string
		data []byte
	}{{"plain", plain}, {"gzip", gz}, {"zstd", zs}} {
		r := s.runIn(c.data, "import", "-", "img:"+c.tag)
		if r.code != 0 {
			t.Fatalf("import %s: %+v", c.tag, r)
		}
		layers[c.tag] = s.ok("inspect", "--format", "{{json .RootFS.Layers}}", "img:"+c.tag)
		time.Sleep(1100 * time.Millisecond) // distinct creation seconds for before/since
	}
	if layers["gzip"] != layers["plain"] || layers["zstd"] != layers["plain"] {
		t.Fatalf("compressed imports have other diffIDs: %v", layers)
	}
	if got := s.ok("images", "--format", "{{.Tag}}", "--filter", "before=img:zstd"); got != "gzip\nplain\n" {
		t.Fatalf("before=img:zstd: %q", got)
	}
	if got := s.ok("images", "--format", "{{.Tag}}", "--filter", "since=img:plain"); got != "zstd\ngzip\n" {
		t.Fatalf("since=img:plain: %q", got)
	}
	if got := s.ok("history", "-H=false", "--format", "{{.CreatedSince}} {{.Size}}", "img:plain"); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* \d+\n$`).MatchString(got) {
		t.Fatalf("history -H=false: %q", got)
	}
	// prune without -a keeps tagged images; with -a it removes every image no container uses.
	if got := s.ok("image", "prune", "-f"); !strings.Contains(got, "Total reclaimed space: 0B") {
		t.Fatalf("prune of nothing: %q", got)
	}
	if r := s.runIn([]byte("n\n"), "image", "prune", "-a"); r.code != 0 || s.ok("images", "-q") == "" {
		t.Fatalf("prune -a answered no removed images: %+v", r)
	}
	s.ok("image", "prune", "-a", "-f")
	if got := s.ok("images", "-aq"); got != "" {
		t.Fatalf("prune -a left %q", got)
	}
	if blobs, _ := filepath.Glob(filepath.Join(s.root, "content/blobs/sha256/*")); len(blobs) != 0 {
		t.Fatalf("prune -a left %d blobs", len(blobs))
	}
}

// TestKill9DuringImport: a killed import leaves a store that works, and a retry succeeds.
func TestKill9DuringImport(t *testing.T) {
	s := newStore(t)
	archive := bigArchive(t, "unused:1") // any large tar will do as a filesystem tarball
	for _, delay := range []time.Duration{30 * time.Millisecond, 150 * time.Millisecond, 400 * time.Millisecond} {
		cmd := exec.Command(hakoBin, "--root", s.root, "import", archive, "big:1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		// Whatever it was doing (the overlay check's test mount, say), nothing stays mounted.
		if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), s.root) {
			t.Fatalf("import killed after %v left a mount below the store:\n%s", delay, mi)
		}
		s.ok("images")
	}
	s.ok("import", archive, "big:1")
	s.ok("rmi", "big:1")
	s.ok("image", "prune", "-f")
	if blobs, _ := filepath.Glob(filepath.Join(s.root, "content/blobs/sha256/*")); len(blobs) != 0 {
		t.Fatalf("after kills, import, rmi and prune %d blobs remain", len(blobs))
	}
	if snaps, _ := filepath.Glob(filepath.Join(s.root, "snapshots/*/snapshots/[0-9]*")); len(snaps) != 0 {
		t.Fatalf("after kills, import, rmi and prune %d snapshots remain", len(snaps))
	}
	if ing, _ := os.ReadDir(filepath.Join(s.root, "content/ingest")); len(ing) != 0 {
		t.Fatalf("ingest holds %d files of dead imports", len(ing))
	}
}
