package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/errdefs"
)

func TestApplyRefuses(t *testing.T) {
	// Each case gets outer (holding victim/secret and victim/dir) to aim absolute paths at; a
	// relative escape from outer/root lands in outer too.
	tests := []struct {
		name    string
		ents    func(outer string) []ent
		raw     func(t *testing.T, outer string) []byte // instead of ents
		wantErr string                                  // after `apply layer evil.tar: `
	}{
		{
			name:    "dotdot",
			ents:    func(string) []ent { return []ent{{name: "./a/../../x", body: "x"}} },
			wantErr: `entry "./a/../../x": path with ".." refused`,
		},
		{
			name:    "dotdot inside",
			ents:    func(string) []ent { return []ent{{name: "a/../b", body: "x"}} },
			wantErr: `entry "a/../b": path with ".." refused`,
		},
		{
			name:    "absolute",
			ents:    func(o string) []ent { return []ent{{name: o + "/victim/secret", body: "pwned"}} },
			wantErr: `entry "OUTER/victim/secret": absolute path refused`,
		},
		{
			name: "symlink then file, one hop",
			ents: func(o string) []ent {
				return []ent{{name: "l", typ: tar.TypeSymlink, link: o + "/victim"}, {name: "l/passwd", body: "pwned"}}
			},
			wantErr: `entry "l/passwd": parent "l" is a symlink`,
		},
		{
			name: "symlink then file, two hops",
			ents: func(o string) []ent {
				return []ent{
					{name: "a", typ: tar.TypeSymlink, link: "b"},
					{name: "b", typ: tar.TypeSymlink, link: o + "/victim/dir"},
					{name: "a/file", body: "pwned"},
				}
			},
			wantErr: `entry "a/file": parent "a" is a symlink`,
		},
		{
			name: "relative symlink escape",
			ents: func(string) []ent {
				return []ent{{name: "l", typ: tar.TypeSymlink, link: "../../.."}, {name: "l/x", body: "pwned"}}
			},
			wantErr: `entry "l/x": parent "l" is a symlink`,
		},
		{
			name: "deep symlink escape",
			ents: func(string) []ent {
				return []ent{
					{name: "d/", typ: tar.TypeDir},
					{name: "d/l", typ: tar.TypeSymlink, link: "../.."},
					{name: "d/l/victim/dir/x", body: "pwned"},
				}
			},
			wantErr: `entry "d/l/victim/dir/x": parent "d/l" is a symlink`,
		},
		{
			name: "symlink inside root is not followed either",
			ents: func(string) []ent {
				return []ent{
					{name: "real/", typ: tar.TypeDir},
					{name: "l", typ: tar.TypeSymlink, link: "real"},
					{name: "l/x", body: "x"},
				}
			},
			wantErr: `entry "l/x": parent "l" is a symlink`,
		},
		{
			name: "file as parent",
			ents: func(string) []ent {
				return []ent{{name: "f", body: "x"}, {name: "f/x", body: "x"}}
			},
			wantErr: `entry "f/x": parent "f" is not a directory`,
		},
		{
			name: "hardlink to absolute path",
			ents: func(o string) []ent {
				return []ent{{name: "h", typ: tar.TypeLink, link: o + "/victim/secret"}}
			},
			wantErr: `entry "h": hardlink target "` + "OUTER" + `/victim/secret": absolute path refused`,
		},
		{
			name: "hardlink escaping",
			ents: func(string) []ent {
				return []ent{{name: "h", typ: tar.TypeLink, link: "../victim/secret"}}
			},
			wantErr: `entry "h": hardlink target "../victim/secret": path with ".." refused`,
		},
		{
			name: "hardlink through symlink",
			ents: func(o string) []ent {
				return []ent{
					{name: "l", typ: tar.TypeSymlink, link: o + "/victim"},
					{name: "h", typ: tar.TypeLink, link: "l/secret"},
				}
			},
			wantErr: `entry "h": hardlink target "l/secret" is not in this layer`,
		},
		{
			name: "hardlink to missing",
			ents: func(string) []ent {
				return []ent{{name: "h", typ: tar.TypeLink, link: "nope"}}
			},
			wantErr: `entry "h": hardlink target "nope" is not in this layer`,
		},
		{
			name: "hardlink to itself",
			ents: func(string) []ent {
				return []ent{{name: "h", body: "x"}, {name: "h", typ: tar.TypeLink, link: "h"}}
			},
			wantErr: `entry "h": hardlink to itself`,
		},
		{
			name:    "whiteout escaping",
			ents:    func(string) []ent { return []ent{{name: "../.wh.victim"}} },
			wantErr: `entry "../.wh.victim": path with ".." refused`,
		},
		{
			name:    "whiteout of dotdot",
			ents:    func(string) []ent { return []ent{{name: ".wh..."}} },
			wantErr: `entry ".wh...": whiteout of ".." refused`,
		},
		{
			name:    "whiteout of root",
			ents:    func(string) []ent { return []ent{{name: ".wh.."}} },
			wantErr: `entry ".wh..": whiteout of "." refused`,
		},
		{
			name:    "whiteout of dot in dir",
			ents:    func(string) []ent { return []ent{{name: "a/", typ: tar.TypeDir}, {name: "a/.wh.."}} },
			wantErr: `entry "a/.wh..": whiteout of "a/." refused`,
		},
		{
			name: "whiteout through symlink",
			ents: func(o string) []ent {
				return []ent{{name: "l", typ: tar.TypeSymlink, link: o + "/victim"}, {name: "l/.wh.secret"}}
			},
			wantErr: `entry "l/.wh.secret": parent "l" is a symlink`,
		},
		{
			name: "opaque through symlink",
			ents: func(o string) []ent {
				return []ent{{name: "l", typ: tar.TypeSymlink, link: o + "/victim"}, {name: "l/.wh..wh..opq"}}
			},
			wantErr: `entry "l/.wh..wh..opq": parent "l" is a symlink`,
		},
		{
			name:    "whiteout name as directory",
			ents:    func(string) []ent { return []ent{{name: "a/.wh.b/c", body: "x"}} },
			wantErr: `entry "a/.wh.b/c": whiteout name ".wh.b" used as a directory`,
		},
		{
			name: "pax global header",
			raw: func(t *testing.T, _ string) []byte {
				var buf bytes.Buffer
				tw := tar.NewWriter(&buf)
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "x"}}); err != nil {
					t.Fatal(err)
				}
				tw.Close()
				return buf.Bytes()
			},
			wantErr: `entry "pax_global_header": PAX global header refused`,
		},
		{
			name: "truncated content",
			raw: func(t *testing.T, _ string) []byte {
				b := buildTar(t, ent{name: "big", body: strings.Repeat("x", 3000)})
				return b[:512+1000]
			},
			wantErr: `entry "big": read content: unexpected EOF`,
		},
		{
			name: "truncated header",
			raw: func(t *testing.T, _ string) []byte {
				b := buildTar(t, ent{name: "a", body: "x"}, ent{name: "b", body: "y"})
				return b[:512+512+100]
			},
			wantErr: `read tar after entry "a": unexpected EOF`,
		},
		{
			name: "corrupt header",
			raw: func(t *testing.T, _ string) []byte {
				b := buildTar(t, ent{name: "a", body: "x"})
				b[0] ^= 0xff
				return b
			},
			wantErr: `read tar: archive/tar: invalid tar header`,
		},
		{
			name: "negative owner",
			ents: func(string) []ent {
				return []ent{{name: "f", body: "x", uid: -1}}
			},
			wantErr: `entry "f": invalid owner -1:`,
		},
	}
	for _, tt := range tests {
		for _, format := range []WhiteoutFormat{OCIWhiteouts, OverlayWhiteouts} {
			t.Run(tt.name+"/"+format.String(), func(t *testing.T) {
				outer, root := sandbox(t)
				var data []byte
				if tt.raw != nil {
					data = tt.raw(t, outer)
				} else {
					data = buildTar(t, tt.ents(outer)...)
				}
				before := outside(t, outer, root)
				_, err := Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{Whiteouts: format, Name: "evil.tar"})
				want := "apply layer evil.tar: " + strings.ReplaceAll(tt.wantErr, "OUTER", outer)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("error %v, want one containing %q", err, want)
				}
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Errorf("error %v is not InvalidArgument", err)
				}
				checkOutside(t, before, outside(t, outer, root))
			})
		}
	}
}

