package spec

import (
	"slices"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hako-dev/hako/internal/errdefs"
)

// DefaultCapabilities is Docker's default capability set, in Docker's order.
func DefaultCapabilities() []string { return defaultCapabilities() }

func defaultCapabilities() []string {
	return []string{
		"CAP_CHOWN",
		"CAP_DAC_OVERRIDE",
		"CAP_FSETID",
		"CAP_FOWNER",
		"CAP_MKNOD",
		"CAP_NET_RAW",
		"CAP_SETGID",
		"CAP_SETUID",
		"CAP_SETFCAP",
		"CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE",
		"CAP_SYS_CHROOT",
		"CAP_KILL",
		"CAP_AUDIT_WRITE",
	}
}

const allCapabilities = "ALL"

// knownCapabilities lists every capability this build knows, "CAP_"-prefixed.
func knownCapabilities() []string {
	var out []string
	for _, c := range capability.ListKnown() {
		out = append(out, "CAP_"+strings.ToUpper(c.String()))
	}
	return out
}

// PrivilegedCapabilities are the capabilities of a --privileged process, which
// `exec --privileged` gives too.
func PrivilegedCapabilities() *specs.LinuxCapabilities {
	return capabilitySets(allSupportedCapabilities())
}

// capabilitySets gives a process caps as bounding, effective and permitted; none inheritable
// (Docker dropped those for CVE-2022-24769) or ambient.
func capabilitySets(caps []string) *specs.LinuxCapabilities {
	return &specs.LinuxCapabilities{Bounding: caps, Effective: slices.Clone(caps), Permitted: slices.Clone(caps)}
}

// allSupportedCapabilities is what --privileged and --cap-add ALL grant: every capability the
// running kernel has, falling back to every known one where that cannot be read, less those
// outside hako's own bounding set, which no child of hako can ever hold (a root without
// CAP_SYS_RESOURCE, as on our machines, would otherwise fail every --privileged start with
// "unable to apply caps: operation not permitted"; podman does the same).
func allSupportedCapabilities() []string {
	caps, err := capability.ListSupported()
	if err != nil {
		caps = capability.ListKnown()
	}
	self, err := capability.NewPid2(0)
	if err == nil {
		err = self.Load()
	}
	var out []string
	for _, c := range caps {
		if err == nil && !self.Get(capability.BOUNDING, c) {
			continue
		}
		out = append(out, "CAP_"+strings.ToUpper(c.String()))
	}
	return out
}

// normalizeCapabilities upper-cases names, adds the CAP_ prefix, checks them against the known
// set and removes duplicates.
func normalizeCapabilities(in []string) ([]string, error) {
	known := knownCapabilities()
	var out []string
	for _, c := range in {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c != allCapabilities && !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if c != allCapabilities && !slices.Contains(known, c) {
			return nil, errdefs.Invalidf("unknown capability: %q", c)
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// tweakCapabilities applies --cap-add, --cap-drop and --privileged with Docker's precedence:
// privileged wins; "ALL" in cap-add grants everything but the drops; "ALL" in cap-drop keeps
// only the adds; otherwise drops apply to the defaults, then adds are appended.
func tweakCapabilities(basics, adds, drops []string, privileged bool) ([]string, error) {
	if privileged {
		return allSupportedCapabilities(), nil
	}
	capAdd, err := normalizeCapabilities(adds)
	if err != nil {
		return nil, err
	}
	capDrop, err := normalizeCapabilities(drops)
	if err != nil {
		return nil, err
	}
	var caps []string
	switch {
	case slices.Contains(capAdd, allCapabilities):
		for _, c := range allSupportedCapabilities() {
			if !slices.Contains(capDrop, c) {
				caps = append(caps, c)
			}
		}
	case slices.Contains(capDrop, allCapabilities):
		caps = capAdd
	default:
		for _, c := range basics {
			if !slices.Contains(capDrop, c) {
				caps = append(caps, c)
			}
		}
		for _, c := range capAdd {
			if !slices.Contains(caps, c) {
				caps = append(caps, c)
			}
		}
	}
	if caps == nil {
		caps = []string{}
	}
	return caps, nil
}
