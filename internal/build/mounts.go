package build

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/hako-dev/hako/internal/dockerfile"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// The RUN --mount types.
const (
	MountBind   = "bind"
	MountCache  = "cache"
	MountTmpfs  = "tmpfs"
	MountSecret = "secret"
	MountSSH    = "ssh"
)

// Cache mount sharing modes.
const (
	SharingShared  = "shared"
	SharingPrivate = "private"
	SharingLocked  = "locked"
)

// SecretsDir is where a secret mount without a target appears, as /run/secrets/<id>.
const SecretsDir = "/run/secrets"

// SSHDir is where an ssh mount without a target appears, as ssh_agent.<n> (BuildKit's path).
const SSHDir = "/run/buildkit"

// RunMount is one RUN --mount, expanded and checked. It says what to mount; the builder finds
// it (a cache directory, a stage's or the context's tree, a secret, an agent) for each run.
type RunMount struct {
	Type string
	// Target is absolute and clean; "" only for a secret given as an environment variable.
	Target string
	// From is bind's and cache's tree: "" for the build context (bind) or an empty directory
	// (cache), otherwise a stage (FromStage set) or an image reference.
	From      string
	FromStage *StagePlan
	// Source is the path inside From's tree (bind) or inside the cache (cache), absolute and
	// clean: "/" for the whole.
	Source    string
	ReadWrite bool
	// ID names the cache (default: the target), the secret (default: the target's base name)
	// or the ssh agent (default: "default").
	ID       string
	Sharing  string // cache: shared, private or locked
	Required bool   // secret, ssh: fail when the build was not given it
	// Env is the variable a secret is exposed in, "" for none.
	Env string
	// Mode, UID and GID are the cache directory's, the secret file's or the agent socket's
	// (nil: 0755 for a cache, 0400 for a secret, 0600 for a socket; owner root).
	Mode     *uint32
	UID, GID *uint32
	Size     int64 // tmpfs: bytes, 0 for the default
}

// String is the mount as the cache key and messages see it: every option, no secret value
// (a RunMount never holds one).
func (m RunMount) String() string {
	parts := []string{"type=" + m.Type}
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("target", m.Target)
	add("from", m.From)
	if m.Type == MountBind || m.Type == MountCache {
		add("source", m.Source)
		parts = append(parts, "rw="+strconv.FormatBool(m.ReadWrite))
	}
	add("id", m.ID)
	add("sharing", m.Sharing)
	if m.Required {
		parts = append(parts, "required")
	}
	add("env", m.Env)
	if m.Mode != nil {
		add("mode", fmt.Sprintf("%04o", *m.Mode))
	}
	if m.UID != nil {
		add("uid", strconv.FormatUint(uint64(*m.UID), 10))
	}
	if m.GID != nil {
		add("gid", strconv.FormatUint(uint64(*m.GID), 10))
	}
	if m.Size > 0 {
		add("size", strconv.FormatInt(m.Size, 10))
	}
	return strings.Join(parts, ",")
}

// runMounts turns the RUN's --mount flags (already expanded) into RunMounts.
func (s *Stage) runMounts(x *instructions.RunCommand, workdir string) ([]RunMount, error) {
	var out []RunMount
	targets := map[string]bool{}
	nssh := 0
	for _, m := range instructions.GetMounts(x) {
		rm, err := s.runMount(m, workdir, &nssh)
		if err != nil {
			return nil, err
		}
		if rm.Target != "" {
			if targets[rm.Target] {
				return nil, errdefs.Invalidf("RUN --mount: two mounts at %s", rm.Target)
			}
			targets[rm.Target] = true
		}
		out = append(out, rm)
	}
	return out, nil
}

