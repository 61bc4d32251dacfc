package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// fuzzCanary is where the seeds' absolute symlinks point. Tar bytes are fixed when the seeds are
// made, so the target cannot be a per-run temp dir; the test makes this dir and checks that it
// stays empty.
var fuzzCanary = filepath.Join(os.TempDir(), "hako-archive-fuzz-canary")

func fuzzSeeds(t testing.TB) [][]byte {
	c := fuzzCanary
	seeds := [][]ent{
		{{name: "./a/../../x", body: "x"}},
		{{name: c + "/abs", body: "x"}},
		{{name: "l", typ: tar.TypeSymlink, link: c}, {name: "l/passwd", body: "x"}},
		{{name: "a", typ: tar.TypeSymlink, link: "b"}, {name: "b", typ: tar.TypeSymlink, link: c}, {name: "a/file", body: "x"}},
		{{name: "l", typ: tar.TypeSymlink, link: "../../.."}, {name: "l/x", body: "x"}},
		{{name: "l", typ: tar.TypeSymlink, link: ".."}, {name: "l/", typ: tar.TypeDir, mode: 0o777}},
		{{name: "h", typ: tar.TypeLink, link: c + "/f"}},
		{{name: "h", typ: tar.TypeLink, link: "../f"}},
		{{name: "l", typ: tar.TypeSymlink, link: c}, {name: "h", typ: tar.TypeLink, link: "l/f"}},
		{{name: "f", body: "x"}, {name: "h", typ: tar.TypeLink, link: "f"}, {name: "l", typ: tar.TypeSymlink, link: c + "/t"}, {name: "l", typ: tar.TypeLink, link: "f"}},
		{{name: "../.wh.x"}},
		{{name: ".wh..."}},
		{{name: ".wh.."}},
		{{name: "l", typ: tar.TypeSymlink, link: c}, {name: "l/.wh.f"}},
		{{name: "l", typ: tar.TypeSymlink, link: ".."}, {name: "l/.wh..wh..opq"}},
		{{name: "d/", typ: tar.TypeDir}, {name: "d/x", body: "x"}, {name: "d/.wh..wh..opq"}, {name: ".wh.d"}},
		{{name: "dev/null", typ: tar.TypeChar, major: 1, minor: 3}, {name: "p", typ: tar.TypeFifo}, {name: "./", typ: tar.TypeDir, mode: 0o700}},
		{{name: "x", body: "x", xattrs: map[string]string{"user.a": "b", "trusted.overlay.opaque": "y", "security.capability": "\x01"}}},
	}
	var out [][]byte
	for _, s := range seeds {
		out = append(out, buildTar(t, s...))
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "g", PAXRecords: map[string]string{"path": c}})
	tw.Close()
	out = append(out, buf.Bytes())
	full := buildTar(t, ent{name: "f", body: "truncated content"})
	out = append(out, full[:600], full[:100])
	return out
}

// FuzzApply checks that no input makes Apply write outside the root or panic. Plain go test runs
// the seeds. To fuzz:
//
//	go test -run '^$' -fuzz=FuzzApply -fuzztime=60s -fuzzminimizetime=20x ./internal/archive
//
// Each run makes and removes directories, so the default minimization (60 s per new input) would
// leave little time for fuzzing, with the progress line stuck at the same count.
func FuzzApply(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.MkdirAll(fuzzCanary, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, format := range []WhiteoutFormat{OCIWhiteouts, OverlayWhiteouts} {
			outer, root := sandbox(t)
			before, canaryBefore := outside(t, outer, root), outside(t, fuzzCanary, "")
			Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{Whiteouts: format, Name: "fuzz"})
			checkOutside(t, before, outside(t, outer, root))
			checkOutside(t, canaryBefore, outside(t, fuzzCanary, ""))
			if fi, err := os.Lstat(root); err != nil || !fi.IsDir() {
				t.Fatalf("root is no longer a directory: %v", err)
			}
		}
	})
}
