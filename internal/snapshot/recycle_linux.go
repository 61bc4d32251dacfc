package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// A container that changed nothing in its root filesystem leaves, once removed, an upper
// directory that is what the next container on the same image starts with: empty but for the
// mount points that the init makes for the /etc files (a copy-up of /etc and three empty files,
// where the image has none of them), and a work directory that overlayfs fills again at the
// next mount. Deleting it (about ten inodes, a discard for each directory) and making the
// next spare (three directories, one of them spread over ext4's block groups: docs/run.md)
// cost a `run --rm` ~1.2 ms of CPU after its answer, beside the next run's start; and the
// init's copy-up and three creations ~0.25 ms before the command's exec.
//
// So the removal of a snapshot labelled RecycleLabel keeps its directory, as the store's
// recycled snapshot, when the driver finds the upper directory as a container that changed
// nothing leaves it (overlayDriver.recycle: anything else, a whiteout, a changed mode, an
// xattr, a byte written, and the directory is deleted as before); the next Prepare with that
// label on the same parent takes it. Only such a Prepare: a build step's snapshot, committed
// as a layer, must start empty.

// RecycleLabel marks an active snapshot whose directory may be recycled (a container's
// writable layer): see above.
const RecycleLabel = "hako.snapshot.recycle"

// recycledName, in snapshots/, is the recycled snapshot's directory; recycledParentXattr, on
// it, names the parent it was made on.
const (
	recycledName        = "recycled"
	recycledParentXattr = "user.hako.recycled-parent"
)

// recycler is a driver that can recycle an active snapshot's directory.
type recycler interface {
	// recycle makes dir, the directory of an active snapshot on parentDirs (top first) that
	// no mount uses any more, what the next snapshot on the same parent starts with, or
	// fails if it is anything else.
	recycle(dir string, parentDirs []string) error
}

// recycle keeps dir, a removed snapshot on parent, as the recycled snapshot. It fails when the
// driver cannot recycle, when dir is not as a container that changed nothing leaves it, or when
// a recycled snapshot of the same parent is there already; the caller then deletes dir.
func (s *store) recycle(dir, parent string, parentDirs []string) error {
	rc, ok := s.drv.(recycler)
	if !ok {
		return errors.New("the driver does not recycle")
	}
	slot := s.snapshotDir(recycledName)
	p, xerr := xattr(slot, recycledParentXattr)
	if xerr == nil && p == parent {
		return errors.New("a recycled snapshot of that parent is there")
	}
	if err := rc.recycle(dir, parentDirs); err != nil {
		return err
	}
	if !errors.Is(xerr, os.ErrNotExist) {
		// One of another parent (another image): this one replaces it.
		old := filepath.Join(s.root, tmpDir, fmt.Sprintf("recycled-%d", os.Getpid()))
		if os.Rename(slot, old) == nil {
			defer os.RemoveAll(old)
		}
	}
	if err := unix.Setxattr(dir, recycledParentXattr, []byte(parent), 0); err != nil {
		return err
	}
	return unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, slot, unix.RENAME_NOREPLACE)
}

// takeRecycled moves the recycled snapshot to dir for a new snapshot on parent (in parentDir),
// if it was made on that parent, as a spare is taken (takeSpare: the driver checks it is whole,
// as a cleanup in another process may have emptied it).
func (s *store) takeRecycled(dir, parent, parentDir string) error {
	if p, err := xattr(s.snapshotDir(recycledName), recycledParentXattr); err != nil || p != parent {
		return errors.New("no recycled snapshot of that parent")
	}
	return s.takeSpare(recycledName, dir, parentDir, KindActive)
}

// dropStaleRecycled deletes the recycled snapshot when its parent is gone (its image removed),
// under the lock (cleanup).
func (s *store) dropStaleRecycled(md *metadata) {
	slot := s.snapshotDir(recycledName)
	if p, err := xattr(slot, recycledParentXattr); err == nil {
		if _, ok := md.Snapshots[p]; ok {
			return
		}
	} else if errors.Is(err, os.ErrNotExist) {
		return
	}
	os.RemoveAll(slot)
}

// xattr reads the extended attribute name of path (not following a symlink); a missing path is
// os.ErrNotExist.
func xattr(path, name string) (string, error) {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(path, name, buf)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return "", os.ErrNotExist
		}
		return "", err
	}
	return string(buf[:n]), nil
}

// xattrNames lists the extended attributes of path (not following a symlink).
func xattrNames(path string) ([]string, error) {
	buf := make([]byte, 1024)
	n, err := unix.Llistxattr(path, buf)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	return strings.Split(strings.TrimSuffix(string(buf[:n]), "\x00"), "\x00"), nil
}

// etcMountpoints are the files that the init makes in /etc for the bind mounts of the
// container's own (spec.WriteEtcFiles), where the image has none.
var etcMountpoints = []string{"hostname", "hosts", "resolv.conf"}

