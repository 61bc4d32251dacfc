package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/hako-dev/hako/internal/rawfd"
	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/errdefs"
)

// WriteOverlayDiff writes the layer tar for an overlayfs upper dir: 0/0 char devices become
// ".wh.NAME", an opaque dir (trusted.overlay.opaque=y, also user.overlay.opaque) becomes the dir
// entry plus "DIR/.wh..wh..opq". Entries come in sorted, stable order.
func WriteOverlayDiff(ctx context.Context, w io.Writer, upper string, opts DiffOptions) error {
	fail := func(err error) error { return fmt.Errorf("write overlay diff of %s: %w", upper, err) }
	rootfd, err := openTree(upper)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(rootfd)
	tw := newLayerWriter(w, opts)
	err = walkTree(ctx, rootfd, ".", func(dirfd int, name string, n *node) (bool, error) {
		if n.isDir() && opts.Skip[n.rel] {
			return false, nil
		}
		if isWhiteoutDevice(&n.st) {
			dir, base := splitPath(n.rel)
			return false, tw.marker(joinPath(dir, whiteoutPrefix+base), n)
		}
		for _, x := range []string{"trusted.overlay.redirect", "trusted.overlay.metacopy", "user.overlay.redirect", "user.overlay.metacopy"} {
			if _, ok := n.xattrs[x]; ok {
				// The entry's meaning lives in a lower layer; a tar cannot say that.
				return false, errdefs.NotImplemented(fmt.Errorf("overlay %s is not supported (mount without redirect_dir and metacopy)", x))
			}
		}
		if err := tw.entry(dirfd, name, n); err != nil {
			return false, err
		}
		if n.opaque() {
			return true, tw.marker(joinPath(n.rel, whiteoutOpaque), n)
		}
		return true, nil
	})
	if err == nil {
		err = tw.close()
	}
	if err != nil {
		return fail(err)
	}
	return nil
}

// WriteDiff compares two plain trees (native snapshotter): lower is the parent's tree ("" for
// none), upper the child's. It writes added and changed entries, and ".wh." entries for
// deletions. An entry is unchanged if type, mode, owner, size, mtime, xattrs and link target
// are equal; like containerd's double walk, it does not compare file content.
func WriteDiff(ctx context.Context, w io.Writer, lower, upper string, opts DiffOptions) error {
	fail := func(err error) error { return fmt.Errorf("write diff of %s: %w", upper, err) }
	upfd, err := openTree(upper)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(upfd)
	lowfd := -1
	if lower != "" {
		if lowfd, err = openTree(lower); err != nil {
			return fail(err)
		}
		defer unix.Close(lowfd)
	}
	upRoot, err := statNode(upfd, ".", ".")
	if err != nil {
		return fail(err)
	}
	tw := newLayerWriter(w, opts)
	written := map[string]bool{".": true}
	_, err = diffTrees(ctx, lowfd, upfd, ".", upRoot, func(kind ChangeKind, rel string, dirfd int, name string, n *node) error {
		if n == nil {
			return nil // an unchanged parent: includeParents wrote it before its first change
		}
		dir, base := splitPath(rel)
		if err := tw.includeParents(upfd, dir, written); err != nil {
			return err
		}
		if kind == ChangeDelete {
			return tw.marker(joinPath(dir, whiteoutPrefix+base), n)
		}
		if n.isDir() {
			written[rel] = true
		}
		return tw.entry(dirfd, name, n)
	})
	if err == nil {
		err = tw.close()
	}
	if err != nil {
		return fail(err)
	}
	return nil
}

// includeParents writes the directories above a change that are not in the tar yet, unchanged
// as they are, like containerd: applied into an empty overlay upper dir, a layer without them
// would get directories made up with mode 0755 and owner root, and these would hide the real
// ones' metadata in the merged view.
func (lw *layerWriter) includeParents(rootfd int, dir string, written map[string]bool) error {
	if written[dir] {
		return nil
	}
	parent, base := splitPath(dir)
	if err := lw.includeParents(rootfd, parent, written); err != nil {
		return err
	}
	pfd, err := openDir(rootfd, parent, false)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	n, err := statNode(pfd, base, dir)
	if err != nil {
		return fmt.Errorf("parent %q: %w", dir, err)
	}
	written[dir] = true
	return lw.entry(pfd, base, n)
}

type inode struct{ dev, ino uint64 }

