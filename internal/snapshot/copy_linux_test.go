package snapshot

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestCopyTreePreserves builds a tree with every kind of thing an image layer can hold and checks
// that the native snapshotter's copy is indistinguishable from it.
func TestCopyTreePreserves(t *testing.T) {
	root := os.Geteuid() == 0
	src := filepath.Join(t.TempDir(), "src")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	p := func(name string) string { return filepath.Join(src, name) }
	must(os.MkdirAll(p("dir/sub"), 0o755))
	must(os.WriteFile(p("dir/file"), []byte("hello"), 0o644))
	must(os.WriteFile(p("setuid"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Link(p("dir/file"), p("hardlink")))
	must(os.Symlink("dir/file", p("symlink")))
	must(os.Symlink("/nonexistent/target", p("dangling")))
	must(unix.Mkfifo(p("fifo"), 0o640))
	must(os.WriteFile(p("empty"), nil, 0o600))
	// A sparse file: 8 MiB of hole, a little data, 8 MiB of hole.
	f, err := os.Create(p("sparse"))
	must(err)
	_, err = f.WriteAt([]byte("data in the middle"), 8<<20)
	must(err)
	must(f.Truncate(16 << 20))
	must(f.Close())
	must(unix.Lsetxattr(p("dir/file"), "user.note", []byte("kept"), 0))
	must(os.Chmod(p("dir/sub"), 0o555)) // read-only dir: the copy must fill it anyway
	if root {
		must(unix.Mknod(p("null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
		must(unix.Mknod(p("socket"), unix.S_IFSOCK|0o600, 0))
		must(os.Lchown(p("dir"), 1000, 1001))
		must(os.Lchown(p("symlink"), 1002, 1003))
		must(os.Lchown(p("setuid"), 1004, 1005))
		// A file capability (VFS_CAP_REVISION_2, effective, cap_net_bind_service), set after
		// chown as a real layer would; the copy must set it after its own chown too.
		var capv [20]byte
		binary.LittleEndian.PutUint32(capv[0:], 0x02000001)
		binary.LittleEndian.PutUint32(capv[4:], 1<<unix.CAP_NET_BIND_SERVICE)
		must(unix.Lsetxattr(p("setuid"), "security.capability", capv[:], 0))
		must(unix.Lsetxattr(p("dir"), "trusted.overlay.opaque", []byte("y"), 0))
	}
	must(unix.Chmod(p("setuid"), 0o4755))
	old := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
	for _, name := range []string{"dir/file", "dir/sub", "dir", "symlink", "setuid", "sparse", "."} {
		ts := []unix.Timespec{unix.NsecToTimespec(old.UnixNano()), unix.NsecToTimespec(old.UnixNano())}
		must(unix.UtimesNanoAt(unix.AT_FDCWD, p(name), ts, unix.AT_SYMLINK_NOFOLLOW))
	}

	dst := filepath.Join(t.TempDir(), "dst")
	must(copyTree(bg, src, dst))

	type node struct {
		Mode, Uid, Gid uint32
		Rdev           uint64
		Size           int64
		Mtim           unix.Timespec
		Nlink          uint64
		Link, Content  string
		Xattrs         map[string]string
	}
	describe := func(base string) map[string]node {
		out := map[string]node{}
		err := filepath.Walk(base, func(path string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			var st unix.Stat_t
			must(unix.Lstat(path, &st))
			n := node{Mode: st.Mode, Uid: st.Uid, Gid: st.Gid, Rdev: st.Rdev, Mtim: st.Mtim, Nlink: uint64(st.Nlink)}
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFREG:
				b, err := os.ReadFile(path)
				must(err)
				n.Size, n.Content = st.Size, string(bytes.TrimRight(b, "\x00"))
			case unix.S_IFLNK:
				n.Link, _ = os.Readlink(path)
			}
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				n.Nlink, n.Mtim = 0, unix.Timespec{} // dir link counts follow subdirs; "." is compared below
				if path != base {
					n.Mtim = st.Mtim
				}
			}
			names, _ := xattrGet(path, unix.Llistxattr)
			for _, x := range splitNul(names) {
				if n.Xattrs == nil {
					n.Xattrs = map[string]string{}
				}
				v, _ := xattrGet(path, func(p string, b []byte) (int, error) { return unix.Lgetxattr(p, x, b) })
				n.Xattrs[x] = string(v)
			}
			rel, _ := filepath.Rel(base, path)
			out[rel] = n
			return nil
		})
		must(err)
		return out
	}
	want, got := describe(src), describe(dst)
	for name, w := range want {
		if g := got[name]; !reflect.DeepEqual(g, w) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, g, w)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("extra %s in the copy", name)
		}
	}
	var a, b unix.Stat_t
	must(unix.Lstat(filepath.Join(dst, "dir/file"), &a))
	must(unix.Lstat(filepath.Join(dst, "hardlink"), &b))
	if a.Ino != b.Ino {
		t.Errorf("hard link became two files")
	}
	must(unix.Lstat(filepath.Join(dst, "sparse"), &a))
	if a.Blocks*512 > 1<<20 {
		t.Errorf("sparse file takes %d bytes in the copy", a.Blocks*512)
	}
	must(unix.Lstat(dst, &a))
	must(unix.Lstat(src, &b))
	if a.Mode != b.Mode || a.Mtim != b.Mtim {
		t.Errorf("root of the copy: mode %o mtime %v, want %o %v", a.Mode, a.Mtim, b.Mode, b.Mtim)
	}
}
