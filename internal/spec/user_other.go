//go:build !linux

package spec

import (
	"os"
	"strings"
)

// openInRoot uses os.Root, which refuses symlinks that leave root (and absolute ones).
func openInRoot(root, name string) (*os.File, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rel := strings.TrimPrefix(name, "/")
	fi, err := r.Stat(rel)
	if err != nil {
		return nil, err
	}
	if err := checkRegular(fi); err != nil {
		return nil, err
	}
	return r.Open(rel)
}
