package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// makeTree builds a tree with every kind of entry that the running user can make.
func makeTree(t *testing.T, root string) {
	t.Helper()
	mustWrite(t, filepath.Join(root, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n", 0o644)
	mustWrite(t, filepath.Join(root, "etc/shadow"), "root:*:1::::::\n", 0o600)
	mustWrite(t, filepath.Join(root, "bin/busybox"), strings.Repeat("\x7fELF", 5000), 0o755)
	must(t, unix.Chmod(filepath.Join(root, "bin/busybox"), 0o4755))
	mustWrite(t, filepath.Join(root, "usr/lib/libc.so"), "libc", 0o755)
	mustWrite(t, filepath.Join(root, "empty"), "", 0o644)
	for _, l := range [][2]string{{"busybox", "bin/sh"}, {"/bin/busybox", "bin/ls"}, {"usr/lib", "lib"}, {"dangling/nowhere", "bin/dangling"}} {
		if err := os.Symlink(l[0], filepath.Join(root, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(root, "bin/busybox"), filepath.Join(root, "bin/hardlinked")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	must(t, unix.Chmod(filepath.Join(root, "tmp"), 0o1777))
	if err := unix.Mkfifo(filepath.Join(root, "tmp/fifo"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(filepath.Join(root, "etc/passwd"), "user.hako", []byte("bin\x00ary"), 0); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.MkdirAll(filepath.Join(root, "dev"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mknod(filepath.Join(root, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mknod(filepath.Join(root, "dev/sda"), unix.S_IFBLK|0o660, int(unix.Mkdev(8, 0))); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, filepath.Join(root, "home/user/.profile"), "export A=1", 0o644)
		for _, p := range []string{"home/user", "home/user/.profile"} {
			if err := os.Lchown(filepath.Join(root, p), 1000, 1000); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Lchown(filepath.Join(root, "bin/sh"), 0, 10); err != nil {
			t.Fatal(err)
		}
		if err := unix.Setxattr(filepath.Join(root, "usr/lib/libc.so"), "trusted.hako", []byte("t"), 0); err != nil {
			t.Fatal(err)
		}
	}
	// Times last, deepest first, so that making children does not move them again.
	var paths []string
	filepath.Walk(root, func(p string, _ os.FileInfo, _ error) error { paths = append(paths, p); return nil })
	slices.Reverse(paths)
	for i, p := range paths {
		tm := time.Date(2020, 1, 2, 3, 4, 5, 600, time.UTC).Add(time.Duration(i) * time.Hour)
		ts := []unix.Timespec{unix.NsecToTimespec(tm.UnixNano()), unix.NsecToTimespec(tm.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
	}
}

func writeDiff(t *testing.T, lower, upper string, opts DiffOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteDiff(context.Background(), &buf, lower, upper, opts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func apply(t *testing.T, root string, data []byte, format WhiteoutFormat) {
	t.Helper()
	if _, err := Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{Whiteouts: format, Name: t.Name()}); err != nil {
		t.Fatal(err)
	}
}

func TestWriteDiffRoundTrip(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	makeTree(t, src)
	data := writeDiff(t, "", src, DiffOptions{})
	apply(t, dst, data, OCIWhiteouts)
	compareTrees(t, treeDesc(t, src), treeDesc(t, dst))

	if again := writeDiff(t, "", src, DiffOptions{}); !bytes.Equal(data, again) {
		t.Error("two diffs of one tree differ")
	}
	// The copy's diff is the same tar: the format loses nothing that it then needs.
	if copied := writeDiff(t, "", dst, DiffOptions{}); !bytes.Equal(data, copied) {
		t.Errorf("diff of the applied copy differs:\n%v\n%v", tarNames(t, data), tarNames(t, copied))
	}
	names := tarNames(t, data)
	if !slices.Contains(names, "bin/hardlinked link=bin/busybox") {
		t.Errorf("hardlink not recorded as TypeLink: %v", names)
	}
	if !slices.IsSortedFunc(names, func(a, b string) int { return strings.Compare(strings.TrimSuffix(a, "/"), strings.TrimSuffix(b, "/")) }) {
		// Walk order (parents first, names sorted) is plain sorted order for this tree.
		t.Errorf("entries not sorted: %v", names)
	}
}

func TestWriteDiffSourceDateEpoch(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	makeTree(t, src)
	epoch := time.Date(2020, 1, 2, 10, 0, 0, 0, time.UTC)
	apply(t, dst, writeDiff(t, "", src, DiffOptions{SourceDateEpoch: &epoch}), OCIWhiteouts)
	for p, d := range treeDesc(t, dst) {
		fi, _ := os.Lstat(filepath.Join(dst, p))
		if fi.ModTime().After(epoch) {
			t.Errorf("%s: mtime %v after epoch (%s)", p, fi.ModTime(), d)
		}
	}
}

// TestWriteDiffLayered is the native snapshotter's cycle: copy the parent, change the copy, diff,
// apply the diff onto another copy of the parent: it must equal the changed copy.
func TestWriteDiffLayered(t *testing.T) {
	lower := t.TempDir()
	makeTree(t, lower)
	upper := cpTree(t, lower)
	mustWrite(t, filepath.Join(upper, "etc/passwd"), "root:x:0:0::/root:/bin/ash\n", 0o644) // content and size
	mustWrite(t, filepath.Join(upper, "etc/new/file"), "new", 0o600)                        // new dir
	must(t, os.Remove(filepath.Join(upper, "etc/shadow")))                                  // deletion
	must(t, os.RemoveAll(filepath.Join(upper, "usr")))                                      // deleted dir
	must(t, os.Chmod(filepath.Join(upper, "empty"), 0o600))                                 // metadata only
	must(t, os.Remove(filepath.Join(upper, "lib")))                                         // symlink -> dir
	mustWrite(t, filepath.Join(upper, "lib/x"), "x", 0o644)
	must(t, os.RemoveAll(filepath.Join(upper, "tmp"))) // dir -> file
	mustWrite(t, filepath.Join(upper, "tmp"), "tmp is a file now", 0o644)
	must(t, os.Link(filepath.Join(upper, "bin/busybox"), filepath.Join(upper, "bin/third"))) // new link to an unchanged file
	if os.Geteuid() == 0 {
		// In place: the parents (0700, owned by 1000) keep their mtime and are unchanged.
		mustWrite(t, filepath.Join(upper, "home/user/.profile"), "export A=2", 0o644)
	}

	data := writeDiff(t, lower, upper, DiffOptions{})
	got := cpTree(t, lower)
	apply(t, got, data, OCIWhiteouts)
	want := treeDesc(t, upper)
	// Unchanged files are not in the tar, so a new link to one arrives as a copy: the price of
	// not comparing link counts (containerd's double walk pays it too).
	want["bin/third"] = strings.Replace(want["bin/third"], " linked-to=bin/busybox", "", 1)
	compareTrees(t, want, treeDesc(t, got))

	checkParentsFirst(t, data)
	names := tarNames(t, data)
	for _, n := range []string{"etc/.wh.shadow", ".wh.usr", "bin/third", "etc/passwd"} {
		if !slices.Contains(names, n) {
			t.Errorf("tar lacks %s: %v", n, names)
		}
	}
	for _, n := range []string{"bin/busybox", "bin/hardlinked", "etc/new/", "bin/sh"} {
		if n != "etc/new/" && slices.Contains(names, n) {
			t.Errorf("tar has unchanged %s: %v", n, names)
		}
	}

	changes, err := Changes(lower, upper)
	if err != nil {
		t.Fatal(err)
	}
	wantChanges := []string{"C /bin", "A /bin/third", "C /empty", "C /etc", "A /etc/new", "A /etc/new/file", "C /etc/passwd", "D /etc/shadow", "C /lib", "A /lib/x", "C /tmp", "D /usr"}
	if os.Geteuid() == 0 {
		wantChanges = append(wantChanges, "C /home", "C /home/user", "C /home/user/.profile")
		slices.SortFunc(wantChanges, func(a, b string) int { return strings.Compare(a[2:], b[2:]) })
	}
	if got := changeStrings(changes); !slices.Equal(got, wantChanges) {
		t.Errorf("Changes:\n got  %v\n want %v", got, wantChanges)
	}
	if os.Geteuid() == 0 {
		// The same layer applied the overlay way and mounted over the parent gives the same tree.
		upper2 := t.TempDir()
		apply(t, upper2, data, OverlayWhiteouts)
		compareTrees(t, want, treeDesc(t, mountOverlay(t, lower, upper2)))
	}

	// An unchanged copy changes nothing and diffs to an empty tar.
	same := cpTree(t, lower)
	if c, err := Changes(lower, same); err != nil || len(c) != 0 {
		t.Errorf("Changes of a copy: %v %v", c, err)
	}
	if names := tarNames(t, writeDiff(t, lower, same, DiffOptions{})); len(names) != 0 {
		t.Errorf("diff of a copy: %v", names)
	}
}

// checkParentsFirst checks that every entry's parent directories come before it in the tar.
func checkParentsFirst(t *testing.T, data []byte) {
	t.Helper()
	seen := map[string]bool{".": true}
	for _, n := range tarNames(t, data) {
		n, _, _ = strings.Cut(n, " link=")
		dir, _ := splitPath(strings.TrimSuffix(n, "/"))
		if !seen[dir] {
			t.Errorf("%s comes before its parent %s", n, dir)
		}
		if strings.HasSuffix(n, "/") {
			seen[strings.TrimSuffix(n, "/")] = true
		}
	}
}

func changeStrings(c []Change) []string {
	var s []string
	for _, x := range c {
		s = append(s, x.String())
	}
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// cpTree copies a tree with cp -a, which keeps owners, modes, times, xattrs and hardlinks: an
// independent copy to check this package against.
func cpTree(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v: %s", err, out)
	}
	return dst
}

func TestWriteOverlayDiffMarkers(t *testing.T) {
	requireRoot(t)
	upper := t.TempDir()
	mustWrite(t, filepath.Join(upper, "opq/new"), "n", 0o644)
	mustWrite(t, filepath.Join(upper, "plain/f"), "f", 0o644)
	must(t, unix.Setxattr(filepath.Join(upper, "opq"), "trusted.overlay.opaque", []byte("y"), 0))
	must(t, unix.Setxattr(filepath.Join(upper, "plain"), "trusted.overlay.origin", []byte("x"), 0))
	must(t, os.MkdirAll(filepath.Join(upper, "uopq"), 0o755))
	must(t, unix.Setxattr(filepath.Join(upper, "uopq"), "user.overlay.opaque", []byte("y"), 0))
	must(t, unix.Mknod(filepath.Join(upper, "plain/gone"), unix.S_IFCHR, 0))
	var buf bytes.Buffer
	if err := WriteOverlayDiff(context.Background(), &buf, upper, DiffOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"opq/", "opq/.wh..wh..opq", "opq/new", "plain/", "plain/f", "plain/.wh.gone", "uopq/", "uopq/.wh..wh..opq"}
	if got := tarNames(t, buf.Bytes()); !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if bytes.Contains(buf.Bytes(), []byte("overlay.")) {
		t.Error("overlay xattrs leaked into the tar")
	}

	must(t, unix.Setxattr(filepath.Join(upper, "plain"), "trusted.overlay.redirect", []byte("/x"), 0))
	if err := WriteOverlayDiff(context.Background(), &buf, upper, DiffOptions{}); err == nil || !strings.Contains(err.Error(), `entry "plain": overlay trusted.overlay.redirect is not supported`) {
		t.Errorf("redirect: %v", err)
	}
}

// TestWriteDiffOwner: DiffOptions.Owner rewrites every entry's owner (a user namespace's host
// IDs to its container's), files and directories alike.
func TestWriteDiffOwner(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "d", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	uid, gid := os.Getuid(), os.Getgid()
	data := writeDiff(t, "", root, DiffOptions{Owner: func(u, g int) (int, int) { return u + 7, g + 9 }})
	tr := tar.NewReader(bytes.NewReader(data))
	n := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if hdr.Uid != uid+7 || hdr.Gid != gid+9 {
			t.Errorf("%s: owner %d:%d, want %d:%d", hdr.Name, hdr.Uid, hdr.Gid, uid+7, gid+9)
		}
	}
	if n != 2 {
		t.Errorf("%d entries, want d/ and d/f", n)
	}
}
