package volume

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	units "github.com/docker/go-units"

	"github.com/hako-dev/hako/internal/errdefs"
)

// Mount types.
const (
	TypeBind   = "bind"
	TypeVolume = "volume"
	TypeTmpfs  = "tmpfs"
)

// Mount is one -v or --mount, as the container record keeps it. The engine turns it into an
// OCI mount when the container starts, resolving Target inside the container's root.
type Mount struct {
	Type string
	// Source is the host path of a bind, or the volume's name (empty until create names an
	// anonymous volume).
	Source    string `json:",omitempty"`
	Target    string
	ReadOnly  bool `json:",omitempty"`
	NoCopy    bool `json:",omitempty"` // volume-nocopy: do not seed an empty volume
	Anonymous bool `json:",omitempty"` // a volume made for this container only
	// Propagation of a bind (rprivate by default).
	Propagation string      `json:",omitempty"`
	TmpfsSize   int64       `json:",omitempty"` // bytes; 0 is the kernel's default
	TmpfsMode   os.FileMode `json:",omitempty"`
	// IDMap (podman's idmap option) makes a bind idmapped with the user namespace of a container
	// run with --uidmap: the container's root is then host root on the bound files. Volumes of
	// such a container are always idmapped.
	IDMap bool `json:",omitempty"`
}