// TestApplyReplacesSymlinks checks that entries landing on a symlink replace it instead of
// writing through it.
func TestApplyReplacesSymlinks(t *testing.T) {
	tests := []struct {
		name string
		ents func(outer string) []ent
		want map[string]string // path in root -> "symlink", "dir" or file content
	}{
		{
			name: "file over symlink",
			ents: func(o string) []ent {
				return []ent{{name: "l", typ: tar.TypeSymlink, link: o + "/victim/secret"}, {name: "l", body: "mine"}}
			},
			want: map[string]string{"l": "mine"},
		},
		{
			name: "dir over symlink",
			ents: func(o string) []ent {
				return []ent{{name: "l", typ: tar.TypeSymlink, link: o + "/victim/dir"}, {name: "l/", typ: tar.TypeDir, mode: 0o777}}
			},
			want: map[string]string{"l": "dir"},
		},
		{
			name: "hardlink over symlink",
			ents: func(o string) []ent {
				return []ent{
					{name: "f", body: "mine"},
					{name: "l", typ: tar.TypeSymlink, link: o + "/victim/secret"},
					{name: "l", typ: tar.TypeLink, link: "f"},
				}
			},
			want: map[string]string{"l": "mine", "f": "mine"},
		},
		{
			name: "hardlink to a symlink links the symlink",
			ents: func(o string) []ent {
				return []ent{
					{name: "l", typ: tar.TypeSymlink, link: o + "/victim/secret"},
					{name: "h", typ: tar.TypeLink, link: "l"},
				}
			},
			want: map[string]string{"h": "symlink"},
		},
		{
			name: "fifo over symlink",
			ents: func(o string) []ent {
				return []ent{{name: "l", typ: tar.TypeSymlink, link: o + "/victim/secret"}, {name: "l", typ: tar.TypeFifo}}
			},
			want: map[string]string{"l": "fifo"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outer, root := sandbox(t)
			data := buildTar(t, tt.ents(outer)...)
			before := outside(t, outer, root)
			if _, err := Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{Name: "t"}); err != nil {
				t.Fatal(err)
			}
			checkOutside(t, before, outside(t, outer, root))
			for p, want := range tt.want {
				fi, err := os.Lstat(filepath.Join(root, p))
				if err != nil {
					t.Fatal(err)
				}
				var got string
				switch {
				case fi.Mode()&os.ModeSymlink != 0:
					got = "symlink"
				case fi.IsDir():
					got = "dir"
				case fi.Mode()&os.ModeNamedPipe != 0:
					got = "fifo"
				default:
					b, _ := os.ReadFile(filepath.Join(root, p))
					got = string(b)
				}
				if got != want {
					t.Errorf("%s: got %q, want %q", p, got, want)
				}
			}
		})
	}
}