func (s *Stage) runMount(m *instructions.Mount, workdir string, nssh *int) (RunMount, error) {
	typ := string(m.Type)
	rm := RunMount{Type: typ, From: m.From, ReadWrite: !m.ReadOnly, Required: m.Required, Size: m.SizeLimit}
	fail := func(format string, args ...any) (RunMount, error) {
		return RunMount{}, errdefs.Invalidf("RUN --mount=type=%s: "+format, append([]any{typ}, args...)...)
	}
	// A type given by a variable is known only now: check what the parser could not.
	bad := func(set bool, opt string) bool { return set && !dockerfile.CheckMountOption(typ, opt) }
	switch {
	case bad(m.From != "", "from"):
		return fail("option %q is not supported for this type", "from")
	case bad(m.Source != "", "source"):
		return fail("option %q is not supported for this type", "source")
	case bad(m.CacheID != "", "id"):
		return fail("option %q is not supported for this type", "id")
	case bad(m.SizeLimit != 0, "size"):
		return fail("option %q is not supported for this type", "size")
	case bad(m.Env != nil, "env"):
		return fail("option %q is not supported for this type", "env")
	case bad(m.Mode != nil, "mode"):
		return fail("option %q is not supported for this type", "mode")
	}
	if m.Target != "" {
		t := m.Target
		if !path.IsAbs(t) {
			t = path.Join("/", workdir, t)
		}
		rm.Target = path.Clean(t)
		if rm.Target == "/" {
			return fail("invalid mount target %q", m.Target)
		}
	}
	for _, f := range []struct {
		v   *uint64
		max uint64
		out **uint32
		opt string
	}{{m.Mode, 0o7777, &rm.Mode, "mode"}, {m.UID, 1<<32 - 2, &rm.UID, "uid"}, {m.GID, 1<<32 - 2, &rm.GID, "gid"}} {
		if f.v == nil {
			continue
		}
		if *f.v > f.max {
			return fail("%s %d is out of range", f.opt, *f.v)
		}
		v := uint32(*f.v)
		*f.out = &v
	}
	if m.From != "" {
		rm.FromStage = s.Plan.LookupStage(m.From, s.SP.Index)
	}
	switch m.Type {
	case instructions.MountTypeBind, instructions.MountTypeCache:
		if rm.Target == "" {
			return fail("a target is required")
		}
		rm.Source = path.Join("/", m.Source)
		if m.Type == instructions.MountTypeCache {
			rm.ID = m.CacheID
			if rm.ID == "" {
				rm.ID = rm.Target
			}
			rm.Sharing = string(m.CacheSharing)
			if rm.Sharing == "" {
				rm.Sharing = SharingShared
			}
		}
	case instructions.MountTypeTmpfs:
		if rm.Target == "" {
			return fail("a target is required")
		}
		if m.SizeLimit < 0 {
			return fail("size must not be negative")
		}
		rm.ReadWrite = true
	case instructions.MountTypeSecret:
		rm.ReadWrite = false
		rm.ID = m.CacheID
		if m.Source != "" {
			rm.ID = m.Source
		}
		if rm.ID == "" {
			if rm.Target == "" {
				return fail("an id or a target is required")
			}
			rm.ID = path.Base(rm.Target)
		}
		if m.Env != nil {
			rm.Env = *m.Env
			if rm.Env == "" {
				rm.Env = rm.ID
			}
		} else if rm.Target == "" {
			rm.Target = path.Join(SecretsDir, path.Base(rm.ID))
		}
	case instructions.MountTypeSSH:
		rm.ReadWrite = false
		rm.ID = m.CacheID
		if rm.ID == "" {
			rm.ID = "default"
		}
		if rm.Target == "" {
			rm.Target = path.Join(SSHDir, "ssh_agent."+strconv.Itoa(*nssh))
		}
		*nssh++
	default:
		return fail("unknown mount type (bind, cache, tmpfs, secret, ssh)")
	}
	return rm, nil
}

// mountKeyText is the mounts' part of a RUN's cache key.
func mountKeyText(ms []RunMount) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, m.String())
	}
	return fmt.Sprintf("%q", parts)
}

// MountPoint is a RUN mount prepared on the host: Source is a path the runtime binds at Target
// ("bind"), or Type is "tmpfs". Options are fstab-style ("ro", "size=…").
type MountPoint struct {
	Target  string
	Type    string
	Source  string
	Options []string
}

// addSSHAuthSock points SSH_AUTH_SOCK at the first ssh mount, as BuildKit does, unless the
// image or an ARG sets it.
func addSSHAuthSock(env []string, ms []RunMount) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "SSH_AUTH_SOCK=") {
			return env
		}
	}
	for _, m := range ms {
		if m.Type == MountSSH {
			return append(env, "SSH_AUTH_SOCK="+m.Target)
		}
	}
	return env
}
