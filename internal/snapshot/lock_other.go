//go:build !unix

package snapshot

import (
	"context"
	"fmt"
	"os"
	"runtime"

	"github.com/hako-dev/hako/internal/errdefs"
)

func flock(ctx context.Context, f *os.File) error {
	return errdefs.NotImplemented(fmt.Errorf("file locks are not supported on %s", runtime.GOOS))
}

func funlock(f *os.File) error { return nil }
