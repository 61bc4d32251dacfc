// Package buildcli is the part of hako's command line that builds and checks images: build,
// builder build/prune, lint, image check and build --check, and the --change parsing of commit
// and import and the build-cache step of system prune that package cli's commands call through
// its hooks. It links the builder, BuildKit's Dockerfile parser and the linters (yaml, mvdan/sh,
// BuildKit's checks), which package cli leaves out so that hako-monitor, serving the container
// verbs, starts without them. Only cmd/hako imports it, and calls Register before cli.Main.
package buildcli

import (
	"context"

	"github.com/hako-dev/hako/internal/builder"
	"github.com/hako-dev/hako/internal/cli"
	"github.com/hako-dev/hako/internal/dockerfile"
	"github.com/hako-dev/hako/internal/engine"
	"github.com/spf13/cobra"
)

// Register adds this package's commands and hooks to package cli's command line. Call it once,
// before cli.Main.
func Register() {
	cli.Register(cli.Extension{
		AddCommands: func(a *cli.App, root *cobra.Command) {
			addLintCommands(a, root) // after the image commands: it adds `image check`
			addBuildCommands(a, root)
		},
		ApplyChanges:    dockerfile.ApplyChanges,
		PruneBuildCache: pruneBuildCache,
	})
}

// pruneBuildCache is system prune's build-cache step.
func pruneBuildCache(ctx context.Context, e *engine.Engine, all bool) ([]string, int64, error) {
	res, err := builder.New(e).PruneCache(ctx, builder.PruneOptions{All: all})
	if err != nil {
		return nil, 0, err
	}
	return res.Images, res.Bytes, nil
}
