package mount

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
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

func TestIDMapText(t *testing.T) {
	m, err := ParseIDMap("0:100000:65536")
	if err != nil || m != (specs.LinuxIDMapping{ContainerID: 0, HostID: 100000, Size: 65536}) || FormatIDMap(m) != "0:100000:65536" {
		t.Errorf("ParseIDMap: %+v, %v", m, err)
	}
	for _, bad := range []string{"0:x:1", "0:1", "0:1:2:3", "", "-1:0:1", "0:4294967296:1", " 0:1:1"} {
		if _, err := ParseIDMap(bad); err == nil {
			t.Errorf("ParseIDMap(%q) succeeded", bad)
		}
	}
	if _, err := parseIDMaps("0:1:1,1:2:0"); err == nil {
		t.Error("a mapping of size 0 in an option accepted")
	}
	if got, err := parseIDMaps("0:1:1,1:2:3"); err != nil || joinIDMaps(got) != "0:1:1,1:2:3" {
		t.Errorf("parseIDMaps: %v, %v", got, err)
	}
}
