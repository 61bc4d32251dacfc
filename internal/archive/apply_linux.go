package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/hako-dev/hako/internal/rawfd"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/errdefs"
)

// Apply extracts an UNCOMPRESSED layer tar stream into root (callers use DecompressStream
// first). It reads the stream to its end, so the DiffID covers all bytes, including the tar
// padding and trailer.
//
// An entry that would leave root, write through a symlink, or hide something outside the layer's
// reach is refused with an InvalidArgument error that names the layer and the entry; so is a
// corrupt or truncated tar. Entries applied before the failure stay: callers apply into a
// snapshot that they discard on error.
func Apply(ctx context.Context, root string, r io.Reader, opts ApplyOptions) (ApplyResult, error) {
	prefix := "apply layer"
	if opts.Name != "" {
		prefix += " " + opts.Name
	}
	rootfd, err := openTree(root)
	if err != nil {
		return ApplyResult{}, fmt.Errorf("%s: %w", prefix, err)
	}
	defer unix.Close(rootfd)

	hr := &hashingReader{ctx: ctx, r: r, digester: digest.Canonical.Digester()}
	hr.hash = hr.digester.Hash()
	a := &applier{
		rootfd:   rootfd,
		format:   opts.Whiteouts,
		src:      hr,
		added:    map[string]bool{},
		touched:  map[string]bool{},
		dirTimes: map[string][2]time.Time{},
	}
	tr := tar.NewReader(hr)
	last := ""
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			where := "read tar"
			if last != "" {
				where = fmt.Sprintf("read tar after entry %q", last)
			}
			return ApplyResult{}, fmt.Errorf("%s: %s: %w", prefix, where, a.streamErr(err))
		}
		if err := a.entry(hdr, tr); err != nil {
			return ApplyResult{}, fmt.Errorf("%s: entry %q: %w", prefix, hdr.Name, err)
		}
		last = hdr.Name
	}
	if err := a.setDirTimes(); err != nil {
		return ApplyResult{}, fmt.Errorf("%s: %w", prefix, err)
	}
	// Whatever follows the end-of-archive marker (GNU tar pads to 10 KiB) belongs to the blob too.
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return ApplyResult{}, fmt.Errorf("%s: read tar trailer: %w", prefix, a.streamErr(err))
	}
	return ApplyResult{DiffID: hr.digester.Digest(), Size: hr.n}, nil
}

// hashingReader digests and counts what the tar reader consumes, and remembers a failure of the
// source itself, so that a broken pipe or a cancelled context is not reported as a corrupt layer.
type hashingReader struct {
	ctx      context.Context
	r        io.Reader
	digester digest.Digester
	hash     hash.Hash
	n        int64
	err      error
}

func (h *hashingReader) Read(p []byte) (int, error) {
	if err := h.ctx.Err(); err != nil {
		h.err = err
		return 0, err
	}
	n, err := h.r.Read(p)
	h.hash.Write(p[:n])
	h.n += int64(n)
	if err != nil && err != io.EOF {
		h.err = err
	}
	return n, err
}

type applier struct {
	rootfd int
	format WhiteoutFormat
	src    *hashingReader
	// added holds every path this layer created; touched every directory above one. Whiteouts
	// and opaque markers only hide what lower layers made, and hardlinks only reach this layer.
	added, touched map[string]bool
	// Directory times are set last: creating their entries would change them again.
	dirTimes map[string][2]time.Time
	copyBuf  []byte
}

// buf is the buffer file contents are copied through (io.Copy's own is 32 KB).
func (a *applier) buf() []byte {
	if a.copyBuf == nil {
		a.copyBuf = make([]byte, 256<<10)
	}
	return a.copyBuf
}

// streamErr classifies a failure to read the tar: the source's own failure as it is, anything
// else (truncation, a bad header) as an invalid layer.
func (a *applier) streamErr(err error) error {
	if a.src.err != nil {
		return a.src.err
	}
	return errdefs.InvalidArgument(err)
}

