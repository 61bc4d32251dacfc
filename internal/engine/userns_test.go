package engine

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hako-dev/hako/internal/spec"
)

// Owners cross a user namespace's mappings both ways; what the mappings do not reach is the
// overflow ID in the container, and the container's root on the host: host 65534 may be one of
// the container's users (here its 5534).
func TestUserNSOwners(t *testing.T) {
	ms := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 60000, Size: 65536}}
	o := spec.Options{UserNS: true, UIDMappings: ms, GIDMappings: ms}
	toHost, toContainer := userNSToHost(o), userNSToContainer(o)
	for _, tc := range []struct{ container, host int }{{0, 60000}, {1000, 61000}, {5534, 65534}} {
		if u, g := toHost(tc.container, tc.container); u != tc.host || g != tc.host {
			t.Errorf("toHost(%d) = %d:%d, want %d", tc.container, u, g, tc.host)
		}
		if u, g := toContainer(tc.host, tc.host); u != tc.container || g != tc.container {
			t.Errorf("toContainer(%d) = %d:%d, want %d", tc.host, u, g, tc.container)
		}
	}
	if u, g := toHost(70000, 70001); u != 60000 || g != 60000 {
		t.Errorf("an unmapped container ID goes to host %d:%d, want the container's root 60000", u, g)
	}
	if u, g := toContainer(0, 1000); u != 65534 || g != 65534 {
		t.Errorf("an unmapped host ID shows as %d:%d, want the overflow ID", u, g)
	}
	if userNSToHost(spec.Options{}) != nil || userNSToContainer(spec.Options{}) != nil {
		t.Error("owner maps without a user namespace")
	}
}
