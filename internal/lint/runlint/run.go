// Package runlint holds the checks `hako run` makes of what it is about to do (an engine
// socket or a sensitive host path mounted in, --privileged): package lint's run-time half, in a
// package of its own so that the run's path (and the lean binary that serves a forked run,
// cmd/hako-monitor) does not link the Dockerfile linter and BuildKit's parser.
package runlint

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// RunConfig is what `hako run` is about to do that the run-time checks look at.
type RunConfig struct {
	Privileged bool
	Binds      []Bind
	StoreRoot  string // hako's own store: a bind of it hands over the engine too
}

// Bind is a host path mounted into a container.
type Bind struct {
	Source, Target string
	ReadOnly       bool
}

// engineSockets are the API sockets of container engines; whoever reaches one controls the
// engine and through it the host, whatever the mount's :ro says (ro protects the socket file,
// not the API behind it).
var engineSockets = []string{"docker.sock", "hako.sock", "containerd.sock", "podman.sock", "crio.sock", "buildkitd.sock"}

// sensitiveHostPaths are host directories a container should never see.
var sensitiveHostPaths = map[string]string{
	"/":        "the host's whole filesystem",
	"/etc":     "the host's configuration, users and password hashes",
	"/proc":    "the host's processes and kernel settings",
	"/sys":     "the host's kernel and devices",
	"/dev":     "the host's devices",
	"/run":     "the host's runtime sockets, engine sockets included",
	"/var/run": "the host's runtime sockets, engine sockets included",
	"/boot":    "the host's kernel and boot loader",
}

// RunWarnings lists what is dangerous in a run: an engine socket, a sensitive host directory
// or hako's store mounted in, or --privileged. `hako run` prints them, or refuses with --strict.
func RunWarnings(c RunConfig) []string {
	var out []string
	if c.Privileged {
		out = append(out, "--privileged gives the container every capability and all host devices: it can take over the host")
	}
	for _, b := range c.Binds {
		src := path.Clean(b.Source)
		real := src
		if r, err := filepath.EvalSymlinks(src); err == nil {
			real = filepath.Clean(r)
		}
		ro := ""
		if b.ReadOnly {
			ro = " (read-only does not help: it protects the socket file, not the API)"
		}
		switch {
		case isEngineSocket(src) || isEngineSocket(real):
			out = append(out, fmt.Sprintf("mounting the engine socket %s hands the container full control of the engine and the host%s", b.Source, ro))
		case sensitiveHostPaths[src] != "":
			out = append(out, fmt.Sprintf("mounting the host's %s exposes %s", src, sensitiveHostPaths[src]))
		case sensitiveHostPaths[real] != "":
			out = append(out, fmt.Sprintf("mounting the host's %s (%s) exposes %s", src, real, sensitiveHostPaths[real]))
		case c.StoreRoot != "" && (src == path.Clean(c.StoreRoot) || strings.HasPrefix(path.Clean(c.StoreRoot), src+"/")):
			out = append(out, fmt.Sprintf("mounting %s exposes hako's store: images and containers of the host can be changed", b.Source))
		}
	}
	return out
}

func isEngineSocket(p string) bool {
	base := path.Base(p)
	for _, s := range engineSockets {
		if base == s {
			return true
		}
	}
	return false
}
