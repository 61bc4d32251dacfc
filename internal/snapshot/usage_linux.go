package snapshot

import (
	"context"
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// diskUsage sums the allocated blocks of the inodes under dir, each hard-linked inode once.
func diskUsage(ctx context.Context, dir string) (Usage, error) {
	var u Usage
	seen := map[inode]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return &fs.PathError{Op: "lstat", Path: p, Err: err}
		}
		id := inode{uint64(st.Dev), st.Ino}
		if seen[id] {
			return nil
		}
		seen[id] = true
		u.Inodes++
		u.Size += st.Blocks * 512
		return nil
	})
	return u, err
}
