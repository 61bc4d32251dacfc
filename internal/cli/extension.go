package cli

import (
	"context"
	"errors"

	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/image"
	"github.com/spf13/cobra"
)

// Extension is what the full hako binary adds to this package's command line: the commands that
// need the builder, BuildKit's Dockerfile parser and the linters (package buildcli), and the
// parts of this package's commands that need them. Package cli does not link any of those, so
// that hako-monitor, which serves the container verbs, starts on the engine and the runtime
// alone. In a binary that registers none (hako-monitor), those commands do not exist and the
// commands that would call a missing hook refuse, exit 125, before doing anything.
type Extension struct {
	// AddCommands adds commands to the full command tree, after the image, container and volume
	// commands (so that it can add subcommands to theirs, as `image check`).
	AddCommands func(a *App, root *cobra.Command)
	// ApplyChanges applies commit's and import's --change Dockerfile instructions to the new
	// image's config.
	ApplyChanges func(c *image.ContainerConfig, changes []string) error
	// PruneBuildCache is system prune's last step: it removes the build cache (all of it with
	// all, else what no image descends from) and returns the image IDs removed and the bytes
	// freed.
	PruneBuildCache func(ctx context.Context, e *engine.Engine, all bool) (ids []string, freed int64, err error)
}

// ext is the registered extension; the zero value in hako-monitor.
var ext Extension

// Register installs x. Call it before Main, once (cmd/hako calls buildcli.Register).
func Register(x Extension) { ext = x }

// errNeedsFullBinary is the refusal when a hook is not registered: what needs it, and what
// hako-monitor (the only binary without them) lacks.
func errNeedsFullBinary(what, missing string) error {
	return StatusError{Status: 125, Err: errors.New(what + " needs the full hako binary (hako-monitor has no " + missing + ")")}
}
