//go:build !linux

package snapshot

import (
	"context"
	"fmt"
	"runtime"

	"github.com/hako-dev/hako/internal/errdefs"
)

func notHere(what string) error {
	return errdefs.NotImplemented(fmt.Errorf("%s: not supported on %s", what, runtime.GOOS))
}

// Supported reports whether overlay snapshots can work at root: only on Linux.
func Supported(root string) error { return notHere("overlay snapshots") }

func copyTree(ctx context.Context, src, dst string) error { return notHere("copying a snapshot") }

func diskUsage(ctx context.Context, dir string) (Usage, error) {
	return Usage{}, notHere("measuring a snapshot")
}

func chownLike(dst, src string) error { return nil }
