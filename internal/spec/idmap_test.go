package spec

import (
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hako-dev/hako/internal/errdefs"
)

func TestParseIDMapping(t *testing.T) {
	m, err := ParseIDMapping("--uidmap", "0:100000:65536")
	if err != nil || m != (specs.LinuxIDMapping{ContainerID: 0, HostID: 100000, Size: 65536}) {
		t.Errorf("got %+v, %v", m, err)
	}
	for _, bad := range []string{"0:x:1", "0:1", "0:1:2:3", "", "-1:0:1", "0:4294967296:1", " 0:1:1"} {
		if _, err := ParseIDMapping("--uidmap", bad); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "--uidmap") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestCheckIDMappings(t *testing.T) {
	m := func(c, h, n uint32) specs.LinuxIDMapping {
		return specs.LinuxIDMapping{ContainerID: c, HostID: h, Size: n}
	}
	for _, tc := range []struct {
		ms   []specs.LinuxIDMapping
		want string // "" for valid
	}{
		{[]specs.LinuxIDMapping{m(0, 100000, 65536)}, ""},
		{[]specs.LinuxIDMapping{m(0, 100000, 1), m(1, 200000, 1000)}, ""},
		{[]specs.LinuxIDMapping{m(0, 0, 4294967295)}, ""},
		{[]specs.LinuxIDMapping{m(0, 1, 4294967295)}, "runs past"},
		{[]specs.LinuxIDMapping{m(0, 100000, 0)}, "at least 1"},
		{[]specs.LinuxIDMapping{m(0, 100000, 10), m(5, 200000, 10)}, "overlap in the container's IDs"},
		{[]specs.LinuxIDMapping{m(0, 100000, 10), m(10, 100009, 10)}, "overlap in the host's IDs"},
		{[]specs.LinuxIDMapping{m(1, 100000, 10)}, "ID 0 of the container is not mapped"},
		{nil, "no mapping"},
	} {
		err := CheckIDMappings("--uidmap", tc.ms)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.ms, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errdefs.ErrInvalidArgument)):
			t.Errorf("%v: %v, want %q", tc.ms, err, tc.want)
		}
	}
	many := make([]specs.LinuxIDMapping, 341)
	for i := range many {
		many[i] = m(uint32(i), uint32(1000+i), 1)
	}
	if err := CheckIDMappings("--uidmap", many); err == nil {
		t.Error("341 lines accepted")
	}
}

func TestHostAndContainerID(t *testing.T) {
	ms := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}, {ContainerID: 1000, HostID: 300000, Size: 1}}
	if h, ok := HostID(ms, 1000); !ok || h != 300000 {
		t.Errorf("HostID(1000) = %d, %v", h, ok)
	}
	if _, ok := HostID(ms, 1001); ok {
		t.Error("HostID(1001) mapped")
	}
	if c, ok := ContainerID(ms, 100999); !ok || c != 999 {
		t.Errorf("ContainerID(100999) = %d, %v", c, ok)
	}
	if _, ok := ContainerID(ms, 0); ok {
		t.Error("host root mapped")
	}
}
