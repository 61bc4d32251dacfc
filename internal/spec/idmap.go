package spec

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/mount"
)

// maxIDMapLines is the kernel's limit on the lines of one uid_map or gid_map (Linux 4.15+).
const maxIDMapLines = 340

// ParseIDMapping reads podman's --uidmap and --gidmap value, CONTAINER_ID:HOST_ID:SIZE in
// decimal. flag names the flag in the error.
func ParseIDMapping(flag, s string) (specs.LinuxIDMapping, error) {
	m, err := mount.ParseIDMap(s)
	if err != nil {
		return specs.LinuxIDMapping{}, errdefs.Invalidf("invalid %s %q: %v", flag, s, err)
	}
	return m, nil
}

// CheckIDMappings refuses mappings that the kernel or the runtime would refuse later, with an
// error that says which line and why: an empty range, one that runs past the last ID
// (4294967294: the kernel reserves 4294967295), two that overlap on the container or the host
// side, more lines than the kernel takes, and mappings that leave the container's root (ID 0)
// unmapped, since the runtime sets the container up as that root. flag names the flag.
func CheckIDMappings(flag string, ms []specs.LinuxIDMapping) error {
	if len(ms) == 0 {
		return errdefs.Invalidf("%s: no mapping", flag)
	}
	if len(ms) > maxIDMapLines {
		return errdefs.Invalidf("%s: %d mappings, the kernel takes at most %d", flag, len(ms), maxIDMapLines)
	}
	root := false
	for i, m := range ms {
		if m.Size == 0 {
			return errdefs.Invalidf("invalid %s %s: the size must be at least 1", flag, mount.FormatIDMap(m))
		}
		const last = 1<<32 - 2
		if uint64(m.ContainerID)+uint64(m.Size)-1 > last || uint64(m.HostID)+uint64(m.Size)-1 > last {
			return errdefs.Invalidf("invalid %s %s: the range runs past ID %d", flag, mount.FormatIDMap(m), uint64(last))
		}
		for _, o := range ms[:i] {
			if overlap(m.ContainerID, o.ContainerID, m.Size, o.Size) {
				return errdefs.Invalidf("invalid %s: %s and %s overlap in the container's IDs", flag, mount.FormatIDMap(o), mount.FormatIDMap(m))
			}
			if overlap(m.HostID, o.HostID, m.Size, o.Size) {
				return errdefs.Invalidf("invalid %s: %s and %s overlap in the host's IDs", flag, mount.FormatIDMap(o), mount.FormatIDMap(m))
			}
		}
		root = root || m.ContainerID == 0
	}
	if !root {
		return errdefs.Invalidf("invalid %s: ID 0 of the container is not mapped (the container's root must map to a host ID)", flag)
	}
	return nil
}

func overlap(a, b, asize, bsize uint32) bool {
	return uint64(a) < uint64(b)+uint64(bsize) && uint64(b) < uint64(a)+uint64(asize)
}

// FormatIDMappings writes mappings as podman's inspect shows them: "0:100000:65536".
func FormatIDMappings(ms []specs.LinuxIDMapping) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = mount.FormatIDMap(m)
	}
	return out
}

// HostID is the host ID that container ID id maps to, and whether it is mapped.
func HostID(ms []specs.LinuxIDMapping, id uint32) (uint32, bool) {
	for _, m := range ms {
		if id >= m.ContainerID && uint64(id) < uint64(m.ContainerID)+uint64(m.Size) {
			return m.HostID + (id - m.ContainerID), true
		}
	}
	return 0, false
}

// ContainerID is the container ID that host ID id is, and whether the mappings reach it.
func ContainerID(ms []specs.LinuxIDMapping, id uint32) (uint32, bool) {
	for _, m := range ms {
		if id >= m.HostID && uint64(id) < uint64(m.HostID)+uint64(m.Size) {
			return m.ContainerID + (id - m.HostID), true
		}
	}
	return 0, false
}
