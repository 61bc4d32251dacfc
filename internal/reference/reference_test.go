package reference

import "testing"

func TestParse(t *testing.T) {
	for _, tc := range []struct{ in, full, familiar string }{
		{"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
		{"me/app", "docker.io/me/app:latest", "me/app:latest"},
		{"localhost:5000/app:v1", "localhost:5000/app:v1", "localhost:5000/app:v1"},
		{"busybox@sha256:" + hex64, "docker.io/library/busybox@sha256:" + hex64, "busybox@sha256:" + hex64},
	} {
		n, err := ParseDefaultTag(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if n.String() != tc.full || n.Familiar() != tc.familiar {
			t.Errorf("%s: got %s / %s, want %s / %s", tc.in, n, n.Familiar(), tc.full, tc.familiar)
		}
	}
	for _, bad := range []string{"", "UPPER", "a::b", "x@sha256:zz", ":tag"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q: parsed, want error", bad)
		}
	}
	if _, err := ParseTag("busybox@sha256:" + hex64); err == nil {
		t.Error("ParseTag accepted a digest")
	}
}

func TestLooksLikeID(t *testing.T) {
	for s, want := range map[string]bool{"abc123": true, "sha256:abc": true, "busybox": false, "": false, "ABC": false} {
		if LooksLikeID(s) != want {
			t.Errorf("LooksLikeID(%q) = %v", s, !want)
		}
	}
}

func TestMatchFamiliar(t *testing.T) {
	n, _ := ParseDefaultTag("busybox:1.36")
	for pat, want := range map[string]bool{"busybox": true, "busy*": true, "busybox:1.*": true, "alpine": false} {
		got, err := MatchFamiliar(pat, n)
		if err != nil || got != want {
			t.Errorf("MatchFamiliar(%q) = %v, %v", pat, got, err)
		}
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
