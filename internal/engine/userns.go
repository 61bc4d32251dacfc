package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/mount"
	"github.com/hako-dev/hako/internal/spec"
	"github.com/hako-dev/hako/internal/volume"
)

// A container run with --uidmap/--gidmap (spec.Options.UserNS) lives in a user namespace of its
// own. Its image's layers are never chowned: the root filesystem mounts them idmapped
// (mount.IDMapOptions), so that host uid 0 on disk is the container's root, while its writable
// layer stores what it writes with the host IDs it runs as (100000 for its root, say), as
// Docker's userns-remap does; a root filesystem that is one bind (the native snapshotter's) is
// idmapped as a whole, its writable layer holding the container's IDs. Its volumes and its /etc/hostname, hosts and resolv.conf are
// idmapped binds (runc's "idmap" option): on disk they keep the IDs the container sees, so a
// volume is shared with containers of other mappings, or of none, without a chown. A bind of a
// host path is idmapped only when asked (-v SRC:DST:idmap, as podman's): idmapped, the
// container's root is host root on those files, which is what a user namespace is there to
// prevent; plain, the container sees their host owners through its mapping (nobody, mostly) and
// writes there as its host IDs.

// userNSMounts gives a container's root filesystem mounts the idmapping of its user namespace.
func userNSMounts(ms []mount.Mount, o spec.Options) []mount.Mount {
	if !o.UserNS {
		return ms
	}
	idmap := mount.IDMapOptions(o.UIDMappings, o.GIDMappings)
	out := slices.Clone(ms)
	for i := range out {
		out[i].Options = append(slices.Clone(out[i].Options), idmap...)
	}
	return out
}

// userNSIDMappedRoot says whether the root filesystem of a container in a user namespace, of
// these snapshot mounts, is a bind idmapped as a whole (the native snapshotter's, or the overlay
// snapshotter's for an image without layers), whose files are on disk with the container's IDs,
// rather than an overlay whose upper dir takes the host IDs the container runs as.
func userNSIDMappedRoot(ms []mount.Mount) bool {
	return !slices.ContainsFunc(ms, func(m mount.Mount) bool { return m.Type == "overlay" })
}

// userNSIDMapped says whether the mount m of a container with options o is idmapped with the
// container's user namespace: in one, its volumes are, and the binds asked with idmap, which the
// binds of its /etc files are (etcFileMount). The monitor's mounts (mountSpecs, userNSBinds) and
// cp's view (cp_view.go) follow it alike.
func userNSIDMapped(o spec.Options, m volume.Mount) bool {
	return o.UserNS && (m.Type == volume.TypeVolume || m.IDMap)
}

// etcFileMount is the bind of one of the /etc files that hako writes for a container (hostname,
// hosts, resolv.conf: spec.WriteEtcFiles) as a mount of the container's: asked idmapped, as a
// volume is, so that in a user namespace they are the container's root's (host root's on disk).
func etcFileMount(src, target string) volume.Mount {
	return volume.Mount{Type: volume.TypeBind, Source: src, Target: target, IDMap: true}
}

// userNSBinds marks the binds of the container's /etc files among ms idmapped with the
// container's mappings (userNSIDMapped), which runc (1.2+) does with open_tree and
// mount_setattr on the host's side. A bind from a filesystem without idmapped mounts (NFS, FUSE)
// fails to start, saying so.
func userNSBinds(ms []specs.Mount, o spec.Options) []specs.Mount {
	out := slices.Clone(ms)
	for i, m := range out {
		if m.Type == "bind" && userNSIDMapped(o, etcFileMount(m.Source, m.Destination)) && !slices.Contains(m.Options, "idmap") && !slices.Contains(m.Options, "ridmap") {
			out[i].Options = append(slices.Clone(m.Options), "idmap")
		}
	}
	return out
}

// userNSToContainer maps owners that a container's files show on the host (host IDs: its root
// filesystem, mounted idmapped, or its overlay upper dir) to the container's IDs, which its
// idmapped volumes store, a layer or a tar of it holds, and the container sees. An ID that the
// mappings do not reach becomes the overflow ID 65534, as the container sees it.
func userNSToContainer(o spec.Options) func(uid, gid int) (int, int) {
	return userNSOwner(o, spec.ContainerID, 65534, 65534)
}

