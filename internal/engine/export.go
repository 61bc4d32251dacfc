package engine

import (
	"context"
	"fmt"
	"io"

	"github.com/hako-dev/hako/internal/archive"
)

// Export writes the container's whole filesystem (image and changes, merged) as a tar, as
// `docker export` does: a running container's from the monitor's mount of its root, a stopped
// one's from a private mount of its snapshot. Volumes and the files bound over /etc are not in it.
func (e *Engine) Export(ctx context.Context, ref string, w io.Writer) error {
	c, err := e.Containers().Get(ref)
	if err != nil {
		return err
	}
	return e.withContainerRoot(ctx, c, func(dir string) error {
		if err := archive.WriteDiff(ctx, w, "", dir, archive.DiffOptions{}); err != nil {
			return fmt.Errorf("export %s: %w", ref, err)
		}
		return nil
	})
}
