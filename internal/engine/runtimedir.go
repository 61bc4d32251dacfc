package engine

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// The runtime's state (libcontainer's state.json of each running container, the exec
// profiles, the kept cgroup search) describes processes, which a reboot ends: it is per-boot
// state, which runc keeps in /run/runc, containerd in /run/containerd and Docker in
// /run/docker, on a tmpfs. hako's store keeps it at <root>/runtime, which for a store made
// since 2026-11-30 is a symlink to a directory of a tmpfs (volatileBases: /run where it is one,
// else /dev/shm), named at random when the store is made: a run makes and deletes a directory
// and three files there (its state, the exec profile and their temporary names), which on the
// store's ext4 cost an inode's allocation each in a block group of recent deletions and a
// discard when the directory goes. After a reboot the directory is made again, empty, as the
// state it held is gone with the processes. A store made before keeps its directory.

// volatileBases are the tmpfs directories a new store's runtime directory may go to, in order
// of preference (a variable for the tests).
var volatileBases = []string{"/run", "/dev/shm"}

const tmpfsMagic = 0x01021994

// runtimeDir makes the runtime directory of the store at root ready and returns its path
// without symlinks (libcontainer refuses state paths through one).
func runtimeDir(root string) (string, error) {
	link := filepath.Join(root, "runtime")
	for attempt := 0; ; attempt++ {
		fi, err := os.Lstat(link)
		switch {
		case err == nil && fi.IsDir():
			return link, nil // a store from before, or no tmpfs
		case err == nil && fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(link)
			if err != nil {
				return "", err
			}
			if err := volatileDir(target); err != nil {
				return "", fmt.Errorf("runtime directory %s: %w", link, err)
			}
			return target, nil
		case err == nil:
			return "", fmt.Errorf("runtime directory %s: neither a directory nor a symlink", link)
		case !errors.Is(err, fs.ErrNotExist):
			return "", err
		}
		target, err := newVolatileDir()
		if err != nil {
			return "", err
		}
		if target == "" { // no tmpfs this user may write to
			if err := os.Mkdir(link, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return "", err
			}
			continue
		}
		// Another hako making the store at once may win: its directory is the store's.
		if err := os.Symlink(target, link); err != nil {
			os.Remove(target)
			if !errors.Is(err, fs.ErrExist) || attempt > 2 {
				return "", err
			}
		}
	}
}

// newVolatileDir makes a runtime directory, named at random, in the first of volatileBases
// that is a tmpfs where this user may make one (/run is root's alone), and returns it; "" if
// there is none.
func newVolatileDir() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	for _, base := range volatileBases {
		var st unix.Statfs_t
		if unix.Statfs(base, &st) != nil || st.Type != tmpfsMagic {
			continue
		}
		target := filepath.Join(base, "hako-runtime-"+hex.EncodeToString(b[:]))
		if err := os.Mkdir(target, 0o700); err == nil {
			return target, volatileDir(target)
		}
	}
	return "", nil
}

// volatileDir makes dir (mode 0700) if it is missing, and checks that it is this user's own
// directory: a world-writable tmpfs such as /dev/shm lets anybody make a name first.
func volatileDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 {
		return fmt.Errorf("%s is not a directory of this user's alone", dir)
	}
	return nil
}
