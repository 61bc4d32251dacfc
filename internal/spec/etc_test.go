package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteEtcFiles(t *testing.T) {
	dir := t.TempDir()
	hostResolv := filepath.Join(dir, "host-resolv.conf")
	os.WriteFile(hostResolv, []byte("# c\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch example.com\noptions ndots:2\n"), 0o644)
	mounts, err := WriteEtcFiles(filepath.Join(dir, "c"), EtcFiles{
		Hostname: "abc", IP: "172.17.0.2", ExtraHosts: []string{"db:10.1.1.1"}, HostResolvConf: hostResolv,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 3 || mounts[0].Destination != "/etc/hostname" || mounts[2].Destination != "/etc/resolv.conf" {
		t.Fatalf("mounts %+v", mounts)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, "c", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read("hostname"); got != "abc\n" {
		t.Errorf("hostname %q", got)
	}
	hosts := read("hosts")
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.1.1.1\tdb\n", "172.17.0.2\tabc\n"} {
		if !strings.Contains(hosts, want) {
			t.Errorf("hosts lacks %q:\n%s", want, hosts)
		}
	}
	if got, want := read("resolv.conf"), "nameserver 10.0.0.2\nsearch example.com\noptions ndots:2\n"; got != want {
		t.Errorf("resolv.conf %q, want %q", got, want)
	}

	// Only loopback servers: they are unreachable from the container's network; Docker falls
	// back to Google's.
	os.WriteFile(hostResolv, []byte("nameserver 127.0.0.1\n"), 0o644)
	if _, err := WriteEtcFiles(filepath.Join(dir, "c"), EtcFiles{Hostname: "abc", HostResolvConf: hostResolv, ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	if got := read("resolv.conf"); got != "nameserver 8.8.8.8\nnameserver 8.8.4.4\n" {
		t.Errorf("resolv.conf %q", got)
	}
	// Made in place the first time, replaced after: 0644 either way, and nothing else there.
	ents, _ := os.ReadDir(filepath.Join(dir, "c"))
	for _, e := range ents {
		if fi, err := e.Info(); err != nil || fi.Mode() != 0o644 {
			t.Errorf("%s: %v %v", e.Name(), fi.Mode(), err)
		}
	}
	if len(ents) != 3 {
		t.Errorf("%d files in the etc directory, want 3", len(ents))
	}
	if _, err := WriteEtcFiles(dir, EtcFiles{Hostname: "x", ExtraHosts: []string{"bad"}}); err == nil {
		t.Errorf("bad --add-host accepted")
	}
}
