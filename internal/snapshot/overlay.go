package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/mount"
)

// NewOverlay opens (creating it if need be) an overlay snapshotter at root. Each snapshot is a
// directory holding fs (its upper layer) and work (overlayfs's work dir); committed parents are
// stacked as lower layers, so a snapshot costs only what it changes. Root must be on a filesystem
// that can hold an overlay upper dir: see Supported.
func NewOverlay(root string) (Snapshotter, error) {
	// Layer paths travel in overlay's option string, where ':' separates layers and ','
	// options.
	if strings.ContainsAny(root, ":,") {
		return nil, errdefs.Invalidf("open overlay snapshotter at %s: the path may not contain ':' or ','", root)
	}
	s, err := open(root, overlayDriver{})
	if err != nil {
		return nil, err
	}
	return s, nil
}

type overlayDriver struct{}

func (overlayDriver) name() string { return "overlay" }

func (overlayDriver) usageDir(dir string) string { return filepath.Join(dir, "fs") }

func (overlayDriver) create(ctx context.Context, dir, parentDir string, kind Kind) error {
	// Exactly these modes, whatever the umask of the process that makes them: the upper
	// directory's is the container's root's, and a spare (makeSpare) is made by another
	// process than the one that takes it.
	fsDir := filepath.Join(dir, "fs")
	if err := mkdirMode(fsDir, 0o755); err != nil {
		return err
	}
	if kind == KindActive {
		if err := mkdirMode(filepath.Join(dir, "work"), 0o711); err != nil {
			return err
		}
	}
	if parentDir == "" {
		return nil
	}
	// The upper dir's root is the merged root: give it the parent's owner, as containerd does,
	// so that a tree unpacked for a remapped user stays that user's.
	return chownLike(fsDir, filepath.Join(parentDir, "fs"))
}

// makeSpare makes what create makes for an active snapshot: its upper and work directories.
func (d overlayDriver) makeSpare(dir string) error {
	return d.create(context.Background(), dir, "", KindActive)
}

// adoptSpare is what create does beyond makeSpare for an active snapshot on parentDir, once
// it has checked that the spare is whole: a cleanup in another process may have emptied it
// in tmp/ while it was made (makeSpare holds no lock), and renamed it is anyway.
func (overlayDriver) adoptSpare(dir, parentDir string) error {
	for _, sub := range []string{"fs", "work"} {
		if fi, err := os.Lstat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			return fmt.Errorf("spare snapshot directory without its %s", sub)
		}
	}
	if parentDir == "" {
		return nil
	}
	return chownLike(filepath.Join(dir, "fs"), filepath.Join(parentDir, "fs"))
}

// mkdirMode makes dir with exactly mode.
func mkdirMode(dir string, mode os.FileMode) error {
	if err := os.Mkdir(dir, mode); err != nil {
		return err
	}
	return os.Chmod(dir, mode)
}

func (overlayDriver) mounts(dir string, kind Kind, parentDirs []string) []mount.Mount {
	rw := "rw"
	if kind == KindView {
		rw = "ro"
	}
	switch {
	case len(parentDirs) == 0:
		return []mount.Mount{{Type: "bind", Source: filepath.Join(dir, "fs"), Options: []string{"rbind", rw}}}
	case kind == KindView && len(parentDirs) == 1:
		// overlayfs wants two lower layers when there is no upper one; a bind does the same job.
		return []mount.Mount{{Type: "bind", Source: filepath.Join(parentDirs[0], "fs"), Options: []string{"rbind", "ro"}}}
	}
	lower := make([]string, len(parentDirs))
	for i, p := range parentDirs {
		lower[i] = filepath.Join(p, "fs")
	}
	var opts []string
	if kind == KindActive {
		opts = append(opts, "workdir="+filepath.Join(dir, "work"), "upperdir="+filepath.Join(dir, "fs"))
	}
	opts = append(opts, "lowerdir="+strings.Join(lower, ":"))
	return []mount.Mount{{Type: "overlay", Source: "overlay", Options: opts}}
}
