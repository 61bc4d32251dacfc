package mount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
}

func mustMkdir(t *testing.T, parts ...string) string {
	t.Helper()
	p := filepath.Join(parts...)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func unmountCleanup(t *testing.T, target string) {
	t.Cleanup(func() {
		if err := Unmount(target); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}

func TestParseOptions(t *testing.T) {
	p := parse([]string{"rbind", "ro", "nosuid", "rprivate", "size=1m", "rw", "noexec"})
	if p.flags != unix.MS_BIND|unix.MS_REC|unix.MS_NOSUID|unix.MS_NOEXEC {
		t.Errorf("flags = %#x", p.flags)
	}
	if p.attrs != unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC {
		t.Errorf("attrs = %#x", p.attrs)
	}
	if len(p.prop) != 1 || p.prop[0] != unix.MS_PRIVATE|unix.MS_REC {
		t.Errorf("propagation = %v", p.prop)
	}
	if len(p.data) != 1 || p.data[0] != "size=1m" {
		t.Errorf("data = %q", p.data)
	}
}

func TestBindReadOnly(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	src := mustMkdir(t, dir, "src")
	target := mustMkdir(t, dir, "target")
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := Mount{Type: "bind", Source: src, Options: []string{"rbind", "ro"}}
	if err := m.Mount(target); err != nil {
		t.Fatal(err)
	}
	unmountCleanup(t, target)
	if b, err := os.ReadFile(filepath.Join(target, "f")); err != nil || string(b) != "x" {
		t.Fatalf("read through bind: %q, %v", b, err)
	}
	err := os.WriteFile(filepath.Join(target, "g"), nil, 0o644)
	if !errors.Is(err, unix.EROFS) {
		t.Fatalf("write to ro bind: %v, want EROFS", err)
	}
}

func TestUnmountStackedAndAbsent(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	target := mustMkdir(t, dir, "target")
	for i := 0; i < 3; i++ {
		m := Mount{Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}}
		if err := m.Mount(target); err != nil {
			t.Fatal(err)
		}
	}
	if err := Unmount(target); err != nil {
		t.Fatal(err)
	}
	if mounted, err := mountinfo.Mounted(target); err != nil || mounted {
		t.Fatalf("after Unmount: mounted=%v err=%v", mounted, err)
	}
	if err := Unmount(target); err != nil {
		t.Errorf("Unmount of an unmounted dir: %v", err)
	}
	if err := Unmount(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("Unmount of a missing dir: %v", err)
	}
}

// TestOverlayBeyondOnePage mounts an overlay whose lowerdir option alone is far longer than the
// page that mount(2) accepts, then unmounts it: the fs-context and mount fds must be closed by
// then or umount says EBUSY.
func TestOverlayBeyondOnePage(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	const layers = 200
	var lowers []string
	for i := layers - 1; i >= 0; i-- {
		l := mustMkdir(t, dir, fmt.Sprintf("a-rather-long-lower-directory-name-%04d", i))
		if err := os.WriteFile(filepath.Join(l, fmt.Sprintf("f%04d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		lowers = append(lowers, l)
	}
	lowerdir := strings.Join(lowers, ":")
	if len(lowerdir) <= os.Getpagesize() {
		t.Fatalf("lowerdir is only %d bytes", len(lowerdir))
	}
	m := Mount{Type: "overlay", Source: "overlay", Options: []string{
		"workdir=" + mustMkdir(t, dir, "work"),
		"upperdir=" + mustMkdir(t, dir, "upper"),
		"lowerdir=" + lowerdir,
	}}
	target := mustMkdir(t, dir, "merged")
	if err := m.Mount(target); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(target)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != layers {
		t.Errorf("merged dir has %d entries, want %d", len(entries), layers)
	}
	if err := os.WriteFile(filepath.Join(target, "new"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Unmount(target, 0); err != nil {
		t.Fatalf("plain umount right after Mount (fds left open?): %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "upper", "new")); err != nil {
		t.Errorf("write did not reach the upper dir: %v", err)
	}
}

func TestOverlayErrorSaysWhy(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	m := Mount{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + filepath.Join(dir, "missing1") + ":" + filepath.Join(dir, "missing2"),
	}}
	err := m.Mount(mustMkdir(t, dir, "merged"))
	if err == nil {
		t.Fatal("mounting missing lower dirs succeeded")
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "missing1") {
		t.Errorf("error does not name the bad layer: %v", err)
	}
}

func TestAllUndoesOnFailure(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	target := mustMkdir(t, dir, "target")
	err := All([]Mount{
		{Type: "tmpfs", Source: "tmpfs"},
		{Type: "bind", Source: filepath.Join(dir, "missing"), Options: []string{"rbind"}},
	}, target)
	if err == nil {
		t.Fatal("All with a missing bind source succeeded")
	}
	if mounted, _ := mountinfo.Mounted(target); mounted {
		t.Error("All left the first mount behind")
		Unmount(target)
	}
}

// TestLegacyFallback mounts an overlay as on a kernel without the new mount API: through
// mount(2) while the options fit in a page, and with an error that says why beyond that.
func TestLegacyFallback(t *testing.T) {
	needRoot(t)
	forceLegacy = true
	defer func() { forceLegacy = false }()
	dir := t.TempDir()
	lower := func(n int) string {
		var l []string
		for i := 0; i < n; i++ {
			l = append(l, mustMkdir(t, dir, fmt.Sprintf("lower-with-a-long-name-%03d", i)))
		}
		return strings.Join(l, ":")
	}
	target := mustMkdir(t, dir, "merged")
	m := Mount{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + lower(2)}}
	if err := m.Mount(target); err != nil {
		t.Fatal(err)
	}
	if err := Unmount(target); err != nil {
		t.Fatal(err)
	}
	m.Options = []string{"lowerdir=" + lower(100)}
	err := m.Mount(target)
	if err == nil || !strings.Contains(err.Error(), "one page") {
		t.Errorf("legacy mount of a %d-byte lowerdir: %v", len(m.Options[0]), err)
	}
}