// recycle, for overlay: the work directory holds only what overlayfs made (work, and
// incompat/volatile for a volatile mount), which it removes; the upper directory has the mode,
// owner, flags and overlayfs's own xattrs only, and holds nothing but what the init made for
// the mounts (recycleEntry): /etc with the mount points of the /etc files, empty files of the
// init's mode and owner, and the empty directories of the kernel's filesystems.
func (overlayDriver) recycle(dir string, parentDirs []string) error {
	fsDir, work := filepath.Join(dir, "fs"), filepath.Join(dir, "work")
	ents, err := os.ReadDir(work)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name() != "work" && e.Name() != "incompat" {
			return fmt.Errorf("work directory holds %s", e.Name())
		}
		if err := os.RemoveAll(filepath.Join(work, e.Name())); err != nil {
			return err
		}
	}
	// The flags a directory made with the upper one has (the container never sees work).
	wflags, err := fileFlags(work)
	if err != nil {
		return err
	}
	// The upper directory, as create made it: 0755, the parent's owner (chownLike).
	uid, gid := os.Geteuid(), os.Getegid()
	if len(parentDirs) > 0 {
		var pst unix.Stat_t
		if err := unix.Stat(filepath.Join(parentDirs[0], "fs"), &pst); err != nil {
			return err
		}
		uid, gid = int(pst.Uid), int(pst.Gid)
	}
	if _, err := checkEntry(fsDir, unix.S_IFDIR|0o755, uid, gid, wflags, "trusted.overlay.uuid", "trusted.overlay.impure"); err != nil {
		return err
	}
	ents, err = os.ReadDir(fsDir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := recycleEntry(fsDir, e.Name(), parentDirs, wflags); err != nil {
			return err
		}
	}
	return nil
}

// rootMountpoints are the directories that the init makes at the root for the kernel's
// filesystems, where the image has none of them.
var rootMountpoints = []string{"proc", "sys", "dev"}

// recycleEntry checks name, in the upper directory fsDir, as the init leaves it: /etc with its
// mount points, a copy-up of the image's /etc (or made, 0755, where the image has none), or an
// empty directory for a kernel filesystem where the image has none.
func recycleEntry(fsDir, name string, parentDirs []string, wflags int) error {
	path := filepath.Join(fsDir, name)
	// The topmost lower entry of that name (a copy-up takes its mode and owner).
	var lower unix.Stat_t
	inLower := false
	for _, p := range parentDirs {
		if err := unix.Lstat(filepath.Join(p, "fs", name), &lower); err == nil {
			inLower = true
			break
		}
	}
	switch {
	case name == "etc" && inLower:
		if lower.Mode&unix.S_IFMT != unix.S_IFDIR {
			return errors.New("the image's /etc is not a directory")
		}
		if _, err := checkEntry(path, lower.Mode, int(lower.Uid), int(lower.Gid), wflags, "trusted.overlay.origin", "trusted.overlay.impure"); err != nil {
			return err
		}
	case (name == "etc" || slices.Contains(rootMountpoints, name)) && !inLower:
		if _, err := checkEntry(path, unix.S_IFDIR|0o755, 0, 0, wflags); err != nil {
			return err
		}
	default:
		return fmt.Errorf("the container changed its root filesystem (/%s)", name)
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if name != "etc" || !slices.Contains(etcMountpoints, e.Name()) {
			return fmt.Errorf("the container made /%s/%s", name, e.Name())
		}
		st, err := checkEntry(filepath.Join(path, e.Name()), unix.S_IFREG|0o644, 0, 0, -1)
		if err != nil {
			return err
		}
		if st.Size != 0 || st.Nlink != 1 {
			return fmt.Errorf("/etc/%s is not an empty mount point", e.Name())
		}
	}
	return nil
}

// checkEntry checks path's type and mode, owner, inode flags (unless flags is -1) and that its
// extended attributes are among allowed, and returns its stat.
func checkEntry(path string, mode uint32, uid, gid, flags int, allowed ...string) (unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return st, err
	}
	if st.Mode != mode || int(st.Uid) != uid || int(st.Gid) != gid {
		return st, fmt.Errorf("%s: mode %o, owner %d:%d, want %o, %d:%d", path, st.Mode, st.Uid, st.Gid, mode, uid, gid)
	}
	if flags >= 0 {
		f, err := fileFlags(path)
		if err != nil || f != flags {
			return st, fmt.Errorf("%s: inode flags %#x, want %#x (%v)", path, f, flags, err)
		}
	}
	names, err := xattrNames(path)
	if err != nil {
		return st, err
	}
	for _, n := range names {
		if !slices.Contains(allowed, n) {
			return st, fmt.Errorf("%s: extended attribute %s", path, n)
		}
	}
	return st, nil
}

// fileFlags is FS_IOC_GETFLAGS of the directory path.
func fileFlags(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	return unix.IoctlGetInt(fd, unix.FS_IOC_GETFLAGS)
}