func TestApplyEntryKinds(t *testing.T) {
	requireRoot(t)
	_, root := sandbox(t)
	older := testTime.Add(-1000 * 3600 * 1e9)
	data := buildTar(t,
		ent{name: "./", typ: tar.TypeDir, mode: 0o711},
		ent{name: "bin/", typ: tar.TypeDir, mode: 0o755, mtime: older},
		ent{name: "bin/su", body: "#!su", mode: 0o4755, uid: 0, gid: 0},
		ent{name: "bin/sg", body: "#!sg", mode: 0o2711, uid: 0, gid: 42},
		ent{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		ent{name: "home/u/", typ: tar.TypeDir, mode: 0o700, uid: 1234, gid: 5678, mtime: older},
		ent{name: "home/u/file", body: "hello", mode: 0o640, uid: 1234, gid: 5678, xattrs: map[string]string{"user.note": "hi", "trusted.t": "t"}},
		ent{name: "home/u/link", typ: tar.TypeSymlink, link: "/etc/passwd", uid: 1234, gid: 5678},
		ent{name: "home/u/hard", typ: tar.TypeLink, link: "home/u/file"},
		ent{name: "dev/null", typ: tar.TypeChar, major: 1, minor: 3, mode: 0o666},
		ent{name: "dev/loop9", typ: tar.TypeBlock, major: 7, minor: 9, mode: 0o660, gid: 6},
		ent{name: "run/fifo", typ: tar.TypeFifo, mode: 0o620},
		ent{name: "ovl/", typ: tar.TypeDir, xattrs: map[string]string{"trusted.overlay.opaque": "y", "user.overlay.redirect": "/x"}},
		ent{name: "sec", body: "s", xattrs: map[string]string{"security.hako-test-unknown": "v"}},
	)
	// GNU tar pads archives with zero blocks; they are part of the blob and of its DiffID.
	data = append(data, make([]byte, 10240)...)
	res, err := Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{Name: "kinds.tar"})
	if err != nil {
		t.Fatal(err)
	}
	if want := digest.FromBytes(data); res.DiffID != want || res.Size != int64(len(data)) {
		t.Errorf("result %v %d, want %v %d", res.DiffID, res.Size, want, len(data))
	}
	got := treeDesc(t, root)
	ts := func(tm time.Time) string { return strconv.FormatInt(tm.Unix(), 10) }
	want := map[string]string{
		"bin":         "type=40000 perm=755 owner=0:0 mtime=" + ts(older) + " xattrs=",
		"bin/su":      "type=100000 perm=4755 owner=0:0 mtime=" + ts(testTime) + " size=4 sha=" + sha6("#!su") + " xattrs=",
		"bin/sg":      "type=100000 perm=2711 owner=0:42 mtime=" + ts(testTime) + " size=4 sha=" + sha6("#!sg") + " xattrs=",
		"tmp":         "type=40000 perm=1777 owner=0:0 mtime=" + ts(testTime) + " xattrs=",
		"home":        got["home"], // made implicitly: a parent the tar does not list
		"home/u":      "type=40000 perm=700 owner=1234:5678 mtime=" + ts(older) + " xattrs=",
		"home/u/file": "type=100000 perm=640 owner=1234:5678 mtime=" + ts(testTime) + " size=5 sha=" + sha6("hello") + " xattrs=trusted.t=t,user.note=hi",
		"home/u/hard": "type=100000 perm=640 owner=1234:5678 mtime=" + ts(testTime) + " size=5 sha=" + sha6("hello") + " linked-to=home/u/file xattrs=trusted.t=t,user.note=hi",
		"home/u/link": "type=120000 perm=777 owner=1234:5678 mtime=" + ts(testTime) + " -> /etc/passwd xattrs=",
		"dev":         got["dev"],
		"dev/null":    "type=20000 perm=666 owner=0:0 mtime=" + ts(testTime) + " dev=1:3 xattrs=",
		"dev/loop9":   "type=60000 perm=660 owner=0:6 mtime=" + ts(testTime) + " dev=7:9 xattrs=",
		"run":         got["run"],
		"run/fifo":    "type=10000 perm=620 owner=0:0 mtime=" + ts(testTime) + " xattrs=",
		"ovl":         "type=40000 perm=755 owner=0:0 mtime=" + ts(testTime) + " xattrs=",
		"sec":         got["sec"], // security.* is stored or skipped, as the kernel decides
	}
	compareTrees(t, want, got)
	if !strings.HasPrefix(got["home"], "type=40000 perm=755 owner=0:0") {
		t.Errorf("implicit parent: %s", got["home"])
	}
	var st unix.Stat_t
	if err := unix.Lstat(root, &st); err != nil || st.Mode&0o7777 != 0o711 || st.Mtim.Sec != testTime.Unix() {
		t.Errorf("root: mode %o mtime %d, want 711 %d (%v)", st.Mode&0o7777, st.Mtim.Sec, testTime.Unix(), err)
	}
	for _, x := range []string{"trusted.overlay.opaque", "user.overlay.redirect"} {
		if _, err := unix.Lgetxattr(filepath.Join(root, "ovl"), x, nil); err == nil {
			t.Errorf("%s carried from the tar", x)
		}
	}
}

