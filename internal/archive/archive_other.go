//go:build !linux

package archive

import (
	"context"
	"fmt"
	"io"

	"github.com/hako-dev/hako/internal/errdefs"
)

var errNotLinux = errdefs.NotImplemented(fmt.Errorf("layer trees need Linux"))

func Apply(ctx context.Context, root string, r io.Reader, opts ApplyOptions) (ApplyResult, error) {
	return ApplyResult{}, errNotLinux
}

func WriteOverlayDiff(ctx context.Context, w io.Writer, upper string, opts DiffOptions) error {
	return errNotLinux
}

func WriteDiff(ctx context.Context, w io.Writer, lower, upper string, opts DiffOptions) error {
	return errNotLinux
}

func OverlayChanges(upper string, lowers []string) ([]Change, error) { return nil, errNotLinux }

func Changes(lower, upper string) ([]Change, error) { return nil, errNotLinux }