var propagations = map[string]bool{"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true}

// ParseVolumeFlag reads -v [SOURCE:]TARGET[:MODES]: an absolute SOURCE is a bind of a host path,
// another one a volume name, none an anonymous volume; MODES is a comma list of ro, rw, nocopy,
// a propagation, idmap (podman's: see Mount.IDMap), and z or Z (accepted and ignored: there is
// no SELinux here).
func ParseVolumeFlag(spec string) (Mount, error) {
	bad := func(format string, args ...any) (Mount, error) {
		return Mount{}, errdefs.Invalidf("invalid volume specification: '%s': %s", spec, fmt.Sprintf(format, args...))
	}
	parts := strings.Split(spec, ":")
	var m Mount
	modes := ""
	switch len(parts) {
	case 1:
		m.Target = parts[0]
	case 2:
		if isModes(parts[1]) {
			return bad("a mode needs a source (SOURCE:TARGET:MODE)")
		}
		m.Source, m.Target = parts[0], parts[1]
	case 3:
		m.Source, m.Target, modes = parts[0], parts[1], parts[2]
	default:
		return bad("too many colons")
	}
	if m.Source == "" && len(parts) > 1 {
		return bad("empty source")
	}
	switch {
	case m.Source == "":
		m.Type, m.Anonymous = TypeVolume, true
	case strings.HasPrefix(m.Source, "/"):
		m.Type, m.Source = TypeBind, path.Clean(m.Source)
	default:
		m.Type = TypeVolume
		if err := ValidName(m.Source); err != nil {
			return Mount{}, err
		}
	}
	if modes != "" {
		for _, o := range strings.Split(modes, ",") {
			switch {
			case o == "ro":
				m.ReadOnly = true
			case o == "rw", o == "z", o == "Z":
			case o == "nocopy" && m.Type == TypeVolume:
				m.NoCopy = true
			case o == "idmap":
				m.IDMap = true
			case propagations[o] && m.Type == TypeBind:
				m.Propagation = o
			default:
				return bad("invalid mode: %s", o)
			}
		}
	}
	if err := checkTarget(m.Target); err != nil {
		return bad("%v", err)
	}
	m.Target = path.Clean(m.Target)
	return m, nil
}

func isModes(s string) bool {
	for _, o := range strings.Split(s, ",") {
		if o != "ro" && o != "rw" && o != "z" && o != "Z" && o != "nocopy" && o != "idmap" && !propagations[o] {
			return false
		}
	}
	return true
}

func checkTarget(t string) error {
	switch {
	case t == "":
		return fmt.Errorf("the mount target is empty")
	case !path.IsAbs(t):
		return fmt.Errorf("the mount target %s is not an absolute path", t)
	case path.Clean(t) == "/":
		return fmt.Errorf("the mount target cannot be '/'")
	}
	return nil
}

// ParseMountFlag reads --mount type=bind|volume|tmpfs,source=,target=,readonly,volume-nocopy,
// bind-propagation=,tmpfs-size=,tmpfs-mode=,idmap with Docker's key aliases (src, dst,
// destination, ro). The type defaults to volume.
func ParseMountFlag(spec string) (Mount, error) {
	bad := func(format string, args ...any) (Mount, error) {
		return Mount{}, errdefs.Invalidf("invalid argument %q for \"--mount\" flag: %s", spec, fmt.Sprintf(format, args...))
	}
	m := Mount{Type: TypeVolume}
	var sizeSet, modeSet, nocopySet, propSet bool
	for _, field := range strings.Split(spec, ",") {
		key, val, hasVal := strings.Cut(field, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		switch key {
		case "type":
			switch val {
			case TypeBind, TypeVolume, TypeTmpfs:
				m.Type = val
			default:
				return bad("unknown mount type %q (bind, volume, tmpfs)", val)
			}
		case "source", "src":
			m.Source = val
		case "target", "destination", "dst":
			m.Target = val
		case "readonly", "ro":
			b, err := boolValue(val, hasVal)
			if err != nil {
				return bad("%s: %v", key, err)
			}
			m.ReadOnly = b
		case "volume-nocopy":
			b, err := boolValue(val, hasVal)
			if err != nil {
				return bad("%s: %v", key, err)
			}
			m.NoCopy, nocopySet = b, true
		case "bind-propagation":
			if !propagations[val] {
				return bad("invalid bind-propagation %q", val)
			}
			m.Propagation, propSet = val, true
		case "tmpfs-size":
			n, err := units.RAMInBytes(val)
			if err != nil || n < 0 {
				return bad("invalid tmpfs-size %q", val)
			}
			m.TmpfsSize, sizeSet = n, true
		case "tmpfs-mode":
			n, err := strconv.ParseUint(val, 8, 32)
			if err != nil || n > 0o7777 {
				return bad("invalid tmpfs-mode %q (octal)", val)
			}
			m.TmpfsMode, modeSet = os.FileMode(n), true
		case "idmap":
			b, err := boolValue(val, hasVal)
			if err != nil {
				return bad("%s: %v", key, err)
			}
			m.IDMap = b
		case "consistency":
			// Docker for Mac's option; meaningless here, as in Docker on Linux.
		default:
			return bad("unexpected key '%s' in '%s'", key, field)
		}
	}
	if err := checkTarget(m.Target); err != nil {
		return bad("%v", err)
	}
	m.Target = path.Clean(m.Target)
	switch m.Type {
	case TypeBind:
		if m.Source == "" {
			return bad("a bind mount needs a source")
		}
		if !path.IsAbs(m.Source) {
			return bad("the bind source %s is not an absolute path", m.Source)
		}
		m.Source = path.Clean(m.Source)
	case TypeVolume:
		if m.Source == "" {
			m.Anonymous = true
		} else if err := ValidName(m.Source); err != nil {
			return Mount{}, err
		}
	case TypeTmpfs:
		if m.Source != "" {
			return bad("a tmpfs mount takes no source")
		}
	}
	if (sizeSet || modeSet) && m.Type != TypeTmpfs {
		return bad("tmpfs options are only for type=tmpfs")
	}
	if nocopySet && m.Type != TypeVolume {
		return bad("volume-nocopy is only for type=volume")
	}
	if propSet && m.Type != TypeBind {
		return bad("bind-propagation is only for type=bind")
	}
	if m.IDMap && m.Type == TypeTmpfs {
		return bad("idmap is only for type=bind or type=volume")
	}
	return m, nil
}

func boolValue(v string, set bool) (bool, error) {
	if !set {
		return true, nil
	}
	switch strings.ToLower(v) {
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, fmt.Errorf("invalid value %q (true or false)", v)
}