func (a *applier) markAdded(rel string) {
	a.added[rel] = true
	for d, _ := splitPath(rel); d != "." && !a.touched[d]; d, _ = splitPath(d) {
		a.touched[d] = true
	}
}

func (a *applier) entry(hdr *tar.Header, tr io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return errdefs.Invalidf("PAX global header refused")
	}
	rel, err := cleanEntryName(hdr.Name)
	if err != nil {
		return err
	}
	dir, base := splitPath(rel)
	for comp := range strings.SplitSeq(dir, "/") {
		if strings.HasPrefix(comp, whiteoutMetaPrefix) {
			return nil // aufs bookkeeping such as .wh..wh.plnk/: means nothing here
		}
		if strings.HasPrefix(comp, whiteoutPrefix) {
			return errdefs.Invalidf("whiteout name %q used as a directory", comp)
		}
	}
	if base == whiteoutOpaque {
		return a.opaque(dir)
	}
	if strings.HasPrefix(base, whiteoutMetaPrefix) {
		return nil
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		return a.whiteout(dir, strings.TrimPrefix(base, whiteoutPrefix), hdr)
	}
	if err := checkHeader(hdr); err != nil {
		return err
	}
	if rel == "." {
		return a.rootEntry(hdr)
	}

	var link string // hardlink target, checked before anything is removed
	if hdr.Typeflag == tar.TypeLink {
		if link, err = a.checkLink(hdr.Linkname, rel); err != nil {
			return err
		}
	}
	pfd, err := openDir(a.rootfd, dir, true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)

	st, err := lstatAt(pfd, base)
	exists := err == nil
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("stat: %w", err)
	}
	wasWhiteout := exists && isWhiteoutDevice(&st)
	mergeDir := exists && hdr.Typeflag == tar.TypeDir && fileType(&st) == unix.S_IFDIR
	if exists && !mergeDir {
		// Docker's rule: a directory over a directory merges, anything else replaces.
		if err := removeAllAt(pfd, base); err != nil {
			return fmt.Errorf("replace existing: %w", err)
		}
	}

	switch hdr.Typeflag {
	case tar.TypeReg: // the reader turns the old TypeRegA into TypeReg
		if err := a.writeFile(pfd, base, tr); err != nil {
			return err
		}
	case tar.TypeDir:
		if !mergeDir {
			if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
				return fmt.Errorf("mkdir: %w", err)
			}
		}
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
	case tar.TypeLink:
		if err := a.link(link, pfd, base); err != nil {
			return err
		}
		// The inode got its owner, mode and times from the entry that made it.
		a.markAdded(rel)
		return nil
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(pfd, base, mode|0o600, int(dev)); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
	}
	a.markAdded(rel)

	fd, err := unix.Openat(pfd, base, oPathNoFollow, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer unix.Close(fd)
	if err := setMetadata(fd, hdr); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeDir {
		if wasWhiteout && a.format == OverlayWhiteouts {
			// An upper dir replacing a whiteout must hide the lower dir's entries, as overlayfs
			// itself does for rm -r followed by mkdir.
			if err := unix.Setxattr(procPath(fd), overlayOpaqueXattr, []byte("y"), 0); err != nil {
				return fmt.Errorf("set %s: %w", overlayOpaqueXattr, err)
			}
		}
		a.dirTimes[rel] = entryTimes(hdr)
		return nil
	}
	return setTimes(pfd, base, hdr)
}

