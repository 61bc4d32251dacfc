package mount

import (
	"fmt"
	"strconv"
	"strings"
)

// IDMap is one line of a user namespace's uid_map or gid_map: Size IDs from ContainerID up are
// host IDs from HostID up.
type IDMap struct {
	ContainerID uint32
	HostID      uint32
	Size        uint32
}

func (m IDMap) String() string { return fmt.Sprintf("%d:%d:%d", m.ContainerID, m.HostID, m.Size) }

// IDMapOptions are the options that make a mount show its files as a user namespace with these
// mappings sees them, in containerd's form: "uidmap=0:100000:65536" and "gidmap=…", several
// mappings of one kind joined by commas.
//
// On a bind, the bind itself is idmapped: a file that is host uid 0 on disk is the container's
// root, and what the container's root writes is uid 0 on disk. On an overlay, each lower layer is
// idmapped but the upper directory is not: what the container writes lands there with the host
// IDs it runs as (100000 for its root, say), as under Docker's userns-remap, and the upper
// directory's root is given the owner the lower root shows through the mapping.
func IDMapOptions(uids, gids []IDMap) []string {
	return []string{"uidmap=" + joinIDMaps(uids), "gidmap=" + joinIDMaps(gids)}
}

func joinIDMaps(ms []IDMap) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.String()
	}
	return strings.Join(s, ",")
}

// parseIDMaps reads the value of a uidmap= or gidmap= option.
func parseIDMaps(v string) ([]IDMap, error) {
	var out []IDMap
	for _, one := range strings.Split(v, ",") {
		f := strings.Split(one, ":")
		if len(f) != 3 {
			return nil, fmt.Errorf("id mapping %q: want container-id:host-id:size", one)
		}
		var n [3]uint32
		for i, s := range f {
			u, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("id mapping %q: %q is not an id", one, s)
			}
			n[i] = uint32(u)
		}
		if n[2] == 0 {
			return nil, fmt.Errorf("id mapping %q: size is 0", one)
		}
		out = append(out, IDMap{ContainerID: n[0], HostID: n[1], Size: n[2]})
	}
	return out, nil
}
