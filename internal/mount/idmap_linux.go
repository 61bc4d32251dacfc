package mount

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountIDMapped mounts a bind or an overlay whose files show through the user namespace of
// p.uidmap and p.gidmap (Linux 5.12 for binds, 5.19 for overlay layers).
//
// An idmapped mount is made from a detached copy of a tree (open_tree with OPEN_TREE_CLONE) given
// the namespace with mount_setattr(MOUNT_ATTR_IDMAP). A bind is that copy moved to target. An
// overlay takes its idmapped lower layers as /proc/self/fd/N paths to the detached copies, which
// the kernel resolves to the copies themselves: nothing is mounted anywhere but at target, so a
// crash leaves no temporary mount behind, and once the overlay holds the layers their
// descriptors are closed.
func (m Mount) mountIDMapped(target string, p parsed) error {
	if p.uidmap == "" || p.gidmap == "" {
		return errorf("idmapped mount of "+m.Source+" on", target, errors.New("both uidmap= and gidmap= are needed"))
	}
	uids, err := parseIDMaps(p.uidmap)
	if err != nil {
		return errorf("idmapped mount of "+m.Source+" on", target, err)
	}
	gids, err := parseIDMaps(p.gidmap)
	if err != nil {
		return errorf("idmapped mount of "+m.Source+" on", target, err)
	}
	ns, err := UserNamespace(uids, gids)
	if err != nil {
		return errorf("idmapped mount of "+m.Source+" on", target, err)
	}
	defer ns.Close()
	p.uidmap, p.gidmap = "", ""
	if bind, recursive := isBind(m); bind {
		return m.mountBindIDMapped(target, p, ns, recursive)
	}
	if m.Type != "overlay" {
		return errorf("mount "+m.Type+" on", target, fmt.Errorf("idmapping is supported for bind and overlay mounts only"))
	}
	layers, err := idmapLowerLayers(&p, ns)
	defer closeAll(layers)
	if err != nil {
		return errorf("mount overlay on", target, err)
	}
	return m.mount(target, p)
}

func (m Mount) mountBindIDMapped(target string, p parsed, ns *os.File, recursive bool) error {
	fd, err := OpenBind(m.Source, recursive, p.attrs, ns)
	if err != nil {
		return errorf("idmapped bind of "+m.Source+" on", target, err)
	}
	defer unix.Close(fd)
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return errorf("idmapped bind of "+m.Source+" on", target, fmt.Errorf("move_mount: %w", err))
	}
	return setPropagation(target, p.prop)
}

// OpenBind returns a descriptor of a detached bind of src (open_tree with OPEN_TREE_CLONE), with
// the mounts under src when recursive, for move_mount to attach where it goes. attrs
// (MOUNT_ATTR_*) and, when userns is not nil, the idmapping of that user namespace are given to
// the bind's top mount in one mount_setattr, before anything can see it; the mounts under it
// keep theirs, as with runc's "ro" and "idmap" (not "rro", "ridmap") and a bind's remount in
// Mount. The caller closes the descriptor.
func OpenBind(src string, recursive bool, attrs uint64, userns *os.File) (int, error) {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, flags)
	if err != nil {
		return -1, fmt.Errorf("open_tree %s: %w", src, err)
	}
	attr := unix.MountAttr{Attr_set: attrs}
	if userns != nil {
		attr.Attr_set |= unix.MOUNT_ATTR_IDMAP
		attr.Userns_fd = uint64(userns.Fd())
	}
	if attr.Attr_set == 0 {
		return fd, nil
	}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		unix.Close(fd)
		if userns != nil && errors.Is(err, unix.EINVAL) {
			err = fmt.Errorf("%w (the filesystem of %s may not support idmapped mounts)", err, src)
		}
		return -1, fmt.Errorf("mount_setattr on %s: %w", src, err)
	}
	return fd, nil
}

// idmapLowerLayers replaces the lowerdir option of p by idmapped copies of its layers, named
// /proc/self/fd/N, and gives the upper directory's root the owner the topmost layer's root shows
// through the mapping (a copied-up root would get the same). It returns the descriptors, which
// must stay open until the overlay is mounted.
func idmapLowerLayers(p *parsed, ns *os.File) ([]int, error) {
	var fds []int
	upper := ""
	for i, o := range p.data {
		if v, ok := strings.CutPrefix(o, "upperdir="); ok {
			upper = v
		}
		v, ok := strings.CutPrefix(o, "lowerdir=")
		if !ok {
			continue
		}
		lower, data := splitLowerdir(v)
		for _, layers := range [][]string{lower, data} {
			for j, l := range layers {
				fd, err := OpenBind(l, false, 0, ns)
				if err != nil {
					return fds, err
				}
				fds = append(fds, fd)
				layers[j] = fmt.Sprintf("/proc/self/fd/%d", fd)
			}
		}
		v = strings.Join(lower, ":")
		if len(data) > 0 {
			v += "::" + strings.Join(data, ":")
		}
		p.data[i] = "lowerdir=" + v
	}
	if len(fds) == 0 {
		return nil, errors.New("idmapped overlay: no lowerdir")
	}
	if upper != "" {
		var top, up unix.Stat_t
		if err := unix.Fstat(fds[0], &top); err != nil {
			return fds, fmt.Errorf("stat idmapped lower layer: %w", err)
		}
		if err := unix.Lstat(upper, &up); err != nil {
			return fds, fmt.Errorf("stat upper dir: %w", err)
		}
		if up.Uid != top.Uid || up.Gid != top.Gid {
			if err := unix.Lchown(upper, int(top.Uid), int(top.Gid)); err != nil {
				return fds, fmt.Errorf("give the upper dir the mapped root's owner: %w", err)
			}
		}
	}
	return fds, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// UserNamespace returns a descriptor of a new user namespace with these mappings, for
// mount_setattr(MOUNT_ATTR_IDMAP) or setns. The namespace lives as long as the descriptor.
//
// A user namespace cannot be made without a process in it: a child is cloned into a new one,
// its uid_map and gid_map written by this process (Go's SysProcAttr does that before letting it
// go on), and its namespace opened. The child never runs any code of its own: it is traced and
// stops at its exec, and it is killed and reaped as soon as the namespace is open.
func UserNamespace(uids, gids []specs.LinuxIDMapping) (*os.File, error) {
	// /proc/self/exe: the running binary even when its file was replaced or removed since.
	p, err := os.StartProcess("/proc/self/exe", []string{"hako-userns"}, &os.ProcAttr{
		Sys: &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER,
			UidMappings: sysIDMaps(uids),
			GidMappings: sysIDMaps(gids),
			Ptrace:      true,
			Pdeathsig:   unix.SIGKILL,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("new user namespace: %w", err)
	}
	defer func() {
		p.Kill()
		p.Wait()
	}()
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", p.Pid))
	if err != nil {
		return nil, fmt.Errorf("new user namespace: %w", err)
	}
	return f, nil
}

func sysIDMaps(ms []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(ms))
	for i, m := range ms {
		out[i] = syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)}
	}
	return out
}