// checkHeader refuses what Apply cannot represent before anything on disk changes.
func checkHeader(hdr *tar.Header) error {
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink,
		tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	case tar.TypeGNUSparse:
		return errdefs.NotImplemented(fmt.Errorf("sparse files are not supported"))
	default:
		return errdefs.Invalidf("unsupported entry type %q", hdr.Typeflag)
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return errdefs.NotImplemented(fmt.Errorf("sparse files are not supported"))
		}
	}
	// -1 would mean "leave unchanged" to chown; larger ids do not exist.
	if hdr.Uid < 0 || hdr.Uid >= math.MaxUint32 || hdr.Gid < 0 || hdr.Gid >= math.MaxUint32 {
		return errdefs.Invalidf("invalid owner %d:%d", hdr.Uid, hdr.Gid)
	}
	if hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock {
		if hdr.Devmajor < 0 || hdr.Devmajor > math.MaxUint32 || hdr.Devminor < 0 || hdr.Devminor > math.MaxUint32 {
			return errdefs.Invalidf("invalid device number %d:%d", hdr.Devmajor, hdr.Devminor)
		}
	}
	if hdr.Typeflag == tar.TypeSymlink && (hdr.Linkname == "" || strings.ContainsRune(hdr.Linkname, 0)) {
		return errdefs.Invalidf("invalid symlink target %q", hdr.Linkname)
	}
	return nil
}

// rootEntry applies a "./" entry's metadata to the root itself.
func (a *applier) rootEntry(hdr *tar.Header) error {
	if hdr.Typeflag != tar.TypeDir {
		return errdefs.Invalidf("the root can only be a directory")
	}
	if err := setMetadata(a.rootfd, hdr); err != nil {
		return err
	}
	a.dirTimes["."] = entryTimes(hdr)
	return nil
}

func (a *applier) writeFile(pfd int, base string, content io.Reader) error {
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	f := rawfd.FD(fd) // not an *os.File: see package rawfd
	_, err = io.CopyBuffer(f, content, a.buf())
	if cerr := f.Close(); err == nil && cerr != nil {
		return fmt.Errorf("write: %w", cerr)
	}
	if err != nil {
		if a.src.err != nil || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, tar.ErrHeader) {
			return fmt.Errorf("read content: %w", a.streamErr(err))
		}
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// checkLink resolves a hardlink's target: a path inside the root that this layer made.
func (a *applier) checkLink(linkname, rel string) (string, error) {
	target, err := cleanEntryName(linkname)
	if err != nil {
		return "", errdefs.Invalidf("hardlink target %q: %w", linkname, err)
	}
	if target == rel {
		return "", errdefs.Invalidf("hardlink to itself")
	}
	if !a.added[target] {
		return "", errdefs.Invalidf("hardlink target %q is not in this layer", linkname)
	}
	return target, nil
}

func (a *applier) link(target string, pfd int, base string) error {
	tdir, tbase := splitPath(target)
	tfd, err := openDir(a.rootfd, tdir, false)
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w", target, err)
	}
	defer unix.Close(tfd)
	st, err := lstatAt(tfd, tbase)
	if err != nil {
		return errdefs.Invalidf("hardlink target %q: %w", target, err)
	}
	if fileType(&st) == unix.S_IFDIR {
		return errdefs.Invalidf("hardlink target %q is a directory", target)
	}
	// Flags 0: a symlink target is linked itself, never followed.
	if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
		return fmt.Errorf("hardlink to %q: %w", target, err)
	}
	return nil
}

// whiteout hides name in dir from the lower layers.
func (a *applier) whiteout(dir, name string, hdr *tar.Header) error {
	target := joinPath(dir, name)
	if name == "" || name == "." || name == ".." {
		return errdefs.Invalidf("whiteout of %q refused", target)
	}
	switch a.format {
	case OverlayWhiteouts:
		pfd, err := openDir(a.rootfd, dir, true)
		if err != nil {
			return err
		}
		defer unix.Close(pfd)
		st, err := lstatAt(pfd, name)
		if err == nil {
			if a.added[target] || a.touched[target] || isWhiteoutDevice(&st) {
				return nil // a whiteout does not hide its own layer's entries
			}
			if err := removeAllAt(pfd, name); err != nil {
				return err
			}
		}
		if err := unix.Mknodat(pfd, name, unix.S_IFCHR, 0); err != nil {
			return fmt.Errorf("make whiteout %q: %w", target, err)
		}
		// The marker's time, so that the diff of this upper dir gives the same layer back.
		if err := unix.UtimesNanoAt(pfd, name, timespecs(entryTimes(hdr)), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("set the time of whiteout %q: %w", target, err)
		}
		return nil
	default:
		pfd, err := openDir(a.rootfd, dir, false)
		if errors.Is(err, errParentMissing) {
			return nil // nothing below to hide
		}
		if err != nil {
			return err
		}
		defer unix.Close(pfd)
		return a.removeLower(pfd, name, target)
	}
}

