package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hako-dev/hako/internal/mount"
)

var bg = context.Background()

func openOverlay(t *testing.T, root string) *store {
	t.Helper()
	sn, err := NewOverlay(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sn.Close() })
	return sn.(*store)
}

func openNative(t *testing.T, root string) *store {
	t.Helper()
	sn, err := NewNative(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sn.Close() })
	return sn.(*store)
}

// dirOf returns the directory of the snapshot known by key.
func dirOf(t *testing.T, s *store, key string) string {
	t.Helper()
	md, err := s.load()
	if err != nil {
		t.Fatal(err)
	}
	r, err := get(md, key)
	if err != nil {
		t.Fatal(err)
	}
	return s.snapshotDir(r.ID)
}

func mustPrepareCommit(t *testing.T, s Snapshotter, name, parent string) []mount.Mount {
	t.Helper()
	m, err := s.Prepare(bg, "p-"+name, parent)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(bg, name, "p-"+name); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestOverlayMountConventions pins the exact mounts that the engine relies on.
func TestOverlayMountConventions(t *testing.T) {
	s := openOverlay(t, t.TempDir())
	mustPrepareCommit(t, s, "A", "")
	mustPrepareCommit(t, s, "B", "A")
	fsOf := func(key string) string { return filepath.Join(dirOf(t, s, key), "fs") }

	for _, tc := range []struct {
		key, parent string
		view        bool
		want        func() []mount.Mount
	}{
		{"active-empty", "", false, func() []mount.Mount {
			return []mount.Mount{{Type: "bind", Source: fsOf("active-empty"), Options: []string{"rbind", "rw"}}}
		}},
		{"active-on-B", "B", false, func() []mount.Mount {
			d := dirOf(t, s, "active-on-B")
			return []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{
				"workdir=" + filepath.Join(d, "work"),
				"upperdir=" + filepath.Join(d, "fs"),
				"lowerdir=" + fsOf("B") + ":" + fsOf("A"),
			}}}
		}},
		{"active-on-A", "A", false, func() []mount.Mount {
			d := dirOf(t, s, "active-on-A")
			return []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{
				"workdir=" + filepath.Join(d, "work"), "upperdir=" + filepath.Join(d, "fs"), "lowerdir=" + fsOf("A"),
			}}}
		}},
		{"view-empty", "", true, func() []mount.Mount {
			return []mount.Mount{{Type: "bind", Source: fsOf("view-empty"), Options: []string{"rbind", "ro"}}}
		}},
		{"view-of-A", "A", true, func() []mount.Mount {
			return []mount.Mount{{Type: "bind", Source: fsOf("A"), Options: []string{"rbind", "ro"}}}
		}},
		{"view-of-B", "B", true, func() []mount.Mount {
			return []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + fsOf("B") + ":" + fsOf("A")}}}
		}},
	} {
		var got []mount.Mount
		var err error
		if tc.view {
			got, err = s.View(bg, tc.key, tc.parent)
		} else {
			got, err = s.Prepare(bg, tc.key, tc.parent)
		}
		if err != nil {
			t.Fatal(err)
		}
		if want := tc.want(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.key, got, want)
		}
	}
}

func TestNativeMountConventions(t *testing.T) {
	s := openNative(t, t.TempDir())
	mustPrepareCommit(t, s, "A", "")
	a, err := s.Prepare(bg, "a", "A")
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.View(bg, "v", "A")
	if err != nil {
		t.Fatal(err)
	}
	if want := []mount.Mount{{Type: "bind", Source: filepath.Join(dirOf(t, s, "a"), "fs"), Options: []string{"rbind", "rw"}}}; !reflect.DeepEqual(a, want) {
		t.Errorf("Prepare: %+v, want %+v", a, want)
	}
	if want := []mount.Mount{{Type: "bind", Source: filepath.Join(dirOf(t, s, "v"), "fs"), Options: []string{"rbind", "ro"}}}; !reflect.DeepEqual(v, want) {
		t.Errorf("View: %+v, want %+v", v, want)
	}
}

