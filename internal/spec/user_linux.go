package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// openInRoot opens name for reading with every path component resolved inside root (openat2
// RESOLVE_IN_ROOT where the kernel has it), refusing anything but a regular file: it resolves
// to an O_PATH handle, looks at what that is, and only then opens that very inode for reading
// (a FIFO would block the open, a device's open could act on the host).
//
// The reopen goes through this process's /proc/self/fd, not pathrs.Reopen: pathrs-lite guards
// against a procfs that an attacker mounted over, and so makes a private procfs instance of
// its own (fsopen, fsconfig, fsmount: ~0.4 ms of a monitor's start here). The callers (the
// spec's user, `exec -u`) run in the host's mount namespace, where /proc is the host's; the
// reopened file is checked to be the inode looked at all the same. Without a /proc there
// (a minimal chroot), pathrs.Reopen does it.
//
// The lookup is one openat2 RESOLVE_IN_ROOT from a descriptor of root (pathLookupInRoot), not
// pathrs.OpenInRoot, which checks openat2's answer against a readlink through its private
// procfs (its setup and two readlinks: ~0.3 ms of every run's spec here, for two files): the
// kernel already resolves every symlink and ".." inside root, and fails a lookup that a rename
// raced with (EAGAIN, tried again). pathrs-lite remains where openat2 is missing or refused.
func openInRoot(root, name string) (*os.File, error) {
	h, err := pathLookupInRoot(root, name)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	fi, err := h.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkRegular(fi); err != nil {
		return nil, err
	}
	f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(h.Fd())), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC)
	}
	var want, got unix.Stat_t
	if unix.Fstat(int(h.Fd()), &want) != nil || unix.Fstat(int(f.Fd()), &got) != nil ||
		want.Dev != got.Dev || want.Ino != got.Ino || got.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, errors.New("the file changed while it was opened")
	}
	return f, nil
}

// pathLookupInRoot opens name, relative to root, as an O_PATH descriptor resolved inside root.
func pathLookupInRoot(root, name string) (*os.File, error) {
	dfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(dfd)
	rel := strings.TrimLeft(name, "/")
	if rel == "" {
		rel = "."
	}
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for range 64 {
		fd, err := unix.Openat2(dfd, rel, how)
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), filepath.Join(root, rel)), nil
		case errors.Is(err, unix.EAGAIN): // a rename raced with the lookup
			continue
		case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
			// No openat2, or a seccomp policy around hako that refuses it: pathrs-lite
			// resolves in user space then, as it would have.
			return pathrs.OpenInRoot(root, name)
		default:
			return nil, &os.PathError{Op: "openat2", Path: filepath.Join(root, rel), Err: err}
		}
	}
	return nil, &os.PathError{Op: "openat2", Path: filepath.Join(root, rel), Err: unix.EAGAIN}
}
