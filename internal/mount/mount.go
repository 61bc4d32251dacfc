package mount

import (
	"errors"
	"fmt"
	"strings"
)

// Mount is a filesystem to be mounted, in containerd's shape: Type is the filesystem type
// ("overlay", "bind", "tmpfs", ...), Source what is mounted, Options the fstab-style options.
// Options that are mount flags ("ro", "rbind", "nosuid", "rprivate", ...) become flags; the rest
// ("lowerdir=…", "size=64m") are passed to the filesystem.
type Mount struct {
	Type    string
	Source  string
	Options []string
}

// All mounts each of mounts at target in order, each on top of the one before. When one fails, the
// ones already mounted are taken down again before the error is returned.
func All(mounts []Mount, target string) error {
	for i, m := range mounts {
		if err := m.Mount(target); err != nil {
			for j := 0; j < i; j++ {
				if uerr := Unmount(target); uerr != nil {
					err = errors.Join(err, uerr)
					break
				}
			}
			return err
		}
	}
	return nil
}

// ReadOnly reports whether m, once mounted, cannot be written: it says "ro" (and no later "rw"),
// or it is an overlay without an upper directory.
func ReadOnly(m Mount) bool {
	ro := false
	upper := false
	for _, o := range m.Options {
		switch {
		case o == "ro":
			ro = true
		case o == "rw":
			ro = false
		case strings.HasPrefix(o, "upperdir="):
			upper = true
		}
	}
	if m.Type == "overlay" && !upper {
		return true
	}
	return ro
}

// isBind reports whether m is a bind mount, by type or by option, and whether it is recursive.
func isBind(m Mount) (bind, recursive bool) {
	if m.Type == "bind" || m.Type == "rbind" {
		bind = true
		recursive = m.Type == "rbind"
	}
	for _, o := range m.Options {
		switch o {
		case "bind":
			bind = true
		case "rbind":
			bind, recursive = true, true
		}
	}
	return bind, recursive
}

// splitLowerdir splits an overlay lowerdir value at the colons that separate layers. A backslash
// escapes a colon inside a path, as the kernel accepts. A double colon starts the data-only
// layers (Linux 6.5+), which are returned separately.
func splitLowerdir(v string) (lower, data []string) {
	var (
		cur     strings.Builder
		out     = &lower
		pending bool // a layer has begun (cur may still be empty only if the path is "")
	)
	flush := func() {
		*out = append(*out, cur.String())
		cur.Reset()
		pending = false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v):
			i++
			cur.WriteByte(v[i])
			pending = true
		case c == ':':
			if i+1 < len(v) && v[i+1] == ':' && out == &lower {
				flush()
				out = &data
				i++
				continue
			}
			flush()
		default:
			cur.WriteByte(c)
			pending = true
		}
	}
	if pending || cur.Len() > 0 {
		flush()
	}
	return lower, data
}

func errorf(op, target string, err error) error {
	return fmt.Errorf("%s %s: %w", op, target, err)
}
