package reference

import (
	"fmt"
	"strings"
	"testing"

	dref "github.com/distribution/reference"
)

// distribution/reference, Docker's own parser, is the oracle: the hand-written scanner must accept
// and reject the same strings, normalise them the same way and fail with the same message.

type outcome struct {
	err                                   string
	name, tag, digest, famString, famName string
	tagged, digested                      bool
}

func oracle(s string) outcome {
	r, err := dref.ParseNormalizedNamed(s)
	if err != nil {
		return outcome{err: err.Error()}
	}
	o := outcome{name: r.Name(), famString: dref.FamiliarString(r), famName: dref.FamiliarName(r)}
	if t, ok := r.(dref.Tagged); ok {
		o.tag, o.tagged = t.Tag(), true
	}
	if d, ok := r.(dref.Digested); ok {
		o.digest, o.digested = d.Digest().String(), true
	}
	return o
}

func ours(s string) outcome {
	r, err := parseNormalized(s)
	if err != nil {
		return outcome{err: err.Error()}
	}
	fam := r.familiarName()
	return outcome{name: r.name(), tag: r.tag, digest: r.digest, famString: r.withTagDigest(fam), famName: fam,
		tagged: r.tag != "", digested: r.digest != ""}
}

// agree compares the scanner and the exported API with the oracle on s.
func agree(t *testing.T, s string) {
	t.Helper()
	want, got := oracle(s), ours(s)
	if got != want {
		t.Fatalf("%q:\n got  %+v\n want %+v", s, got, want)
	}
	n, err := Parse(s)
	switch {
	case want.err != "" && err == nil:
		t.Fatalf("Parse(%q) accepted, oracle: %s", s, want.err)
	case want.err != "" && s != "" && err.Error() != fmt.Sprintf("invalid reference format %q: %s", s, want.err):
		t.Fatalf("Parse(%q): %v, oracle: %s", s, err, want.err)
	case want.err == "" && err != nil:
		t.Fatalf("Parse(%q): %v", s, err)
	case want.err == "" && (n.Name != want.name || n.Tag != want.tag || n.Digest.String() != want.digest ||
		n.Familiar() != want.famString || FamiliarName(n.Name) != want.famName):
		t.Fatalf("Parse(%q) = %+v (familiar %s), oracle %+v", s, n, n.Familiar(), want)
	}
	if want.err != "" && FamiliarName(s) != s {
		t.Fatalf("FamiliarName(%q) = %q, want it unchanged", s, FamiliarName(s))
	}
}

var (
	hexA   = strings.Repeat("a", 64)
	hexUp  = strings.Repeat("A", 64)
	sha256 = "sha256:" + hex64
	sha384 = "sha384:" + strings.Repeat("0123456789abcdef", 6)
	sha512 = "sha512:" + strings.Repeat("0123456789abcdef", 8)
)

