package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A process without HOME gets one from the container's /etc/passwd, read by the init after the
// mounts (libcontainer's prepareEnv, and the C path's finalization likewise). An image decides
// what that file is: a FIFO there blocks the init's open for ever (the start hangs), and a
// symlink to /proc/kmsg has the init, still holding every capability, drain the host's kernel
// log into the variable. guardHome looks first, from the host, where /etc/passwd leads inside
// the root and what is there, and gives such a process HOME=/ (what a missing file gives), so
// that no init reads it. Everything else is left to the init, as before.
func guardHome(s *specs.Spec) {
	p := s.Process
	if p == nil || s.Root == nil || hasHome(p.Env) || !passwdIsHostile(s) {
		return
	}
	p.Env = append(slices.Clone(p.Env), "HOME=/")
}

// hasHome is libcontainer's test: a HOME entry with a value (an empty one is replaced).
func hasHome(env []string) bool {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "HOME="); ok && v != "" {
			return true
		}
	}
	return false
}

// pseudoMounts are the mount types whose files are the kernel's views, not data (fastexec.c's
// pseudo_fs refuses the same ones, as file systems).
var pseudoMounts = []string{"proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue", "debugfs", "securityfs", "tracefs", "bpf"}

// passwdIsHostile says whether /etc/passwd, resolved inside the root as the init will resolve
// it, lands on a kernel filesystem of the container's mounts, or is in the image and neither
// a regular file, a directory nor missing.
func passwdIsHostile(s *specs.Spec) bool {
	root := filepath.Clean(s.Root.Path)
	resolved, err := securejoin.SecureJoin(root, "/etc/passwd")
	if err != nil {
		return true // a symlink loop, say: not for the init to open
	}
	rel := "/" + strings.TrimPrefix(strings.TrimPrefix(resolved, root), "/")
	// The last mount over it decides, as in the container.
	for i := len(s.Mounts) - 1; i >= 0; i-- {
		m := s.Mounts[i]
		if rel != m.Destination && !strings.HasPrefix(rel, strings.TrimSuffix(m.Destination, "/")+"/") {
			continue
		}
		return slices.Contains(pseudoMounts, m.Type) || (m.Destination == "/dev" && m.Type == "tmpfs")
	}
	fi, err := os.Lstat(filepath.Clean(resolved))
	if err != nil {
		return false // missing: the init finds nothing either
	}
	return !fi.Mode().IsRegular() && !fi.IsDir()
}