// layerWriter writes tree entries as layer tar entries the way Docker does: PAX format, mtimes
// in whole seconds, no atime, ctime or user names, so that equal trees give equal bytes.
type layerWriter struct {
	*tar.Writer
	out   *bufio.Writer
	buf   []byte // file contents pass through it
	epoch *time.Time
	links map[inode]string // first name written for each inode with more than one link
	owner func(uid, gid int) (int, int)
}

// ownerOf is the owner written for n (DiffOptions.Owner).
func (lw *layerWriter) ownerOf(n *node) (uid, gid int) {
	uid, gid = int(n.st.Uid), int(n.st.Gid)
	if lw.owner != nil {
		uid, gid = lw.owner(uid, gid)
	}
	return uid, gid
}

// layerBufSize batches the tar stream into large writes: unbuffered, every 512-byte header and
// every 32 KB of content was a write(2) of its own on the blob (about 3 per small file).
const layerBufSize = 1 << 20

func newLayerWriter(w io.Writer, opts DiffOptions) *layerWriter {
	out := bufio.NewWriterSize(w, layerBufSize)
	lw := &layerWriter{Writer: tar.NewWriter(out), out: out, buf: make([]byte, layerBufSize), links: map[inode]string{}, owner: opts.Owner}
	if opts.SourceDateEpoch != nil {
		e := opts.SourceDateEpoch.Truncate(time.Second)
		lw.epoch = &e
	}
	return lw
}

// close ends the tar and flushes it to the underlying writer.
func (lw *layerWriter) close() error {
	if err := lw.Writer.Close(); err != nil {
		return err
	}
	return lw.out.Flush()
}

func (lw *layerWriter) mtime(n *node) time.Time {
	t := time.Unix(n.st.Mtim.Sec, 0)
	if lw.epoch != nil && t.After(*lw.epoch) {
		t = *lw.epoch
	}
	return t
}

// marker writes an empty whiteout or opaque entry that takes owner, permissions and time from n.
func (lw *layerWriter) marker(name string, n *node) error {
	uid, gid := lw.ownerOf(n)
	return lw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Mode:     int64(n.st.Mode & 0o777),
		Uid:      uid,
		Gid:      gid,
		ModTime:  lw.mtime(n),
		Format:   tar.FormatPAX,
	})
}

// entry writes n, found as name in dirfd, with its content.
func (lw *layerWriter) entry(dirfd int, name string, n *node) error {
	uid, gid := lw.ownerOf(n)
	hdr := &tar.Header{
		Name:    n.rel,
		Mode:    int64(n.st.Mode & 0o7777),
		Uid:     uid,
		Gid:     gid,
		ModTime: lw.mtime(n),
		Format:  tar.FormatPAX,
	}
	switch fileType(&n.st) {
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, n.rel+"/"
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, n.st.Size
	case unix.S_IFLNK:
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, n.link
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if fileType(&n.st) == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(n.st.Rdev)), int64(unix.Minor(n.st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil // sockets belong to a running process, not to an image (Docker skips them too)
	}
	if x := layerXattrs(n.xattrs); len(x) > 0 {
		hdr.PAXRecords = map[string]string{}
		names := make([]string, 0, len(x))
		for k := range x {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			hdr.PAXRecords[paxXattrPrefix+k] = string(x[k])
		}
	}
	if !n.isDir() && n.st.Nlink > 1 {
		key := inode{n.st.Dev, n.st.Ino}
		if first, ok := lw.links[key]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			return lw.WriteHeader(hdr)
		}
		lw.links[key] = n.rel
	}
	if hdr.Typeflag != tar.TypeReg {
		return lw.WriteHeader(hdr)
	}
	return lw.file(dirfd, name, n, hdr)
}

func (lw *layerWriter) file(dirfd int, name string, n *node, hdr *tar.Header) error {
	// O_NONBLOCK: if a FIFO took the file's place since the stat, do not hang on it.
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	f := rawfd.FD(fd)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if st.Dev != n.st.Dev || st.Ino != n.st.Ino {
		return fmt.Errorf("file was replaced while the layer was written")
	}
	if err := lw.WriteHeader(hdr); err != nil {
		return err
	}
	copied, err := io.CopyBuffer(lw, io.LimitReader(f, hdr.Size), lw.buf)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if copied < hdr.Size {
		return fmt.Errorf("read: file shrank while the layer was written")
	}
	return nil
}