// table is the differential test's inputs, and the fuzz test's seeds.
func table() []string {
	in := []string{
		"", ":", "@", "/", "//", ":tag", "@" + sha256, ":tag@" + sha256, "a:", "a@", "a:@" + sha256,
		"busybox", "busybox:latest", "busybox:1.36", "busybox@" + sha256, "busybox:1.36@" + sha256,
		"library/busybox", "library/busybox:1", "docker.io/busybox", "docker.io/library/busybox",
		"docker.io/library/busybox:1@" + sha256, "index.docker.io/busybox", "index.docker.io/library/busybox",
		"index.docker.io/me/app", "docker.io/me/app", "docker.io/library/a/b", "library/a/b", "library",
		"docker.io", "docker.io/", "index.docker.io", "registry-1.docker.io/library/x", "Docker.io/x",
		"me/app", "me/app:v1", "me/app/sub", "a/b/c/d/e", "a//b", "/a", "a/", "a/b/", "./a", "a/./b",
		"localhost", "localhost/app", "localhost:5000/app", "localhost:5000/app:v1", "localhost:/app",
		"localhost:abc/app", "localhost:5000", "localhost/library/x", "localhost/x@" + sha256,
		"example.com/app", "example.com:443/a/b:c", "example.com.:5000/a", ".example.com/a", "ex_ample.com/a",
		"a_b.com/foo", "a-b.com/foo", "-ab.com/foo", "ab-.com/foo", "a..b/foo", "1.2.3.4/x", "1.2.3.4:5/x",
		"[::1]/x", "[::1]:5000/x", "[::1]", "[::1]:5000", "[fe80::1%eth0]/x", "[::ffff:1.2.3.4]/x",
		"[]/x", "[::1/x", "::1/x", "[::1]:/x", "[::1]x/x", "[2001:DB8::1]:80/a/b:t", "[g::1]/x",
		"Example.com/app", "EXAMPLE/app", "Foo/bar", "foo/Bar", "Foo", "FOO:tag", "foo:TAG", "foo:Tag_1.2-3",
		"Foo_/bar", "Foo_x/bar", "Foo-/bar", "foo/bar/Baz", "foo.com/Bar", "foo:5000/Bar", "foo:5000/bar:Tag",
		"a__b", "a___b", "a_b", "a.b", "a..b", "a._b", "a-b", "a---b", "a-_b", "a_-b", "a.-b", "-a", "a-",
		"_a", "a_", ".a", "a.", "a__", "__a", "a/b__c/d---e/f.g", "a/b-/c", "a/-b", "0", "0/0", "0:0",
		"a:b:c", "a:b@c", "a@b:c", "foo:tag/bar", "foo@" + sha256 + "/x", "a:tag/b",
		"a:" + strings.Repeat("t", 127), "a:" + strings.Repeat("t", 128), "a:" + strings.Repeat("t", 129),
		"a:_", "a:.", "a:-", "a:_.-", "a:.x", "a:-x", "a:x.", "a:x-", "a:é", "é", "a/é", "é.com/a",
		"a@" + sha384, "a@" + sha512, "a@sha256:" + hex64[:63], "a@sha256:" + hex64 + "0", "a@sha256:" + hexUp,
		"a@sha256:" + strings.Repeat("a", 32), "a@sha256:" + strings.Repeat("a", 31), "a@sha256:",
		"a@md5:" + strings.Repeat("a", 32), "a@foo:" + strings.Repeat("a", 32), "a@Sha256:" + hex64,
		"a@sha256+b64:" + hex64, "a@sha256-b64:" + hex64, "a@sha256.:" + hex64, "a@.sha256:" + hex64,
		"a@1sha:" + hex64, "a@s1-a2_b+c.d:" + hex64, "a@sha256:" + hex64 + "g", "a@sha256:" + hex64 + ":x",
		"a@sha256:zz", "x@sha256:" + hexA, "a:t@sha256:" + hexA, "a@@" + sha256, "a:t:" + sha256,
		hex64, hexA, hexUp, hex64[:63], hex64 + "0", "sha256:" + hex64, "sha256", "a/" + hex64,
		"a\n", "\na", "a ", " a", "a\tb", "a\x00", "a/b\xff", "\xff", "A\xff", "a:\xff", "a@\xff",
		"İ", "a/İ", "K", // uppercase that lowercases outside ASCII (U+0130, Kelvin sign)
	}
	long := func(n int) string { return strings.Repeat("a", n) }
	for _, n := range []int{253, 254, 255, 256, 300} {
		in = append(in, long(n), "library/"+long(n-8), "me/"+long(n-3), "docker.io/me/"+long(n-3),
			"example.com/"+long(n), "example.com/"+long(n-2)+"/b", long(n)+":t", long(n-10)+"/"+long(9))
	}
	// Each domain in front of each path, tag and digest.
	for _, d := range []string{"", "localhost/", "docker.io/", "index.docker.io/", "example.com:5000/",
		"[::1]:5000/", "Up/", "a_b/", "a.b_c/"} {
		for _, p := range []string{"x", "library/x", "x/y", "X", "x-", "x__y"} {
			for _, suffix := range []string{"", ":t", "@" + sha256, ":t@" + sha256, ":T@SHA256:" + hex64} {
				in = append(in, d+p+suffix)
			}
		}
	}
	return in
}

func TestDiff(t *testing.T) {
	in := table()
	for _, s := range in {
		agree(t, s)
	}
	// Mutations: every single-byte insertion of a grammar character into every table entry.
	for _, s := range in {
		if len(s) > 80 {
			continue
		}
		for i := 0; i <= len(s); i++ {
			for _, c := range "/:@._-aA0[]" {
				agree(t, s[:i]+string(c)+s[i:])
			}
		}
	}
}

func TestMatchFamiliarDiff(t *testing.T) {
	pats := []string{"busybox", "busy*", "busybox:1.*", "busybox:*", "*", "*/*", "docker.io/*", "library/*",
		"me/*", "me/app", "localhost:5000/*", "*:v1", "*@sha256:*", "[", "busybox[", "a\\", "x*"}
	for _, s := range []string{"busybox:1.36", "busybox", "me/app:v1", "localhost:5000/app:v1",
		"docker.io/library/a/b:c", "busybox@" + sha256, "busybox:1@" + sha256, "xyz:latest"} {
		r, err := dref.ParseNormalizedNamed(s)
		if err != nil {
			t.Fatal(err)
		}
		n, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pats {
			want, wantErr := dref.FamiliarMatch(p, r)
			got, gotErr := MatchFamiliar(p, n)
			if got != want || (gotErr == nil) != (wantErr == nil) {
				t.Errorf("MatchFamiliar(%q, %s) = %v, %v; oracle %v, %v", p, s, got, gotErr, want, wantErr)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range table() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		agree(t, s)
	})
}
