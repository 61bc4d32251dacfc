package engine

import (
	"context"
	"fmt"
	"io"

	"github.com/hako-dev/hako/internal/archive"
)

// Export writes the container's whole filesystem (image and changes, merged) as a tar, as
// `docker export` does: a running container's from the monitor's mount of its root, a stopped
// one's from a private mount of its snapshot.
//
// Unlike cp, export does not look through the container's mounts. Docker documents it: "The
// docker export command does not export the contents of volumes associated with the container.
// If a volume is mounted on top of an existing directory in the container, docker export will
// export the contents of the underlying directory, not the contents of the volume." The same
// holds here for volumes, bind mounts and the files bound over /etc: their mount points are in
// the tar with what the root filesystem has under them.
func (e *Engine) Export(ctx context.Context, ref string, w io.Writer) error {
	c, err := e.Containers().Get(ref)
	if err != nil {
		return err
	}
	// A user namespace's root filesystem shows its host IDs (withContainerRoot mounts a
	// stopped one idmapped, as it runs): the tar gets the container's.
	opts := archive.DiffOptions{Owner: userNSToContainer(c.Config.Options)} // userns.go
	return e.withContainerRoot(ctx, c, func(dir string) error {
		if err := archive.WriteDiff(ctx, w, "", dir, opts); err != nil {
			return fmt.Errorf("export %s: %w", ref, err)
		}
		return nil
	})
}
