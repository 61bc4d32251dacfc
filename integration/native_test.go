package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNativeSnapshotter runs the store and a container on the copying snapshotter, the one for
// filesystems without overlayfs.
func TestNativeSnapshotter(t *testing.T) {
	s := newStore(t)
	nat := func(args ...string) string {
		t.Helper()
		return s.ok(append([]string{"--snapshotter", "native"}, args...)...)
	}
	nat("import", busyboxTar(t), "busybox:latest")
	base, err := os.ReadFile(busyboxTar(t))
	if err != nil {
		t.Fatal(err)
	}
	layer2 := makeTar(t, dir("etc/"), file("etc/motd", "native\n"), file("bin/.wh.ls", ""))
	archive := filepath.Join(t.TempDir(), "two.tar")
	os.WriteFile(archive, dockerArchive(t, "two:1", [][]byte{base, layer2}, nil), 0o644)
	nat("load", "-i", archive)
	if _, err := os.Stat(filepath.Join(s.root, "snapshots/native")); err != nil {
		t.Fatalf("no native snapshotter dir: %v", err)
	}
	if got := nat("run", "--rm", "busybox", "sh", "-c", "echo hello > /tmp/x; cat /tmp/x"); got != "hello\n" {
		t.Fatalf("run on native: %q", got)
	}
	if got := strings.TrimSpace(nat("inspect", "--format", "{{.GraphDriver.Name}}", "two:1")); got != "native" {
		t.Fatalf("graph driver %q", got)
	}
	// The second layer added /etc/motd and its whiteout deleted bin/ls from the merged tree.
	if got := nat("run", "--rm", "two:1", "cat", "/etc/motd"); got != "native\n" {
		t.Fatalf("second layer: %q", got)
	}
	if r := s.run("--snapshotter", "native", "run", "--rm", "two:1", "ls"); r.code != 127 {
		t.Fatalf("whited-out ls: %+v", r)
	}
	nat("rmi", "two:1")
	nat("rmi", "busybox")
	if snaps, _ := filepath.Glob(filepath.Join(s.root, "snapshots/native/snapshots/*")); len(snaps) != 0 {
		t.Fatalf("rmi left %d native snapshots", len(snaps))
	}
}
