//go:build !linux

package volume

import (
	"errors"

	"github.com/hako-dev/hako/internal/errdefs"
)

// Seed is Linux-only.
func Seed(rootfs, target, dst string, owner func(uid, gid int) (int, int)) error {
	return errdefs.NotImplemented(errors.New("seed volume: only on Linux"))
}