// userNSToHost is userNSToContainer's inverse: the host IDs that a container's IDs are on its
// root filesystem (0 is 100000, say). An ID the mappings do not reach (the owner in a tar that
// cp -a writes into the container) becomes the host IDs of the container's root, which owns it
// then as it owns what it writes. Not host 65534: the mappings may reach that one, which is then
// one of the container's users (with 0:60000:65536, its 5534).
func userNSToHost(o spec.Options) func(uid, gid int) (int, int) {
	uid, gid, err := userNSRoot(o)
	if err != nil { // refused at create (CheckIDMappings)
		uid, gid = 65534, 65534
	}
	return userNSOwner(o, spec.HostID, int(uid), int(gid))
}

// userNSOwner maps both IDs of an owner through the container's mappings with one direction of
// them (spec.ContainerID or spec.HostID), to unreachedUID and unreachedGID where they do not
// reach; nil without a user namespace.
func userNSOwner(o spec.Options, through func([]specs.LinuxIDMapping, uint32) (uint32, bool), unreachedUID, unreachedGID int) func(uid, gid int) (int, int) {
	if !o.UserNS {
		return nil
	}
	one := func(ms []specs.LinuxIDMapping, id, unreached int) int {
		if v, ok := through(ms, uint32(id)); ok {
			return int(v)
		}
		return unreached
	}
	return func(uid, gid int) (int, int) {
		return one(o.UIDMappings, uid, unreachedUID), one(o.GIDMappings, gid, unreachedGID)
	}
}

// userNSRoot is the host uid and gid of the container's root.
func userNSRoot(o spec.Options) (uid, gid uint32, err error) {
	uid, uok := spec.HostID(o.UIDMappings, 0)
	gid, gok := spec.HostID(o.GIDMappings, 0)
	if !uok || !gok {
		return 0, 0, errdefs.Invalidf("user namespace: the container's root (ID 0) is not mapped")
	}
	return uid, gid, nil
}

// openToUserNSRoot lets the container's root, an unprivileged user on the host, reach the
// container's root filesystem, which runc mounts by path from inside the user namespace: the
// containers directory gets o+x, the container's own directory (when it exists) becomes 0710
// with the root's group, as Docker's remapped root directory is. The directories above the store
// are the user's: one that the root cannot search is an error that names it.
func (e *Engine) openToUserNSRoot(c *container.Container) error {
	o := c.Config.Options
	if !o.UserNS {
		for _, m := range c.Config.Mounts {
			if m.IDMap {
				return errdefs.Invalidf("mount %s: idmap needs a user namespace (--uidmap, --gidmap)", m.Target)
			}
		}
		return nil
	}
	if err := spec.CheckIDMappings("uid mappings", o.UIDMappings); err != nil {
		return err
	}
	if err := spec.CheckIDMappings("gid mappings", o.GIDMappings); err != nil {
		return err
	}
	uid, gid, err := userNSRoot(o)
	if err != nil {
		return err
	}
	cs := e.Containers()
	if err := os.MkdirAll(cs.Root, 0o711); err != nil {
		return err
	}
	if err := addMode(cs.Root, 0o001); err != nil {
		return err
	}
	if dir := cs.Dir(c.ID); c.ID != "" {
		if _, err := os.Stat(dir); err == nil {
			if err := os.Chown(dir, 0, int(gid)); err != nil {
				return fmt.Errorf("user namespace: %w", err)
			}
			if err := os.Chmod(dir, 0o710); err != nil {
				return fmt.Errorf("user namespace: %w", err)
			}
		}
	}
	for p := filepath.Dir(cs.Root); ; p = filepath.Dir(p) {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			return fmt.Errorf("user namespace: %w", err)
		}
		bit := uint32(0o001)
		switch {
		case st.Uid == uid:
			bit = 0o100
		case st.Gid == gid:
			bit = 0o010
		}
		if st.Mode&bit == 0 {
			return errdefs.Invalidf("user namespace: the container's root (host uid %d) cannot reach the store: %s is mode %#o, owner %d:%d; let others search it (chmod o+x) or use a --root below directories they can search", uid, p, st.Mode&0o7777, st.Uid, st.Gid)
		}
		if p == "/" || p == "." {
			return nil
		}
	}
}

func addMode(p string, bits os.FileMode) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&bits == bits {
		return nil
	}
	return os.Chmod(p, fi.Mode().Perm()|bits)
}
