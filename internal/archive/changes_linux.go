package archive

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// OverlayChanges lists what an overlay upper dir changed relative to its lower dirs (lowers: top
// first), like `docker diff`: A for new paths, C for paths that exist below (and so for the
// parent directories of changes, which overlayfs copies up), D for whiteouts and for what an
// opaque directory hides. Sorted by path.
func OverlayChanges(upper string, lowers []string) ([]Change, error) {
	fail := func(err error) ([]Change, error) { return nil, fmt.Errorf("list changes of %s: %w", upper, err) }
	upfd, err := openTree(upper)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(upfd)
	var lowfds []int
	defer func() {
		for _, fd := range lowfds {
			unix.Close(fd)
		}
	}()
	for _, l := range lowers {
		fd, err := openTree(l)
		if err != nil {
			return fail(err)
		}
		lowfds = append(lowfds, fd)
	}

	var changes []Change
	err = walkTree(context.Background(), upfd, ".", func(dirfd int, name string, n *node) (bool, error) {
		if isWhiteoutDevice(&n.st) {
			changes = append(changes, Change{ChangeDelete, "/" + n.rel})
			return false, nil
		}
		below, err := lowerExists(lowfds, n.rel)
		if err != nil {
			return false, err
		}
		if !below {
			changes = append(changes, Change{ChangeAdd, "/" + n.rel})
			return true, nil
		}
		changes = append(changes, Change{ChangeModify, "/" + n.rel})
		if n.opaque() {
			hidden, err := hiddenByOpaque(lowfds, dirfd, name, n.rel)
			if err != nil {
				return false, err
			}
			changes = append(changes, hidden...)
		}
		return true, nil
	})
	if err != nil {
		return fail(err)
	}
	sortChanges(changes)
	return changes, nil
}

// Changes lists what upper changed relative to lower ("" for none), both plain trees, like
// `docker diff`: a new directory's content is listed whole, a deleted one only by its own path.
func Changes(lower, upper string) ([]Change, error) {
	fail := func(err error) ([]Change, error) { return nil, fmt.Errorf("list changes of %s: %w", upper, err) }
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
	var changes []Change
	_, err = diffTrees(context.Background(), lowfd, upfd, ".", nil, func(kind ChangeKind, rel string, _ int, _ string, _ *node) error {
		changes = append(changes, Change{kind, "/" + rel})
		return nil
	})
	if err != nil {
		return fail(err)
	}
	sortChanges(changes)
	return changes, nil
}

func sortChanges(c []Change) {
	slices.SortFunc(c, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
}

// lowerExists reports whether rel is visible in the overlay of lowers (top first), each an
// overlay layer dir with its own whiteouts and opaque dirs.
func lowerExists(lowers []int, rel string) (bool, error) {
	comps := strings.Split(rel, "/")
	for _, root := range lowers {
		found, stop, err := lookupLayer(root, comps)
		if err != nil || found || stop {
			return found, err
		}
	}
	return false, nil
}

// lookupLayer looks comps up in one layer dir. stop says that the layer hides rel from the
// layers below it: a whiteout, a non-directory, or an opaque directory on the way.
func lookupLayer(root int, comps []string) (found, stop bool, err error) {
	fd, err := dupFD(root)
	if err != nil {
		return false, false, err
	}
	defer func() { unix.Close(fd) }()
	for i, comp := range comps {
		st, err := lstatAt(fd, comp)
		if errors.Is(err, unix.ENOENT) {
			return false, stop, nil
		}
		if err != nil {
			return false, false, fmt.Errorf("lower %q: %w", strings.Join(comps[:i+1], "/"), err)
		}
		if isWhiteoutDevice(&st) {
			return false, true, nil
		}
		if i == len(comps)-1 {
			return true, true, nil
		}
		if fileType(&st) != unix.S_IFDIR {
			return false, true, nil
		}
		nfd, err := unix.Openat(fd, comp, oDirPath, 0)
		if err != nil {
			return false, false, fmt.Errorf("lower %q: %w", strings.Join(comps[:i+1], "/"), err)
		}
		unix.Close(fd)
		fd = nfd
		if isOpaqueFD(fd) {
			stop = true
		}
	}
	return false, stop, nil
}

func isOpaqueFD(fd int) bool {
	for _, x := range []string{overlayOpaqueXattr, overlayUserOpaqueXattr} {
		if v, err := getXattr(procPath(fd), x); err == nil && string(v) == "y" {
			return true
		}
	}
	return false
}

// hiddenByOpaque lists as deleted what the lowers show in the opaque upper directory rel that
// the upper directory does not have itself.
func hiddenByOpaque(lowers []int, updirfd int, name, rel string) ([]Change, error) {
	fd, err := unix.Openat(updirfd, name, oDirPath, 0)
	if err != nil {
		return nil, err
	}
	upNames, err := readDirNames(fd)
	unix.Close(fd)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, n := range upNames {
		seen[n] = true
	}
	var hidden []Change
	for _, root := range lowers {
		dfd, err := openDir(root, rel, false)
		if err != nil {
			continue // not a directory in this layer
		}
		names, err := readDirNames(dfd)
		unix.Close(dfd)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if seen[n] {
				continue
			}
			seen[n] = true
			ok, err := lowerExists(lowers, joinPath(rel, n))
			if err != nil {
				return nil, err
			}
			if ok {
				hidden = append(hidden, Change{ChangeDelete, "/" + joinPath(rel, n)})
			}
		}
	}
	return hidden, nil
}
