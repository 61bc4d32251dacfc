package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestRunUnpacksAgain: an image whose layer snapshots are gone (a cache of its blobs, which GC
// may take: here its records are dropped from the snapshotter's metadata) is unpacked again by
// the next run, gzip and zstd layers alike. A forked run's lean half (hako-monitor, which has
// no decompressors) has hako do it.
func TestRunUnpacksAgain(t *testing.T) {
	s := runStore(t)
	plain, err := os.ReadFile(busyboxTar(t))
	if err != nil {
		t.Fatal(err)
	}
	gz, zs := compressed(plain)
	for _, c := range []struct {
		tag  string
		data []byte
	}{{"gzip", gz}, {"zstd", zs}} {
		if r := s.runIn(c.data, "import", "-c", `CMD ["echo", "again"]`, "-", "again:"+c.tag); r.code != 0 {
			t.Fatalf("import %s: %+v", c.tag, r)
		}
	}
	// Every committed snapshot's record gone, as if GC had taken them; the next mutation's
	// clean-up deletes their directories.
	sn := filepath.Join(s.root, "snapshots", "overlay")
	b, err := os.ReadFile(filepath.Join(sn, "metadata.json"))
	if err != nil {
		t.Fatal(err)
	}
	var md map[string]any
	if err := json.Unmarshal(b, &md); err != nil {
		t.Fatal(err)
	}
	md["snapshots"] = map[string]any{}
	md["gen"] = md["gen"].(float64) + 1
	if b, err = json.Marshal(md); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(sn, "metadata-active.json"))
	if err := os.WriteFile(filepath.Join(sn, "metadata.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"gzip", "zstd"} {
		if got := s.ok("run", "--rm", "again:"+tag); got != "again\n" {
			t.Fatalf("run again:%s: %q", tag, got)
		}
	}
	if got := s.ok("run", "--rm", "busybox", "echo", "ok"); got != "ok\n" {
		t.Fatalf("run busybox: %q", got)
	}
}
