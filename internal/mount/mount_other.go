//go:build !linux

package mount

import (
	"fmt"
	"runtime"

	"github.com/hako-dev/hako/internal/errdefs"
)

// Mount mounts m at target; only Linux has the mounts that hako needs.
func (m Mount) Mount(target string) error {
	return errdefs.NotImplemented(fmt.Errorf("mount %s on %s: not supported on %s", m.Type, target, runtime.GOOS))
}

// Unmount takes down every mount at target; only Linux has mounts to take down.
func Unmount(target string) error {
	return errdefs.NotImplemented(fmt.Errorf("unmount %s: not supported on %s", target, runtime.GOOS))
}
