// Package cp copies files in and out of a directory tree that another party controls (a
// container's root filesystem), for `hako cp`. It is pure Go and runs nothing from the tree: no
// helper binary, no chroot, no library of the container's (CVE-2019-14271).
//
// A path given by the user is resolved inside the root as if the root were "/" (openat2
// RESOLVE_IN_ROOT, or its emulation in filepath-securejoin): a symlink to /tmp lands in the
// root's /tmp and "../" stops at the root. From the resolved directory on, every component is
// opened relative to its parent's descriptor with O_NOFOLLOW, and what was opened is checked with
// fstat, so a path swapped for a symlink while the copy runs can never redirect it out of the
// root (CVE-2018-15664). Both sides of a copy go through a Root; the host's is "/".
package cp

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/errdefs"
)

// Root is a directory whose paths are resolved inside it.
type Root struct {
	dir        string
	f          *os.File // O_PATH
	checkWrite func(dir *os.File) error
	// ownerOut and ownerIn translate owners between the disk and the tar (MapOwners).
	ownerOut, ownerIn func(uid, gid int) (int, int)
}

// OpenRoot opens dir as a root.
func OpenRoot(dir string) (*Root, error) {
	f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &Root{dir: dir, f: f}, nil
}

// Close releases the root.
func (r *Root) Close() error { return r.f.Close() }

// CheckWrites makes ExtractTar ask check, with an O_PATH handle of the resolved directory it is
// about to write into, before it writes anything: a caller refuses a read-only mount there with
// its own message instead of failing halfway with EROFS.
func (r *Root) CheckWrites(check func(dir *os.File) error) { r.checkWrite = check }

// MapOwners translates owners for a root whose files show other IDs than their users see (a
// container in a user namespace: host IDs on disk, the container's in its view). WriteTar
// writes out(uid, gid) of each file; ExtractTar gives each entry in(uid, gid) of the archive's
// owner with KeepOwner, and in(0, 0), the owner of the root user's files, without.
func (r *Root) MapOwners(out, in func(uid, gid int) (int, int)) { r.ownerOut, r.ownerIn = out, in }

// MountPoint opens p inside the root as the target of a mount, creating it when it is missing
// (as runc does at start): a directory with its parents, or with dir false an empty file in a
// directory made with its parents. An existing p is opened as it is, a final symlink followed
// inside the root. The caller closes the O_PATH handle.
func (r *Root) MountPoint(p string, dir bool) (*os.File, error) {
	h, err := pathrs.OpenatInRoot(r.f, p)
	if !errors.Is(err, fs.ErrNotExist) {
		return h, err
	}
	if dir {
		return pathrs.MkdirAllHandle(r.f, p, 0o755)
	}
	d, base := split(p)
	parent, err := pathrs.MkdirAllHandle(r.f, d, 0o755)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	return mountFile(parent, base, p)
}

// mountFile creates the empty file base in the directory parent, unless something is there by
// then (a running container may have made it since it was found missing), and returns an O_PATH
// handle of what is there. Nothing is ever opened for reading or writing: a FIFO put there would
// block an open that is not O_PATH for good. p names it in errors.
func mountFile(parent *os.File, base, p string) (*os.File, error) {
	fd, err := unix.Openat(int(parent.Fd()), base, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	switch {
	case err == nil:
		unix.Close(fd)
	case !errors.Is(err, unix.EEXIST):
		return nil, &fs.PathError{Op: "create", Path: p, Err: err}
	}
	fd, err = unix.Openat(int(parent.Fd()), base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), p), nil
}

// Info describes a resolved path.
type Info struct {
	Exists bool
	IsDir  bool
	Mode   fs.FileMode
}

// split cleans p as an absolute path inside the root and returns its directory and base ("" for
// the root itself).
func split(p string) (dir, base string) {
	p = path.Clean("/" + p)
	if p == "/" {
		return "/", ""
	}
	return path.Dir(p), path.Base(p)
}

// entry is a path resolved to its parent directory's descriptor and its last component; base ""
// means the descriptor is the entry itself.
type entry struct {
	parent *os.File
	base   string
}

func (e entry) close() { e.parent.Close() }