func TestApplyDockerReplaceRules(t *testing.T) {
	_, root := sandbox(t)
	mustWrite(t, filepath.Join(root, "dir2file/a/b"), "lower", 0o644)
	mustWrite(t, filepath.Join(root, "merge/lower"), "lower", 0o644)
	mustWrite(t, filepath.Join(root, "file2dir"), "lower", 0o644)
	mustWrite(t, filepath.Join(root, "dir2link/x"), "lower", 0o644)
	data := buildTar(t,
		ent{name: "dir2file", body: "now a file"},
		ent{name: "merge/", typ: tar.TypeDir, mode: 0o750},
		ent{name: "merge/upper", body: "upper"},
		ent{name: "file2dir/", typ: tar.TypeDir},
		ent{name: "file2dir/x", body: "x"},
		ent{name: "dir2link", typ: tar.TypeSymlink, link: "merge"},
		ent{name: "twice", body: "first"},
		ent{name: "twice", body: "second"},
	)
	if _, err := Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, root, map[string]string{
		"dir2file":     "now a file",
		"merge/lower":  "lower",
		"merge/upper":  "upper",
		"file2dir/x":   "x",
		"dir2link":     "-> merge",
		"twice":        "second",
		"dir2file/a/b": "",
	})
	if fi, _ := os.Stat(filepath.Join(root, "merge")); fi.Mode().Perm() != 0o750 {
		t.Errorf("merged dir mode %v, want 0750", fi.Mode())
	}
}

// checkFiles checks file content, "-> target" for symlinks, "" for absence.
func checkFiles(t *testing.T, root string, want map[string]string) {
	t.Helper()
	for p, w := range want {
		full := filepath.Join(root, p)
		fi, err := os.Lstat(full)
		var got string
		switch {
		case err != nil:
			got = ""
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(full)
			got = "-> " + l
		case fi.IsDir():
			got = "dir"
		default:
			b, _ := os.ReadFile(full)
			got = string(b)
		}
		if got != w {
			t.Errorf("%s: got %q, want %q", p, got, w)
		}
	}
}

