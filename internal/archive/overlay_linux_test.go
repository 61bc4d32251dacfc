package archive

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func mountOverlay(t *testing.T, lower, upper string) string {
	t.Helper()
	work, merged := t.TempDir(), t.TempDir()
	opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Skipf("overlay mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(merged, unix.MNT_DETACH) })
	return merged
}

// TestOverlayRoundTrip changes a lower tree through a real overlay mount, then checks that the
// upper dir's layer reproduces what the mount showed, applied either way.
func TestOverlayRoundTrip(t *testing.T) {
	requireRoot(t)
	lower, upper := t.TempDir(), t.TempDir()
	makeTree(t, lower)
	mustWrite(t, filepath.Join(lower, "opq/old1"), "old", 0o644)
	mustWrite(t, filepath.Join(lower, "opq/sub/old2"), "old", 0o644)
	mustWrite(t, filepath.Join(lower, "keep/x"), "x", 0o644)

	merged := mountOverlay(t, lower, upper)
	must(t, os.Remove(filepath.Join(merged, "etc/shadow")))                          // whiteout
	must(t, os.RemoveAll(filepath.Join(merged, "usr")))                              // whiteout of a dir
	must(t, os.RemoveAll(filepath.Join(merged, "opq")))                              // ...
	must(t, os.Mkdir(filepath.Join(merged, "opq"), 0o750))                           // ... and an opaque dir
	mustWrite(t, filepath.Join(merged, "opq/new"), "new", 0o644)                     //
	mustWrite(t, filepath.Join(merged, "etc/passwd"), "changed\n", 0o644)            // copy-up
	mustWrite(t, filepath.Join(merged, "keep/y"), "y", 0o644)                        // parent copied up
	mustWrite(t, filepath.Join(merged, "added/deep/file"), "a", 0o600)               // new dirs
	must(t, os.Chown(filepath.Join(merged, "empty"), 7, 8))                          // metadata-only copy-up
	must(t, unix.Setxattr(filepath.Join(merged, "empty"), "user.k", []byte("v"), 0)) //
	want := treeDesc(t, merged)
	if _, ok := want["etc/shadow"]; ok || want["opq/new"] == "" || want["keep/x"] == "" || len(want) < 20 {
		t.Fatalf("the mount does not show the changes: %v", want)
	}
	must(t, unix.Unmount(merged, 0))

	changes, err := OverlayChanges(upper, []string{lower})
	if err != nil {
		t.Fatal(err)
	}
	wantChanges := []string{
		"A /added", "A /added/deep", "A /added/deep/file", "C /empty", "C /etc", "C /etc/passwd",
		"D /etc/shadow", "C /keep", "A /keep/y", "C /opq", "A /opq/new", "D /opq/old1", "D /opq/sub", "D /usr",
	}
	if got := changeStrings(changes); !slices.Equal(got, wantChanges) {
		t.Errorf("OverlayChanges:\n got  %v\n want %v", got, wantChanges)
	}

	var buf bytes.Buffer
	if err := WriteOverlayDiff(context.Background(), &buf, upper, DiffOptions{}); err != nil {
		t.Fatal(err)
	}
	layer := buf.Bytes()
	checkParentsFirst(t, layer)

	t.Run("native", func(t *testing.T) {
		got := cpTree(t, lower)
		apply(t, got, layer, OCIWhiteouts)
		compareTrees(t, want, treeDesc(t, got))
	})
	t.Run("overlay", func(t *testing.T) {
		upper2 := t.TempDir()
		apply(t, upper2, layer, OverlayWhiteouts)
		m := mountOverlay(t, lower, upper2)
		compareTrees(t, want, treeDesc(t, m))
		// The rebuilt upper dir gives the same layer back.
		must(t, unix.Unmount(m, 0))
		var again bytes.Buffer
		if err := WriteOverlayDiff(context.Background(), &again, upper2, DiffOptions{}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(layer, again.Bytes()) {
			t.Errorf("layer of the rebuilt upper differs:\n%v\n%v", tarNames(t, layer), tarNames(t, again.Bytes()))
		}
	})
}

// TestOverlayChangesLowers checks the lookup through several lower layers with their own
// whiteouts and opaque dirs.
func TestOverlayChangesLowers(t *testing.T) {
	requireRoot(t)
	bottom, middle, upper := t.TempDir(), t.TempDir(), t.TempDir()
	mustWrite(t, filepath.Join(bottom, "a/f"), "", 0o644)
	mustWrite(t, filepath.Join(bottom, "b/f"), "", 0o644)
	mustWrite(t, filepath.Join(bottom, "c"), "", 0o644)
	mustWrite(t, filepath.Join(middle, "b/g"), "", 0o644)
	must(t, unix.Setxattr(filepath.Join(middle, "b"), "trusted.overlay.opaque", []byte("y"), 0)) // hides b/f
	must(t, unix.Mknod(filepath.Join(middle, "c"), unix.S_IFCHR, 0))                             // hides c
	mustWrite(t, filepath.Join(upper, "a/f"), "", 0o644)
	mustWrite(t, filepath.Join(upper, "b/f"), "", 0o644)
	mustWrite(t, filepath.Join(upper, "b/g"), "", 0o644)
	mustWrite(t, filepath.Join(upper, "c"), "", 0o644)
	changes, err := OverlayChanges(upper, []string{middle, bottom})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"C /a", "C /a/f", "C /b", "A /b/f", "C /b/g", "A /c"}
	if got := changeStrings(changes); !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}