// resolve resolves p inside the root. Its directory part always follows symlinks inside the
// root; the last component is followed only with follow.
func (r *Root) resolve(p string, follow bool) (entry, error) {
	dir, base := split(p)
	if follow && base != "" {
		h, err := pathrs.OpenatInRoot(r.f, p)
		if err != nil {
			return entry{}, err
		}
		return entry{parent: h}, nil
	}
	h, err := pathrs.OpenatInRoot(r.f, dir)
	if err != nil {
		return entry{}, err
	}
	return entry{parent: h, base: base}, nil
}

func (e entry) lstat() (unix.Stat_t, error) {
	var st unix.Stat_t
	if e.base == "" {
		return st, unix.Fstatat(int(e.parent.Fd()), "", &st, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
	}
	return st, unix.Fstatat(int(e.parent.Fd()), e.base, &st, unix.AT_SYMLINK_NOFOLLOW)
}

// Stat describes p inside the root, following a final symlink with follow. A missing entry
// (or a dangling symlink followed) is Info{} with a nil error; a missing parent directory is an
// error.
func (r *Root) Stat(p string, follow bool) (Info, error) {
	e, err := r.resolve(p, false)
	if err != nil {
		return Info{}, err
	}
	defer e.close()
	st, err := e.lstat()
	if err == nil && follow && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		e2, ferr := r.resolve(p, true)
		if ferr != nil {
			if errors.Is(ferr, fs.ErrNotExist) {
				return Info{}, nil
			}
			return Info{}, ferr
		}
		defer e2.close()
		st, err = e2.lstat()
	}
	if errors.Is(err, unix.ENOENT) {
		return Info{}, nil
	}
	if err != nil {
		return Info{}, err
	}
	return Info{Exists: true, IsDir: st.Mode&unix.S_IFMT == unix.S_IFDIR, Mode: fs.FileMode(st.Mode & 0o7777)}, nil
}

// WriteTar writes the tree at src (resolved inside the root; a final symlink is followed with
// follow, as cp -L) as a tar whose entries are named name, name/x, name/x/y, ...
func (r *Root) WriteTar(ctx context.Context, w io.Writer, src string, follow bool, name string) error {
	e, err := r.resolve(src, follow)
	if err != nil {
		return err
	}
	defer e.close()
	tw := &tarWriter{ctx: ctx, tw: tar.NewWriter(w), links: map[[2]uint64]string{}, owner: r.ownerOut}
	if err := tw.walk(int(e.parent.Fd()), e.base, name); err != nil {
		return err
	}
	return tw.tw.Close()
}

type tarWriter struct {
	ctx   context.Context
	tw    *tar.Writer
	links map[[2]uint64]string
	buf   []byte
	owner func(uid, gid int) (int, int) // Root.MapOwners' out
}

