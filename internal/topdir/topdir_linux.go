// Package topdir marks the directories under which hako makes a directory per container or
// snapshot as tops of directory hierarchies (chattr +T), for ext4's Orlov allocator.
//
// ext4 puts a new directory in its parent's block group, and a file in its directory's, unless
// the parent is the filesystem's root or carries FS_TOPDIR_FL: then it spreads the new
// directory over the groups. Every run makes and deletes some thirty inodes (the container's
// directory and files, its snapshot's, the overlay's work directory); in one group, they pile up.
// Without a journal (as the root filesystem of the machines hako is measured on), ext4 skips an
// inode freed in the last minute (five if its inode table block is still dirty) when it
// allocates one, scanning past each: a file's creation went from ~50 µs to 500-800 µs after a
// few hundred runs' churn in one group, against ~50 µs throughout with the parent marked
// (docs/run.md, 2026-11-29). Marked, each container's or snapshot's directory lands in a group
// of its own choosing, and so do the files in it.
//
// The spreading has its price: each directory made under a marked one makes ext4 scan the
// counters of every group (~300 µs here). It pays for the containers' directories and the
// snapshots' (some ten inodes each), not for the runtime's state directories (two files):
// unmarked, a run took 1-1.5 ms less, still after 400 runs in a row (2026-11-29).
package topdir

import (
	"os"

	"golang.org/x/sys/unix"
)

// fsTopdirFL is FS_TOPDIR_FL (linux/fs.h).
const fsTopdirFL = 0x00020000

// Mark makes dir (mode perm, if missing) and sets its FS_TOPDIR_FL, unless set. It is a hint:
// a filesystem without the flag (it is ext2/3/4's) leaves it unset, and only a failure to make
// dir is an error.
func Mark(dir string, perm os.FileMode) error { return set(dir, perm, true) }

// Unmark makes dir (mode perm, if missing) and clears its FS_TOPDIR_FL, if set (by an earlier
// hako): for a directory whose per-container directories hold too few files to pay for the
// spreading, which scans every group's counters at each mkdir (~300 µs here).
func Unmark(dir string, perm os.FileMode) error { return set(dir, perm, false) }

func set(dir string, perm os.FileMode, on bool) error {
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetInt(fd, unix.FS_IOC_GETFLAGS)
	if err != nil || (flags&fsTopdirFL != 0) == on {
		return nil
	}
	_ = unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, flags^fsTopdirFL)
	return nil
}
