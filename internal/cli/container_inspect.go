package cli

import (
	"errors"

	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/spf13/cobra"
)

func init() {
	inspectAny = inspectContainerOrImage
}

// inspectContainerOrImage finds ref as a container first, then as an image, like
// `docker inspect`; --type limits it to one kind.
func inspectContainerOrImage(cmd *cobra.Command, a *app, e *engine.Engine, ref, typ string) (any, error) {
	size := false
	if f := cmd.Flags().Lookup("size"); f != nil {
		size = f.Value.String() == "true"
	}
	switch typ {
	case "container":
		return e.InspectContainer(cmd.Context(), ref, size)
	case "image":
		return e.InspectImage(cmd.Context(), ref)
	case "":
	default:
		return nil, errdefs.Invalidf("%q is not a valid value for --type (container, image)", typ)
	}
	c, err := e.InspectContainer(cmd.Context(), ref, size)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, errdefs.ErrNotFound) {
		return nil, err
	}
	img, err := e.InspectImage(cmd.Context(), ref)
	if err == nil {
		return img, nil
	}
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, errdefs.NotFoundf("No such object: %s", ref)
	}
	return nil, err
}

// inspectContainerCmd is `container inspect`: `inspect` limited to containers.
func inspectContainerCmd(a *app) *cobra.Command {
	cmd := inspectImageCmd(a, "inspect")
	cmd.Use = "inspect [OPTIONS] CONTAINER [CONTAINER...]"
	cmd.Short = "Display detailed information on one or more containers"
	cmd.Flags().Set("type", "container")
	cmd.Flags().MarkHidden("type")
	cmd.Flags().BoolP("size", "s", false, "Display total file sizes")
	return cmd
}

// adjustInspectCommands gives the top-level `inspect` Docker's -s/--size for containers, and
// keeps `image inspect` to images now that inspectAny looks for containers first.
func adjustInspectCommands(root *cobra.Command) {
	for _, c := range root.Commands() {
		switch c.Name() {
		case "inspect":
			if c.Flags().Lookup("size") == nil {
				c.Short = "Return low-level information on containers and images"
				c.Flags().BoolP("size", "s", false, "Display total file sizes if the type is container")
			}
		case "image":
			for _, sub := range c.Commands() {
				if sub.Name() == "inspect" && sub.Flags().Lookup("type") != nil {
					sub.Flags().Set("type", "image")
					sub.Flags().MarkHidden("type")
				}
			}
		}
	}
}
