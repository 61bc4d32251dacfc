package cli

import (
	"strings"

	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/spf13/cobra"
)

func cpCmd(a *app) *cobra.Command {
	var o engine.CopyOptions
	var quiet bool
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n  hako cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Long: "Copy files/folders between a container and the local filesystem.\n\n" +
			"Use '-' as the source to read a tar archive from stdin and extract it to a directory destination in a container.\n" +
			"Use '-' as the destination to stream a tar archive of a container source to stdout.",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			srcCtr, src := splitCpArg(args[0])
			dstCtr, dst := splitCpArg(args[1])
			switch {
			case srcCtr != "" && dstCtr != "":
				return errdefs.Invalidf("copying between containers is not supported")
			case srcCtr == "" && dstCtr == "":
				return errdefs.Invalidf("must specify at least one container source")
			case src == "" || dst == "":
				return errdefs.Invalidf("source and destination paths must not be empty")
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			if srcCtr != "" {
				return e.CopyFromContainer(cmd.Context(), srcCtr, src, dst, a.stdout, o)
			}
			return e.CopyToContainer(cmd.Context(), dstCtr, src, a.stdin, dst, o)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.Archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	fl.BoolVarP(&o.FollowLink, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Suppress progress output during copy (hako prints none)")
	return cmd
}

// splitCpArg reads CONTAINER:PATH as Docker does: a local path is one that starts with "/" or
// ".", or has no colon, or a slash before its first colon.
func splitCpArg(arg string) (ctr, p string) {
	if arg == "-" || strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return "", arg
	}
	c, rest, ok := strings.Cut(arg, ":")
	if !ok || strings.Contains(c, "/") {
		return "", arg
	}
	return c, rest
}