func TestVersionFileAndDriverMismatch(t *testing.T) {
	root := t.TempDir()
	s := openOverlay(t, root)
	s.Close()
	b, err := os.ReadFile(filepath.Join(root, versionFile))
	if err != nil || strings.TrimSpace(string(b)) != `{"version":2,"driver":"overlay"}` {
		t.Errorf("version file: %q, %v", b, err)
	}
	if _, err := NewNative(root); err == nil {
		t.Errorf("a native snapshotter opened an overlay root")
	}
}

func TestSupported(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	if err := Supported(t.TempDir()); err != nil {
		t.Errorf("Supported on the test filesystem: %v", err)
	}
	// An overlay cannot hold an upper dir: a root inside a mounted overlay is refused.
	dir := t.TempDir()
	for _, d := range []string{"l1", "l2", "u", "w", "m"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	m := mount.Mount{Type: "overlay", Source: "overlay", Options: []string{
		"workdir=" + filepath.Join(dir, "w"), "upperdir=" + filepath.Join(dir, "u"),
		"lowerdir=" + filepath.Join(dir, "l2") + ":" + filepath.Join(dir, "l1"),
	}}
	if err := m.Mount(filepath.Join(dir, "m")); err != nil {
		t.Fatal(err)
	}
	defer mount.Unmount(filepath.Join(dir, "m"))
	if err := Supported(filepath.Join(dir, "m", "root")); err == nil || !strings.Contains(err.Error(), "overlayfs") {
		t.Errorf("Supported on overlayfs: %v", err)
	}
}

// TestOverlay500Layers stacks the kernel's maximum of 500 committed layers, each adding one file,
// and mounts an active snapshot and a view on top: both show all 500 files. The lowerdir option
// alone is several pages, far beyond what mount(2) accepts.
func TestOverlay500Layers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	if testing.Short() {
		t.Skip("slow: 1000 metadata writes")
	}
	const layers = 500
	root, err := os.MkdirTemp("", "h500-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	s := openOverlay(t, root)

	start := time.Now()
	parent := ""
	for i := 0; i < layers; i++ {
		name := fmt.Sprintf("sha256:%064d", i)
		m, err := s.Prepare(bg, "unpack", parent)
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		dir := upperOf(t, m)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", i)), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(bg, name, "unpack"); err != nil {
			t.Fatal(err)
		}
		parent = name
	}
	t.Logf("%d layers prepared and committed in %v", layers, time.Since(start))

	for _, view := range []bool{false, true} {
		var m []mount.Mount
		var err error
		if view {
			m, err = s.View(bg, "view", parent)
		} else {
			m, err = s.Prepare(bg, "container", parent)
		}
		if err != nil {
			t.Fatal(err)
		}
		var lowerdir string
		for _, o := range m[0].Options {
			if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
				lowerdir = v
			}
		}
		if n := len(strings.Split(lowerdir, ":")); n != layers {
			t.Fatalf("view=%v: %d lower dirs, want %d", view, n, layers)
		}
		if len(lowerdir) <= 4096 {
			t.Fatalf("lowerdir is %d bytes: the test does not exceed one page", len(lowerdir))
		}
		target := t.TempDir()
		start := time.Now()
		if err := mount.All(m, target); err != nil {
			t.Fatalf("view=%v: %v", view, err)
		}
		took := time.Since(start)
		entries, err := os.ReadDir(target)
		if err != nil {
			t.Fatal(err)
		}
		b, rerr := os.ReadFile(filepath.Join(target, "f000"))
		ustart := time.Now()
		if err := mount.Unmount(target); err != nil {
			t.Fatal(err)
		}
		t.Logf("view=%v: lowerdir %d bytes; mount took %v, unmount %v", view, len(lowerdir), took, time.Since(ustart))
		if len(entries) != layers {
			t.Errorf("view=%v: %d files through the mount, want %d", view, len(entries), layers)
		}
		if rerr != nil || string(b) != fmt.Sprintf("sha256:%064d", 0) {
			t.Errorf("view=%v: bottom layer's file: %q, %v", view, b, rerr)
		}
	}
}

func upperOf(t *testing.T, m []mount.Mount) string {
	t.Helper()
	if m[0].Type == "bind" {
		return m[0].Source
	}
	for _, o := range m[0].Options {
		if v, ok := strings.CutPrefix(o, "upperdir="); ok {
			return v
		}
	}
	t.Fatalf("no upper dir in %+v", m)
	return ""
}
