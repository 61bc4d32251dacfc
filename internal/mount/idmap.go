package mount

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// An ID mapping is one line of a user namespace's uid_map or gid_map, the OCI runtime spec's
// LinuxIDMapping: Size IDs from ContainerID up are host IDs from HostID up. Its text form,
// CONTAINER_ID:HOST_ID:SIZE in decimal, is podman's --uidmap and --gidmap, containerd's
// uidmap= and gidmap= option values (several joined by commas) and inspect's.

// FormatIDMap writes m as CONTAINER_ID:HOST_ID:SIZE ("0:100000:65536").
func FormatIDMap(m specs.LinuxIDMapping) string {
	return fmt.Sprintf("%d:%d:%d", m.ContainerID, m.HostID, m.Size)
}

// ParseIDMap reads one CONTAINER_ID:HOST_ID:SIZE. It does not judge the range (a size of 0, say):
// the caller checks the mappings as a whole.
func ParseIDMap(s string) (specs.LinuxIDMapping, error) {
	f := strings.Split(s, ":")
	if len(f) != 3 {
		return specs.LinuxIDMapping{}, fmt.Errorf("want CONTAINER_ID:HOST_ID:SIZE")
	}
	var n [3]uint32
	for i, v := range f {
		u, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return specs.LinuxIDMapping{}, fmt.Errorf("%q is not a number from 0 to 4294967295", v)
		}
		n[i] = uint32(u)
	}
	return specs.LinuxIDMapping{ContainerID: n[0], HostID: n[1], Size: n[2]}, nil
}

// IDMapOptions are the options that make a mount show its files as a user namespace with these
// mappings sees them, in containerd's form: "uidmap=0:100000:65536" and "gidmap=…", several
// mappings of one kind joined by commas.
//
// On a bind, the bind itself is idmapped: a file that is host uid 0 on disk is the container's
// root, and what the container's root writes is uid 0 on disk. On an overlay, each lower layer is
// idmapped but the upper directory is not: what the container writes lands there with the host
// IDs it runs as (100000 for its root, say), as under Docker's userns-remap, and the upper
// directory's root is given the owner the lower root shows through the mapping.
func IDMapOptions(uids, gids []specs.LinuxIDMapping) []string {
	return []string{"uidmap=" + joinIDMaps(uids), "gidmap=" + joinIDMaps(gids)}
}

func joinIDMaps(ms []specs.LinuxIDMapping) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = FormatIDMap(m)
	}
	return strings.Join(s, ",")
}

// parseIDMaps reads the value of a uidmap= or gidmap= option.
func parseIDMaps(v string) ([]specs.LinuxIDMapping, error) {
	var out []specs.LinuxIDMapping
	for _, one := range strings.Split(v, ",") {
		m, err := ParseIDMap(one)
		if err != nil {
			return nil, fmt.Errorf("id mapping %q: %w", one, err)
		}
		if m.Size == 0 {
			return nil, fmt.Errorf("id mapping %q: size is 0", one)
		}
		out = append(out, m)
	}
	return out, nil
}
