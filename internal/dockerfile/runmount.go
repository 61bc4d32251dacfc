package dockerfile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tonistiigi/go-csvvalue"
)

// mountKeys are the documented options of each RUN --mount type (BuildKit's reference), aliases
// included. BuildKit's parser takes the union of them for every type and leaves some unused;
// hako refuses an option that its type does not document (bind-propagation, consistency,
// volume-opt, ... included), so that nothing a Dockerfile asks for is silently ignored.
var mountKeys = map[string][]string{
	"bind":   {"type", "target", "dst", "destination", "source", "src", "from", "rw", "readwrite", "ro", "readonly"},
	"cache":  {"type", "id", "target", "dst", "destination", "ro", "readonly", "rw", "readwrite", "sharing", "from", "source", "src", "mode", "uid", "gid"},
	"tmpfs":  {"type", "target", "dst", "destination", "size"},
	"secret": {"type", "id", "source", "src", "target", "dst", "destination", "env", "required", "mode", "uid", "gid"},
	"ssh":    {"type", "id", "target", "dst", "destination", "required", "mode", "uid", "gid"},
}

// checkMountFlag checks the options of one `--mount=` value against its type. A type given by a
// variable is checked after expansion (build.RunMounts); here the options of every type are
// allowed for it.
func checkMountFlag(val string) error {
	fields, err := csvvalue.Fields(val, nil)
	if err != nil {
		return fmt.Errorf("RUN --mount=%s: %w", val, err)
	}
	typ := "bind"
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		if strings.ToLower(k) == "type" {
			typ = strings.ToLower(v)
		}
	}
	allowed, known := mountKeys[typ]
	if !known && !strings.Contains(typ, "$") {
		return fmt.Errorf("RUN --mount type %q is not supported (bind, cache, tmpfs, secret, ssh)", typ)
	}
	for _, f := range fields {
		k, _, _ := strings.Cut(f, "=")
		k = strings.ToLower(k)
		if known && !slices.Contains(allowed, k) || !known && !anyMountKey(k) {
			return fmt.Errorf("RUN --mount option %q is not supported for type=%s (%s)", k, typ, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// CheckMountOption says whether key is a documented option of mount type typ.
func CheckMountOption(typ, key string) bool {
	return slices.Contains(mountKeys[typ], strings.ToLower(key))
}

func anyMountKey(k string) bool {
	for _, ks := range mountKeys {
		if slices.Contains(ks, k) {
			return true
		}
	}
	return false
}