func TestApplyOCIWhiteouts(t *testing.T) {
	_, root := sandbox(t)
	for _, p := range []string{"gone", "dir/gone", "opq/lower1", "opq/sub/lower2", "keep/x", "tree/a/b/c"} {
		mustWrite(t, filepath.Join(root, p), "lower", 0o644)
	}
	data := buildTar(t,
		ent{name: ".wh.gone"},
		ent{name: "dir/.wh.gone"},
		ent{name: ".wh.tree"},
		ent{name: "missing/.wh.x"}, // nothing below: nothing to do
		ent{name: "opq/", typ: tar.TypeDir},
		ent{name: "opq/early", body: "same layer, before the marker"},
		ent{name: "opq/sub/", typ: tar.TypeDir},
		ent{name: "opq/sub/mine", body: "same layer"},
		ent{name: "opq/.wh..wh..opq"},
		ent{name: "opq/late", body: "after the marker"},
		ent{name: "new", body: "new"},
		ent{name: ".wh.new"}, // a whiteout does not hide its own layer
		ent{name: ".wh..wh.plnk/123.456", body: "aufs"},
		ent{name: ".wh..wh.aufs", body: "aufs"},
	)
	if _, err := Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{Whiteouts: OCIWhiteouts}); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, root, map[string]string{
		"gone":           "",
		"dir/gone":       "",
		"dir":            "dir",
		"tree":           "",
		"missing":        "",
		"opq/lower1":     "",
		"opq/sub/lower2": "",
		"opq/early":      "same layer, before the marker",
		"opq/sub/mine":   "same layer",
		"opq/late":       "after the marker",
		"keep/x":         "lower",
		"new":            "new",
		".wh..wh.plnk":   "",
		".wh..wh.aufs":   "",
	})
}

func TestApplyOverlayWhiteouts(t *testing.T) {
	requireRoot(t)
	_, root := sandbox(t)
	data := buildTar(t,
		ent{name: ".wh.gone"},
		ent{name: "a/b/.wh.gone"},
		ent{name: "opq/", typ: tar.TypeDir, mode: 0o710},
		ent{name: "opq/.wh..wh..opq"},
		ent{name: "opq/x", body: "x"},
		ent{name: "implicit/.wh..wh..opq"},
		ent{name: "f", body: "f"},
		ent{name: ".wh.f"}, // same layer: stays
		ent{name: "re/", typ: tar.TypeDir},
		ent{name: ".wh.re2"},
		ent{name: "re2/", typ: tar.TypeDir}, // a dir over its own layer's whiteout hides the lower dir
	)
	if _, err := Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{Whiteouts: OverlayWhiteouts}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"gone", "a/b/gone"} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, p), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Errorf("%s: not a 0/0 char device: mode %o rdev %d err %v", p, st.Mode, st.Rdev, err)
		}
	}
	for p, want := range map[string]bool{"opq": true, "implicit": true, "re": false, "re2": true, ".": false} {
		buf := make([]byte, 8)
		n, err := unix.Lgetxattr(filepath.Join(root, p), "trusted.overlay.opaque", buf)
		if got := err == nil && string(buf[:n]) == "y"; got != want {
			t.Errorf("%s opaque = %v, want %v (%v)", p, got, want, err)
		}
	}
	checkFiles(t, root, map[string]string{"f": "f", "opq/x": "x", "opq/.wh..wh..opq": ""})
	if fi, _ := os.Stat(filepath.Join(root, "opq")); fi.Mode().Perm() != 0o710 {
		t.Errorf("opq mode %v", fi.Mode())
	}
}

func TestApplyDiffIDAndContext(t *testing.T) {
	_, root := sandbox(t)
	data := buildTar(t, ent{name: "a", body: "a"})
	res, err := Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if res.DiffID != digest.NewDigestFromBytes(digest.SHA256, sum[:]) || res.Size != int64(len(data)) {
		t.Errorf("got %v/%d", res.DiffID, res.Size)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Apply(ctx, root, bytes.NewReader(data), ApplyOptions{Name: "x"})
	if !errors.Is(err, context.Canceled) || errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("cancelled: %v", err)
	}

	_, err = Apply(context.Background(), root, iotestErrReader{}, ApplyOptions{Name: "x"})
	if err == nil || errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("a failing source is not an invalid layer: %v", err)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func sha6(s string) string {
	sum := sha256.Sum256([]byte(s))
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 12)
	for i, b := range sum[:6] {
		out[2*i], out[2*i+1] = hexdigits[b>>4], hexdigits[b&15]
	}
	return string(out)
}
