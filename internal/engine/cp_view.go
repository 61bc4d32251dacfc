package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/cp"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/mount"
	"github.com/hako-dev/hako/internal/volume"
)

// withContainerFS runs fn with the container's filesystem as `docker cp` sees it: the root
// filesystem with the container's volumes and bind mounts on top, where the container has them,
// the read-only ones read-only. The kernel resolves every path across them as it does for the
// container: the deepest mount over a path wins, a symlink in a volume resolves inside the
// container's root (the cp.Root keeps it there), ".." at a volume's top climbs to its parent in
// the container. Tmpfs mounts are not part of the view (Docker's cp does not see a tmpfs
// either); the /etc files the monitor binds into the container (hostname, hosts, resolv.conf) are.
//
// The mounts are made in a mount namespace of one locked thread, slave to the host's, as
// Docker's daemon does since 23.0: nothing leaks to the host, a crash leaves no mount behind,
// and the monitor of a running container never sees them. The thread is never unlocked, so Go
// ends it with the goroutine instead of handing it, in its private namespace, to other code. fn
// runs on that thread; what it starts elsewhere works through the descriptors it was given, which
// keep the view's mounts.
func (e *Engine) withContainerFS(ctx context.Context, c *container.Container, fn func(root *cp.Root) error) error {
	return mount.InPrivateNamespace(func() error { return e.inContainerFS(ctx, c, fn) })
}

func (e *Engine) inContainerFS(ctx context.Context, c *container.Container, fn func(root *cp.Root) error) error {
	cs := e.Containers()
	// A running container's root is the monitor's mount, the very tree the container sees (a
	// second overlay mount of a live upper dir is undefined behaviour in overlayfs). A stopped
	// one's snapshot is mounted for the copy, and taken down before the caller goes on: a start
	// may mount the same upper directory next.
	dir := filepath.Join(cs.Dir(c.ID), "rootfs")
	if !c.State.Running {
		tmp, err := e.mountStopped(ctx, c)
		if err != nil {
			return err
		}
		defer os.Remove(tmp)
		// Detached with the volumes on it, in one call; the last descriptor is closed by then.
		defer unix.Unmount(tmp, unix.MNT_DETACH)
		dir = tmp
	}
	root, err := cp.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dir, 0, unix.STATX_MNT_ID, &st); err != nil {
		return fmt.Errorf("copy: mount of %s: %w", dir, err)
	}
	idmapped, err := e.mountContainerVolumes(c, dir, root)
	if err != nil {
		return err
	}
	if c.Config.Options.UserNS {
		// Its view shows host IDs throughout (the root filesystem as the container runs it,
		// the volumes idmapped above): tars carry the container's IDs, and what cp writes gets
		// the host IDs of its owner in the container (userns.go).
		root.MapOwners(userNSToContainer(c.Config.Options), userNSToHost(c.Config.Options))
		// A root filesystem that is an idmapped bind, not an overlay, refuses hako's writes
		// as the idmapped volumes do.
		ms, err := e.Snapshots.Mounts(ctx, c.ID)
		if err != nil {
			return err
		}
		if userNSIDMappedRoot(ms) {
			if idmapped == nil {
				idmapped = map[uint64]bool{}
			}
			idmapped[st.Mnt_id] = true
		}
	}
	w := writeCheck{rootMnt: st.Mnt_id, readOnlyRoot: c.Config.Options.ReadOnly, idmapped: idmapped}
	root.CheckWrites(w.check)
	return fn(root)
}

