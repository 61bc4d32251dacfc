package mount

import (
	"slices"
	"testing"
)

func TestSplitLowerdir(t *testing.T) {
	for _, tc := range []struct {
		in          string
		lower, data []string
	}{
		{"a", []string{"a"}, nil},
		{"a:b:c", []string{"a", "b", "c"}, nil},
		{`a\:x:b`, []string{"a:x", "b"}, nil},
		{"a:b::c:d", []string{"a", "b"}, []string{"c", "d"}},
	} {
		lower, data := splitLowerdir(tc.in)
		if !slices.Equal(lower, tc.lower) || !slices.Equal(data, tc.data) {
			t.Errorf("splitLowerdir(%q) = %q, %q; want %q, %q", tc.in, lower, data, tc.lower, tc.data)
		}
	}
}

func TestReadOnly(t *testing.T) {
	for _, tc := range []struct {
		m    Mount
		want bool
	}{
		{Mount{Type: "bind", Options: []string{"rbind", "rw"}}, false},
		{Mount{Type: "bind", Options: []string{"rbind", "ro"}}, true},
		{Mount{Type: "bind", Options: []string{"ro", "rw"}}, false},
		{Mount{Type: "overlay", Options: []string{"workdir=/w", "upperdir=/u", "lowerdir=/a:/b"}}, false},
		{Mount{Type: "overlay", Options: []string{"lowerdir=/a:/b"}}, true},
		{Mount{Type: "tmpfs"}, false},
	} {
		if got := ReadOnly(tc.m); got != tc.want {
			t.Errorf("ReadOnly(%+v) = %v, want %v", tc.m, got, tc.want)
		}
	}
}
