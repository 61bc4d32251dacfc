package archive

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/errdefs"
)

// These helpers work on directory fds and single path components with *at system calls and
// O_NOFOLLOW, so that no symlink is ever followed: not in a parent (openDir walks one component
// at a time) and not in the final component (every call uses its no-follow form, or works on an
// O_PATH fd opened with O_NOFOLLOW). os.Root would do for the boundary, but it follows symlinks
// that stay inside the root, and the package refuses those too (see doc.go); it also lacks mknod
// and xattrs.

const (
	oPathNoFollow = unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC
	oDirPath      = unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
)

var errParentMissing = errors.New("parent directory does not exist")

// openTree opens the root of a tree. The root path itself is the caller's and may be a symlink.
func openTree(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

func dupFD(fd int) (int, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("dup: %w", err)
	}
	return nfd, nil
}

// openDir returns an O_PATH fd of the directory rel ("." for the root) under rootfd, walking one
// component at a time without following symlinks. With create, missing directories are made
// with mode 0755 (Docker's choice for parents that a tar does not list). A missing directory
// without create gives an error that matches errParentMissing. The caller closes the fd.
func openDir(rootfd int, rel string, create bool) (int, error) {
	fd, err := dupFD(rootfd)
	if err != nil || rel == "." || rel == "" {
		return fd, err
	}
	walked := ""
	for comp := range strings.SplitSeq(rel, "/") {
		walked = joinPath(walked, comp)
		nfd, err := openDirComponent(fd, comp, walked, create)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = nfd
	}
	return fd, nil
}

func openDirComponent(dirfd int, comp, walked string, create bool) (int, error) {
	for attempt := 0; ; attempt++ {
		fd, err := unix.Openat(dirfd, comp, oDirPath, 0)
		if err == nil {
			return fd, nil
		}
		var st unix.Stat_t
		serr := unix.Fstatat(dirfd, comp, &st, unix.AT_SYMLINK_NOFOLLOW)
		switch {
		case serr == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK:
			return -1, errdefs.Invalidf("parent %q is a symlink", walked)
		case serr == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR:
			return -1, errdefs.Invalidf("parent %q is not a directory", walked)
		case errors.Is(serr, unix.ENOENT) && !create:
			return -1, fmt.Errorf("%w: %q", errParentMissing, walked)
		case errors.Is(serr, unix.ENOENT) && attempt == 0:
			if err := unix.Mkdirat(dirfd, comp, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
				return -1, fmt.Errorf("create parent %q: %w", walked, err)
			}
		default:
			if serr == nil {
				serr = err
			}
			return -1, fmt.Errorf("open parent %q: %w", walked, serr)
		}
	}
}

func lstatAt(dirfd int, name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st, err
}

func fileType(st *unix.Stat_t) uint32 { return st.Mode & unix.S_IFMT }

func isWhiteoutDevice(st *unix.Stat_t) bool {
	return fileType(st) == unix.S_IFCHR && st.Rdev == 0
}

// procPath names the inode behind fd for the calls that have no *at or f* form usable with an
// O_PATH fd (chmod, xattrs). The magic link leads to the fd's inode and no further, so an
// O_PATH|O_NOFOLLOW fd of a symlink reaches the symlink itself.
func procPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// readDirNames lists the directory that the O_PATH fd dirfd refers to, sorted.
func readDirNames(dirfd int) ([]string, error) {
	fd, err := unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open directory: %w", err)
	}
	defer unix.Close(fd)
	// getdents on the bare descriptor: an *os.File would cost an fstat, three fcntls and an
	// epoll_ctl per directory (see package rawfd).
	var names []string
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read directory: %w", err)
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	sort.Strings(names)
	return names, nil
}

// removeAllAt removes name in dirfd and, if it is a directory, everything below it, never
// following a symlink. A missing name is not an error.
func removeAllAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) {
		return fmt.Errorf("remove %q: %w", name, err)
	}
	fd, err := unix.Openat(dirfd, name, oDirPath, 0)
	if err != nil {
		return fmt.Errorf("remove %q: %w", name, err)
	}
	names, err := readDirNames(fd)
	if err == nil {
		for _, n := range names {
			if err = removeAllAt(fd, n); err != nil {
				break
			}
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %q: %w", name, err)
	}
	return nil
}

// readXattrs returns the extended attributes of the inode behind the O_PATH fd.
func readXattrs(fd int) (map[string][]byte, error) {
	p := procPath(fd)
	buf := make([]byte, 1024)
	var n int
	for {
		var err error
		n, err = unix.Listxattr(p, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, len(buf)*4)
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list xattrs: %w", err)
		}
		break
	}
	if n == 0 {
		return nil, nil
	}
	xattrs := map[string][]byte{}
	for name := range strings.SplitSeq(strings.TrimSuffix(string(buf[:n]), "\x00"), "\x00") {
		v, err := getXattr(p, name)
		if errors.Is(err, unix.ENODATA) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("read xattr %s: %w", name, err)
		}
		xattrs[name] = v
	}
	return xattrs, nil
}

func getXattr(path, name string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Getxattr(path, name, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, len(buf)*4)
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}