// openAt opens name in dirfd without following it; name "" reopens dirfd's own object.
func openAt(dirfd int, name string, flags int) (int, error) {
	if name == "" {
		return unix.Open("/proc/self/fd/"+strconv.Itoa(dirfd), flags|unix.O_CLOEXEC, 0)
	}
	return unix.Openat(dirfd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

func (t *tarWriter) walk(dirfd int, name, tarName string) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	var st unix.Stat_t
	var err error
	if name == "" {
		err = unix.Fstatat(dirfd, "", &st, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
	} else {
		err = unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return &fs.PathError{Op: "lstat", Path: tarName, Err: err}
	}
	hdr := &tar.Header{
		Name: tarName, Mode: int64(st.Mode & 0o7777), Uid: int(st.Uid), Gid: int(st.Gid),
		ModTime: time.Unix(st.Mtim.Unix()).UTC(), Format: tar.FormatPAX,
	}
	if t.owner != nil {
		hdr.Uid, hdr.Gid = t.owner(hdr.Uid, hdr.Gid)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		fd, err := openAt(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY)
		if err != nil {
			return &fs.PathError{Op: "open", Path: tarName, Err: err}
		}
		defer unix.Close(fd)
		if err := sameFile(fd, &st); err != nil {
			return &fs.PathError{Op: "open", Path: tarName, Err: err}
		}
		hdr.Typeflag, hdr.Name = tar.TypeDir, tarName+"/"
		if err := t.tw.WriteHeader(hdr); err != nil {
			return err
		}
		names, err := readDirNames(fd)
		if err != nil {
			return &fs.PathError{Op: "readdir", Path: tarName, Err: err}
		}
		for _, n := range names {
			if err := t.walk(fd, n, path.Join(tarName, n)); err != nil {
				return err
			}
		}
		return nil
	case unix.S_IFREG:
		if st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := t.links[key]; ok {
				hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
				return t.tw.WriteHeader(hdr)
			}
			t.links[key] = tarName
		}
		fd, err := openAt(dirfd, name, unix.O_RDONLY|unix.O_NONBLOCK)
		if err != nil {
			return &fs.PathError{Op: "open", Path: tarName, Err: err}
		}
		f := os.NewFile(uintptr(fd), tarName)
		defer f.Close()
		if err := sameFile(fd, &st); err != nil {
			return &fs.PathError{Op: "open", Path: tarName, Err: err}
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
		if err := t.tw.WriteHeader(hdr); err != nil {
			return err
		}
		// A file that shrinks under us ends the copy with an error; one that grows is cut at
		// the size the header promised.
		if _, err := io.CopyN(t.tw, f, st.Size); err != nil {
			return fmt.Errorf("copy %s: %w", tarName, err)
		}
		return nil
	case unix.S_IFLNK:
		if t.buf == nil {
			t.buf = make([]byte, unix.PathMax)
		}
		var n int
		if name == "" {
			n, err = unix.Readlinkat(dirfd, "", t.buf)
		} else {
			n, err = unix.Readlinkat(dirfd, name, t.buf)
		}
		if err != nil {
			return &fs.PathError{Op: "readlink", Path: tarName, Err: err}
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, string(t.buf[:n])
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil // sockets have no tar form
	}
	return t.tw.WriteHeader(hdr)
}

// sameFile checks that fd is the object that was stat'ed: a swap between the lstat and the open
// is an error, never a copy of something else.
func sameFile(fd int, want *unix.Stat_t) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Dev != want.Dev || st.Ino != want.Ino {
		return errors.New("changed while being copied")
	}
	return nil
}

func readDirNames(fd int) ([]string, error) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), "dir")
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

// ExtractOptions control ExtractTar.
type ExtractOptions struct {
	// KeepOwner keeps the uid and gid of the archive (cp -a); otherwise what is written belongs
	// to the user hako runs as.
	KeepOwner bool
	// Name is how errors name the archive.
	Name string
}

// ExtractTar unpacks a tar into the directory dir, resolved inside the root (symlinks followed
// inside it). Entry names are relative to dir; none may be absolute or climb with "..", and no
// entry is written through a symlink: each path component is opened with O_NOFOLLOW from dir.
func (r *Root) ExtractTar(ctx context.Context, rd io.Reader, dir string, opts ExtractOptions) error {
	h, err := pathrs.OpenatInRoot(r.f, dir)
	if err != nil {
		return err
	}
	defer h.Close()
	if r.checkWrite != nil {
		if err := r.checkWrite(h); err != nil {
			return err
		}
	}
	dfd, err := openAt(int(h.Fd()), "", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) {
			return errdefs.Invalidf("extract into %s: not a directory", dir)
		}
		return fmt.Errorf("extract into %s: %w", dir, err)
	}
	defer unix.Close(dfd)
	x := &extractor{root: dfd, opts: opts, ownerIn: r.ownerIn}
	tr := tar.NewReader(rd)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", opts.Name, err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return fmt.Errorf("extract %s: entry %q: %w", opts.Name, hdr.Name, err)
		}
	}
	return x.dirTimes()
}

type extractor struct {
	root    int
	opts    ExtractOptions
	dirs    []*tar.Header
	ownerIn func(uid, gid int) (int, int) // Root.MapOwners' in
}

// components checks an entry name and splits it.
func components(name string) ([]string, error) {
	name = strings.TrimSuffix(name, "/")
	if name == "" || name == "." || strings.HasPrefix(name, "./") && strings.Trim(name, "./") == "" {
		return nil, nil
	}
	if path.IsAbs(name) {
		return nil, errors.New("absolute path")
	}
	var out []string
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			return nil, errors.New("path climbs out with \"..\"")
		}
		out = append(out, c)
	}
	return out, nil
}

