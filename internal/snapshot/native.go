package snapshot

import (
	"context"
	"os"
	"path/filepath"

	"github.com/hako-dev/hako/internal/mount"
)

// NewNative opens (creating it if need be) a native snapshotter at root. Each snapshot is a full
// copy of its parent's tree, made at Prepare or View with everything preserved (hard links within
// the tree, ownership, modes, times, extended attributes, device nodes) and with reflinks or
// copy_file_range where the filesystem offers them. It needs no overlayfs, so it works on any
// filesystem, at the cost of space and time per snapshot.
func NewNative(root string) (Snapshotter, error) {
	s, err := open(root, nativeDriver{})
	if err != nil {
		return nil, err
	}
	return s, nil
}

type nativeDriver struct{}

func (nativeDriver) name() string { return "native" }

func (nativeDriver) usageDir(dir string) string { return filepath.Join(dir, "fs") }

func (nativeDriver) create(ctx context.Context, dir, parentDir string, kind Kind) error {
	fsDir := filepath.Join(dir, "fs")
	if parentDir == "" {
		return os.Mkdir(fsDir, 0o755)
	}
	return copyTree(ctx, filepath.Join(parentDir, "fs"), fsDir)
}

func (nativeDriver) mounts(dir string, kind Kind, parentDirs []string) []mount.Mount {
	rw := "rw"
	if kind == KindView {
		rw = "ro"
	}
	return []mount.Mount{{Type: "bind", Source: filepath.Join(dir, "fs"), Options: []string{"rbind", rw}}}
}