// mountContainerVolumes mounts the container's volumes and binds on its root at dir, parents
// before children, as the monitor has them at start. A stopped container's empty volume is first
// seeded from the image, as the next start would, so that what cp writes there joins the
// image's content instead of keeping it out. It returns the IDs of the mounts it idmapped.
func (e *Engine) mountContainerVolumes(c *container.Container, dir string, root *cp.Root) (idmapped map[uint64]bool, err error) {
	var ms []volume.Mount
	for _, m := range c.Config.Mounts {
		if m.Type == volume.TypeBind || m.Type == volume.TypeVolume {
			ms = append(ms, m)
		}
	}
	// The /etc files the monitor writes for the container at every start (hostname, hosts,
	// resolv.conf), bound where the container has them; a container that never started has none
	// yet. The monitor binds them first, the user's mounts after: a mount on one of them, or on a
	// directory above it (-v vol:/etc), hides it from the container. The view leaves such a file
	// out rather than bind it inside that mount (creating it there to bind it on).
	covered := userMountDests(c, dir)
	for _, f := range []string{"hostname", "hosts", "resolv.conf"} {
		target := "/etc/" + f
		dest, err := mountDest(dir, target)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(covered, func(d string) bool { return d == dest || strings.HasPrefix(dest, d+"/") }) {
			continue
		}
		src := filepath.Join(e.Containers().Dir(c.ID), "etc", f)
		if _, err := os.Stat(src); err == nil {
			ms = append(ms, etcFileMount(src, target)) // userns.go
		}
	}
	sort.SliceStable(ms, func(i, j int) bool {
		return strings.Count(ms[i].Target, "/") < strings.Count(ms[j].Target, "/")
	})
	var userns *os.File
	srcs := make([]string, len(ms))
	dests := make([]string, len(ms))
	for i, m := range ms {
		srcs[i] = m.Source
		if m.Type == volume.TypeVolume {
			srcs[i] = e.Volumes().Path(m.Source)
		}
		dest, err := mountDest(dir, m.Target)
		if err != nil {
			return nil, err
		}
		dests[i] = dest
		if m.Type == volume.TypeVolume && !m.NoCopy && !c.State.Running {
			if _, err := os.Stat(srcs[i]); err == nil {
				if err := volume.Seed(dir, dest, srcs[i], userNSToContainer(c.Config.Options)); err != nil {
					return nil, fmt.Errorf("volume %s: %w", m.Source, err)
				}
			}
		}
	}
	for i, m := range ms {
		fi, err := os.Stat(srcs[i])
		if err != nil {
			return nil, fmt.Errorf("mount %s on %s: %w", m.Source, m.Target, err)
		}
		// idmapped where the container has it so (userns.go), with one user namespace made
		// for the first such mount
		var idmap *os.File
		if o := c.Config.Options; userNSIDMapped(o, m) {
			if userns == nil {
				if userns, err = mount.UserNamespace(o.UIDMappings, o.GIDMappings); err != nil {
					return nil, err
				}
				defer userns.Close()
			}
			idmap = userns
		}
		target, err := root.MountPoint(dests[i], fi.IsDir())
		if err != nil {
			return nil, fmt.Errorf("mount %s on %s: %w", m.Source, m.Target, err)
		}
		mnt, err := bindAt(srcs[i], target, m.ReadOnly, idmap)
		target.Close()
		if err != nil {
			return nil, fmt.Errorf("mount %s on %s: %w", m.Source, m.Target, err)
		}
		if idmap != nil {
			if idmapped == nil {
				idmapped = map[uint64]bool{}
			}
			idmapped[mnt] = true
		}
	}
	return idmapped, nil
}

// userMountDests are the targets of the container's own mounts (volumes, binds, tmpfs, --tmpfs)
// resolved inside its root at dir, as the runtime mounts them; one that does not resolve (the
// container cannot start with it) is left out.
func userMountDests(c *container.Container, dir string) []string {
	targets := make([]string, 0, len(c.Config.Mounts)+len(c.Config.Options.Mounts))
	for _, m := range c.Config.Mounts {
		targets = append(targets, m.Target)
	}
	for _, m := range c.Config.Options.Mounts {
		targets = append(targets, m.Destination)
	}
	var out []string
	for _, t := range targets {
		if d, err := mountDest(dir, t); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// bindAt bind-mounts src, with its submounts, on the object target is a handle of, read-only
// with ro, idmapped with the user namespace userns when it is not nil: the mount the container has
// from an "rbind" with "ro" and "idmap" (mount.OpenBind), whose submounts keep their attributes.
// The new mount API attaches the mount where the handle is, whatever has since been renamed on the
// way there, and gives it its attributes before it is visible.
func bindAt(src string, target *os.File, ro bool, userns *os.File) (mountID uint64, err error) {
	var attrs uint64
	if ro {
		attrs = unix.MOUNT_ATTR_RDONLY
	}
	tree, err := mount.OpenBind(src, true, attrs, userns)
	if err != nil {
		return 0, err
	}
	defer unix.Close(tree)
	var st unix.Statx_t
	if err := unix.Statx(tree, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &st); err != nil {
		return 0, fmt.Errorf("statx: %w", err)
	}
	if err := unix.MoveMount(tree, "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return 0, fmt.Errorf("move_mount: %w", err)
	}
	return st.Mnt_id, nil
}

// writeCheck refuses a copy into a read-only place with Docker's words: a read-only volume or
// bind, or the root filesystem of a --read-only container (whose root is writable in the view,
// since the runtime makes it read-only only inside the container).
type writeCheck struct {
	rootMnt      uint64
	readOnlyRoot bool
	// idmapped are the mounts idmapped for a user namespace (errIDMappedCopy).
	idmapped map[uint64]bool
}

func (w writeCheck) check(dir *os.File) error {
	var st unix.Statx_t
	if err := unix.Statx(int(dir.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &st); err != nil {
		return fmt.Errorf("mount of the destination: %w", err)
	}
	if st.Mnt_id == w.rootMnt {
		if w.readOnlyRoot {
			return errdefs.Invalidf("container rootfs is marked read-only")
		}
	} else {
		var fs unix.Statfs_t
		if err := unix.Fstatfs(int(dir.Fd()), &fs); err != nil {
			return fmt.Errorf("mount of the destination: %w", err)
		}
		if fs.Flags&unix.ST_RDONLY != 0 {
			return errdefs.Invalidf("mounted volume is marked read-only")
		}
	}
	if w.idmapped[st.Mnt_id] {
		return errIDMappedCopy()
	}
	return nil
}

// errIDMappedCopy is the refusal of a copy into an idmapped mount of a container in a user
// namespace: hako, host root, cannot create files there (the mapping does not reach host uid 0;
// the kernel says EOVERFLOW).
func errIDMappedCopy() error {
	return errdefs.NotImplemented(errors.New("copying into a volume, an idmapped bind or an idmapped root filesystem of a container in a user namespace is not supported yet"))
}