// parentFD opens the directory of comps[:len-1] under the extraction root, creating missing
// directories (0755) and following no symlink. The caller closes the result.
func (x *extractor) parentFD(comps []string) (int, error) {
	fd, err := unix.Dup(x.root)
	if err != nil {
		return -1, err
	}
	for _, c := range comps[:len(comps)-1] {
		next, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			if err = unix.Mkdirat(fd, c, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		unix.Close(fd)
		if err != nil {
			if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
				return -1, fmt.Errorf("%q is not a directory (a symlink or file is in the way)", c)
			}
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	comps, err := components(hdr.Name)
	if err != nil {
		return err
	}
	if len(comps) == 0 {
		return nil // the destination directory itself keeps its own metadata
	}
	pfd, err := x.parentFD(comps)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	base := comps[len(comps)-1]
	var st unix.Stat_t
	exists := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
	isDir := exists && st.Mode&unix.S_IFMT == unix.S_IFDIR
	if hdr.Typeflag != tar.TypeDir && exists {
		if isDir {
			return errors.New("cannot overwrite a directory with a non-directory")
		}
		if err := unix.Unlinkat(pfd, base, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
	mode := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeDir:
		if exists && !isDir {
			return errors.New("cannot overwrite a non-directory with a directory")
		}
		if !exists {
			if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
				return err
			}
		}
		fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := x.owner(fd, "", hdr); err != nil {
			return err
		}
		if err := unix.Fchmod(fd, mode); err != nil {
			return err
		}
		x.dirs = append(x.dirs, hdr)
		return nil
	case tar.TypeReg:
		fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), base)
		defer f.Close()
		if _, err := io.Copy(f, r); err != nil {
			return err
		}
		if err := x.owner(fd, "", hdr); err != nil {
			return err
		}
		// After the chown, which clears set-id bits.
		if err := unix.Fchmod(fd, mode); err != nil {
			return err
		}
		ts := timespec(hdr.ModTime)
		return unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return err
		}
	case tar.TypeLink:
		lc, err := components(hdr.Linkname)
		if err != nil || len(lc) == 0 {
			return fmt.Errorf("bad hard link target %q", hdr.Linkname)
		}
		lfd, err := x.parentFD(lc)
		if err != nil {
			return err
		}
		defer unix.Close(lfd)
		// linkat without AT_SYMLINK_FOLLOW links the entry itself, never what it points to.
		return unix.Linkat(lfd, lc[len(lc)-1], pfd, base, 0)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := uint32(unix.S_IFIFO)
		if hdr.Typeflag == tar.TypeChar {
			kind = unix.S_IFCHR
		} else if hdr.Typeflag == tar.TypeBlock {
			kind = unix.S_IFBLK
		}
		if err := unix.Mknodat(pfd, base, kind|mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))); err != nil {
			return err
		}
	default:
		return nil // PAX globals and the like carry nothing to write
	}
	if err := x.owner(pfd, base, hdr); err != nil {
		return err
	}
	return unix.UtimesNanoAt(pfd, base, timespec(hdr.ModTime), unix.AT_SYMLINK_NOFOLLOW)
}

// owner sets the archive's owner with KeepOwner, translated by Root.MapOwners' in; without
// KeepOwner, in(0, 0) when the root maps owners, else nothing (the writer's own IDs). base ""
// means fd itself.
func (x *extractor) owner(fd int, base string, hdr *tar.Header) error {
	uid, gid := hdr.Uid, hdr.Gid
	switch {
	case x.opts.KeepOwner && x.ownerIn != nil:
		uid, gid = x.ownerIn(uid, gid)
	case x.opts.KeepOwner:
	case x.ownerIn != nil:
		uid, gid = x.ownerIn(0, 0)
	default:
		return nil
	}
	if base == "" {
		return unix.Fchown(fd, uid, gid)
	}
	return unix.Fchownat(fd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
}

// dirTimes sets directory mtimes last, after their entries were written, walking each path
// again without following symlinks.
func (x *extractor) dirTimes() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		hdr := x.dirs[i]
		comps, _ := components(hdr.Name)
		pfd, err := x.parentFD(comps)
		if err != nil {
			return err
		}
		err = unix.UtimesNanoAt(pfd, comps[len(comps)-1], timespec(hdr.ModTime), unix.AT_SYMLINK_NOFOLLOW)
		unix.Close(pfd)
		if err != nil {
			return err
		}
	}
	return nil
}

func timespec(t time.Time) []unix.Timespec {
	ts := unix.NsecToTimespec(t.UnixNano())
	return []unix.Timespec{ts, ts}
}
