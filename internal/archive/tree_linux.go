package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"

	"golang.org/x/sys/unix"
)

// node is one entry of a tree as the writers and Changes see it.
type node struct {
	rel    string // relative to the tree's root, "a/b"
	st     unix.Stat_t
	xattrs map[string][]byte
	link   string // symlink target
}

func (n *node) isDir() bool { return fileType(&n.st) == unix.S_IFDIR }

func (n *node) opaque() bool {
	return n.isDir() && (string(n.xattrs[overlayOpaqueXattr]) == "y" || string(n.xattrs[overlayUserOpaqueXattr]) == "y")
}

// statNode reads name in dirfd without following it: one O_PATH fd serves stat, xattrs and
// readlink, so all three describe the same inode.
func statNode(dirfd int, name, rel string) (*node, error) {
	fd, err := unix.Openat(dirfd, name, oPathNoFollow, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	n := &node{rel: rel}
	if err := unix.Fstat(fd, &n.st); err != nil {
		return nil, fmt.Errorf("stat: %w", err)
	}
	if n.xattrs, err = readXattrs(fd); err != nil {
		return nil, err
	}
	if fileType(&n.st) == unix.S_IFLNK {
		buf := make([]byte, unix.PathMax)
		k, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return nil, fmt.Errorf("readlink: %w", err)
		}
		n.link = string(buf[:k])
	}
	return n, nil
}

// layerXattrs are the xattrs that travel in a layer: not overlayfs's own, and not the host's
// SELinux label.
func layerXattrs(x map[string][]byte) map[string][]byte {
	out := maps.Clone(x)
	maps.DeleteFunc(out, func(k string, _ []byte) bool {
		return isOverlayXattr(k) || k == "security.selinux"
	})
	return out
}

// sameNode is the "unchanged" test of containerd's double walk: equal metadata means equal,
// without reading file content.
func sameNode(a, b *node) bool {
	if a.st.Mode != b.st.Mode || a.st.Uid != b.st.Uid || a.st.Gid != b.st.Gid ||
		a.st.Mtim != b.st.Mtim {
		return false
	}
	switch fileType(&a.st) {
	case unix.S_IFREG:
		if a.st.Size != b.st.Size {
			return false
		}
	case unix.S_IFLNK:
		if a.link != b.link {
			return false
		}
	case unix.S_IFCHR, unix.S_IFBLK:
		if a.st.Rdev != b.st.Rdev {
			return false
		}
	}
	return maps.EqualFunc(layerXattrs(a.xattrs), layerXattrs(b.xattrs), bytes.Equal)
}

// walkFunc sees each entry below the root in sorted order, parents first; it returns whether
// to descend into a directory.
type walkFunc func(dirfd int, name string, n *node) (descend bool, err error)

func walkTree(ctx context.Context, dirfd int, rel string, fn walkFunc) error {
	names, err := readDirNames(dirfd)
	if err != nil {
		return fmt.Errorf("entry %q: %w", rel, err)
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		crel := joinPath(rel, name)
		n, err := statNode(dirfd, name, crel)
		if errors.Is(err, unix.ENOENT) {
			continue // removed since the listing
		}
		if err != nil {
			return fmt.Errorf("entry %q: %w", crel, err)
		}
		descend, err := fn(dirfd, name, n)
		if err != nil {
			return fmt.Errorf("entry %q: %w", crel, err)
		}
		if !descend || !n.isDir() {
			continue
		}
		cfd, err := unix.Openat(dirfd, name, oDirPath, 0)
		if err != nil {
			return fmt.Errorf("entry %q: %w", crel, err)
		}
		err = walkTree(ctx, cfd, crel, fn)
		unix.Close(cfd)
		if err != nil {
			return err
		}
	}
	return nil
}

// diffFunc sees each difference between two trees, in sorted order, parents first. n is the
// upper entry; for a deletion it is the upper parent directory, and it is nil for a directory
// reported only because something below it changed (after that something).
type diffFunc func(kind ChangeKind, rel string, updirfd int, name string, n *node) error

// diffTrees compares the directory lowfd (-1: absent) with updirfd, both at rel. It reports
// whether anything below differs.
func diffTrees(ctx context.Context, lowfd, upfd int, rel string, upDir *node, fn diffFunc) (bool, error) {
	upNames, err := readDirNames(upfd)
	if err != nil {
		return false, fmt.Errorf("entry %q: %w", rel, err)
	}
	var lowNames []string
	if lowfd >= 0 {
		if lowNames, err = readDirNames(lowfd); err != nil {
			return false, fmt.Errorf("lower entry %q: %w", rel, err)
		}
	}
	changed := false
	i, j := 0, 0
	for i < len(upNames) || j < len(lowNames) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		var name string
		inUp, inLow := false, false
		switch {
		case j >= len(lowNames) || (i < len(upNames) && upNames[i] < lowNames[j]):
			name, inUp = upNames[i], true
			i++
		case i >= len(upNames) || lowNames[j] < upNames[i]:
			name, inLow = lowNames[j], true
			j++
		default:
			name, inUp, inLow = upNames[i], true, true
			i++
			j++
		}
		crel := joinPath(rel, name)
		if !inUp {
			changed = true
			if err := fn(ChangeDelete, crel, upfd, name, upDir); err != nil {
				return false, fmt.Errorf("entry %q: %w", crel, err)
			}
			continue
		}
		un, err := statNode(upfd, name, crel)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("entry %q: %w", crel, err)
		}
		var ln *node
		if inLow {
			ln, err = statNode(lowfd, name, crel)
			if err != nil && !errors.Is(err, unix.ENOENT) {
				return false, fmt.Errorf("lower entry %q: %w", crel, err)
			}
		}
		switch {
		case ln == nil:
			err = fn(ChangeAdd, crel, upfd, name, un)
		case !sameNode(ln, un):
			err = fn(ChangeModify, crel, upfd, name, un)
		}
		if err != nil {
			return false, fmt.Errorf("entry %q: %w", crel, err)
		}
		self := ln == nil || !sameNode(ln, un)
		changed = changed || self
		if !un.isDir() {
			continue
		}
		below, err := diffDirs(ctx, lowfd, upfd, name, crel, ln, un, fn)
		if err != nil {
			return false, err
		}
		if below && !self {
			// docker diff lists the directories above a change as changed themselves.
			if err := fn(ChangeModify, crel, upfd, name, nil); err != nil {
				return false, fmt.Errorf("entry %q: %w", crel, err)
			}
		}
		changed = changed || below
	}
	return changed, nil
}

func diffDirs(ctx context.Context, lowfd, upfd int, name, rel string, ln, un *node, fn diffFunc) (bool, error) {
	cup, err := unix.Openat(upfd, name, oDirPath, 0)
	if err != nil {
		return false, fmt.Errorf("entry %q: %w", rel, err)
	}
	defer unix.Close(cup)
	clow := -1
	if ln != nil && ln.isDir() {
		if clow, err = unix.Openat(lowfd, name, oDirPath, 0); err != nil {
			return false, fmt.Errorf("lower entry %q: %w", rel, err)
		}
		defer unix.Close(clow)
	}
	return diffTrees(ctx, clow, cup, rel, un, fn)
}