// opaque hides everything lower layers put in dir.
func (a *applier) opaque(dir string) error {
	fd, err := openDir(a.rootfd, dir, true)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if a.format == OverlayWhiteouts {
		if err := unix.Setxattr(procPath(fd), overlayOpaqueXattr, []byte("y"), 0); err != nil {
			return fmt.Errorf("set %s: %w", overlayOpaqueXattr, err)
		}
		return nil
	}
	names, err := readDirNames(fd)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := a.removeLower(fd, n, joinPath(dir, n)); err != nil {
			return err
		}
	}
	return nil
}

// removeLower removes name (rel from the root) with everything below it, except what this layer
// added there.
func (a *applier) removeLower(pfd int, name, rel string) error {
	if !a.added[rel] && !a.touched[rel] {
		return removeAllAt(pfd, name)
	}
	st, err := lstatAt(pfd, name)
	if err != nil || fileType(&st) != unix.S_IFDIR {
		return nil
	}
	fd, err := unix.Openat(pfd, name, oDirPath, 0)
	if err != nil {
		return fmt.Errorf("open %q: %w", rel, err)
	}
	defer unix.Close(fd)
	names, err := readDirNames(fd)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := a.removeLower(fd, n, joinPath(rel, n)); err != nil {
			return err
		}
	}
	return nil
}

// setMetadata gives the inode behind the O_PATH fd the entry's owner, mode and xattrs, in that
// order: chown clears setuid bits and security.capability.
func setMetadata(fd int, hdr *tar.Header) error {
	if err := unix.Fchownat(fd, "", hdr.Uid, hdr.Gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %d:%d: %w", hdr.Uid, hdr.Gid, err)
	}
	if hdr.Typeflag != tar.TypeSymlink {
		if err := unix.Chmod(procPath(fd), uint32(hdr.Mode&0o7777)); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	var names []string
	for k := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, paxXattrPrefix); ok && !isOverlayXattr(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		err := unix.Setxattr(procPath(fd), name, []byte(hdr.PAXRecords[paxXattrPrefix+name]), 0)
		if err != nil && strings.HasPrefix(name, "security.") && kernelRefused(err) {
			continue // e.g. an SELinux label on a host without SELinux
		}
		if err != nil {
			return fmt.Errorf("set xattr %s: %w", name, err)
		}
	}
	return nil
}

func kernelRefused(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) ||
		errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EINVAL)
}

func entryTimes(hdr *tar.Header) [2]time.Time {
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	return [2]time.Time{atime, hdr.ModTime}
}

// timespecs converts without UnixNano, which overflows for the far-off times a tar can hold.
func timespecs(t [2]time.Time) []unix.Timespec {
	return []unix.Timespec{
		{Sec: t[0].Unix(), Nsec: int64(t[0].Nanosecond())},
		{Sec: t[1].Unix(), Nsec: int64(t[1].Nanosecond())},
	}
}

func setTimes(pfd int, base string, hdr *tar.Header) error {
	if err := unix.UtimesNanoAt(pfd, base, timespecs(entryTimes(hdr)), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// setDirTimes sets directory times once their content is in place. A directory that a later
// entry replaced or removed is skipped.
func (a *applier) setDirTimes() error {
	for rel, t := range a.dirTimes {
		dir, base := splitPath(rel)
		pfd, err := openDir(a.rootfd, dir, false)
		if err != nil {
			continue
		}
		err = unix.UtimesNanoAt(pfd, base, timespecs(t), unix.AT_SYMLINK_NOFOLLOW)
		unix.Close(pfd)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("set times of %q: %w", rel, err)
		}
	}
	return nil
}
