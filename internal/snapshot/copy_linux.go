package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// copyTree copies the tree at src to dst, which must not exist, preserving what a container
// image can hold: file types (device nodes, fifos, sockets, symlinks), hard links within the
// tree, ownership, modes (setuid included), times, extended attributes (file capabilities,
// overlay whiteout markers, ACLs) and holes in sparse files. File data is reflinked where the
// filesystem can share extents, else copied in the kernel.
func copyTree(ctx context.Context, src, dst string) error {
	c := copier{ctx: ctx, links: map[inode]string{}}
	if err := c.copy(src, dst); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

type inode struct{ dev, ino uint64 }

type copier struct {
	ctx   context.Context
	links map[inode]string // first copy of each multiply-linked inode
	buf   []byte
}

func (c *copier) copy(src, dst string) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: src, Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
		entries, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := c.copy(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
				return err
			}
		}
		// Attributes last: a read-only directory must stay writable while it fills, and
		// creating its entries would move its mtime.
	case unix.S_IFREG:
		if st.Nlink > 1 {
			id := inode{uint64(st.Dev), st.Ino}
			if first, ok := c.links[id]; ok {
				return os.Link(first, dst)
			}
			c.links[id] = dst
		}
		if err := c.copyFile(src, dst, st.Size); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
		if err := unix.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			return &os.PathError{Op: "mknod", Path: dst, Err: err}
		}
	default:
		return fmt.Errorf("%s: unknown file type %#o", src, st.Mode&unix.S_IFMT)
	}
	return c.copyAttrs(src, dst, &st)
}

// copyAttrs gives dst src's owner, mode, extended attributes and times, in that order: chown
// clears setuid bits and file capabilities, so mode and xattrs come after it, and setting
// xattrs changes no times.
func (c *copier) copyAttrs(src, dst string, st *unix.Stat_t) error {
	isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return &os.PathError{Op: "lchown", Path: dst, Err: err}
	}
	if !isLink {
		if err := unix.Chmod(dst, st.Mode&07777); err != nil {
			return &os.PathError{Op: "chmod", Path: dst, Err: err}
		}
	}
	if err := c.copyXattrs(src, dst); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimensat", Path: dst, Err: err}
	}
	return nil
}

func (c *copier) copyXattrs(src, dst string) error {
	names, err := xattrGet(src, unix.Llistxattr)
	if errors.Is(err, unix.ENOTSUP) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "llistxattr", Path: src, Err: err}
	}
	for _, name := range splitNul(names) {
		value, err := xattrGet(src, func(path string, buf []byte) (int, error) {
			return unix.Lgetxattr(path, name, buf)
		})
		if errors.Is(err, unix.ENODATA) {
			continue // removed since it was listed
		}
		if err != nil {
			return &os.PathError{Op: "lgetxattr " + name, Path: src, Err: err}
		}
		if err := unix.Lsetxattr(dst, name, value, 0); err != nil {
			return &os.PathError{Op: "lsetxattr " + name, Path: dst, Err: err}
		}
	}
	return nil
}

// xattrGet calls get with a buffer large enough for its answer.
func xattrGet(path string, get func(string, []byte) (int, error)) ([]byte, error) {
	for {
		n, err := get(path, nil)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, nil
		}
		buf := make([]byte, n)
		n, err = get(path, buf)
		if errors.Is(err, unix.ERANGE) {
			continue // grew between the two calls
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

func splitNul(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		if i > 0 {
			out = append(out, string(b[:i]))
		}
		if i < len(b) {
			i++
		}
		b = b[i:]
	}
	return out
}

func (c *copier) copyFile(src, dst string, size int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = c.copyData(in, out, size)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}

// copyData fills out with in's content: a reflink if the filesystem shares extents (btrfs, xfs),
// else each data extent by copy_file_range (which may itself share or offload), skipping holes,
// else by read and write.
func (c *copier) copyData(in, out *os.File, size int64) error {
	if size == 0 {
		return nil
	}
	if err := unix.IoctlFileClone(int(out.Fd()), int(in.Fd())); err == nil {
		return nil
	}
	ifd, ofd := int(in.Fd()), int(out.Fd())
	for off := int64(0); off < size; {
		data, err := unix.Seek(ifd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole remains
		}
		if err != nil {
			return c.copyPlain(in, out)
		}
		hole, err := unix.Seek(ifd, data, unix.SEEK_HOLE)
		if err != nil {
			return c.copyPlain(in, out)
		}
		for roff, woff := data, data; roff < hole; {
			n, err := unix.CopyFileRange(ifd, &roff, ofd, &woff, int(min(hole-roff, 1<<30)), 0)
			if err != nil {
				if roff == data && off == 0 && (errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ENOSYS) ||
					errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP)) {
					return c.copyPlain(in, out)
				}
				return err
			}
			if n == 0 {
				break // the file shrank under us
			}
		}
		off = hole
	}
	return out.Truncate(size)
}

func (c *copier) copyPlain(in, out *os.File) error {
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := out.Truncate(0); err != nil {
		return err
	}
	if c.buf == nil {
		c.buf = make([]byte, 1<<20)
	}
	_, err := io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{in}, c.buf)
	return err
}
