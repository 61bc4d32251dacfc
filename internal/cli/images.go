package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hako-dev/hako/internal/atomicfile"
	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/reference"
	"github.com/spf13/cobra"
)

func addImageCommands(a *app, root *cobra.Command) {
	imageCmd := &cobra.Command{Use: "image", Short: "Manage images"}
	imageCmd.AddCommand(imagesCmd(a, "ls"), imagesCmd(a, "list"), importCmd(a), saveCmd(a), loadCmd(a), tagCmd(a), rmiCmd(a, "rm"),
		historyCmd(a), inspectImageCmd(a, "inspect"), pruneImagesCmd(a))
	systemCmd := &cobra.Command{Use: "system", Short: "Manage hako"}
	systemCmd.AddCommand(dfCmd(a), systemPruneCmd(a))
	root.AddCommand(imageCmd, systemCmd, imagesCmd(a, "images"), importCmd(a), saveCmd(a), loadCmd(a), tagCmd(a), rmiCmd(a, "rmi"),
		historyCmd(a), inspectImageCmd(a, "inspect"))
}

// imageRow is what --format templates see for `images`, with Docker's field names.
type imageRow struct {
	ID, Repository, Tag, Digest, CreatedSince, CreatedAt, Size, VirtualSize, SharedSize, UniqueSize, Containers string
}

var imageHeaders = headerRow{"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "CreatedSince": "CREATED",
	"CreatedAt": "CREATED AT", "Size": "SIZE", "VirtualSize": "VIRTUAL SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS"}

func imagesCmd(a *app, use string) *cobra.Command {
	var all, quiet, digests, noTrunc bool
	var filters []string
	var format string
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				filters = append(filters, "reference="+args[0])
			}
			f, err := engine.ParseImageFilters(all, filters)
			if err != nil {
				return err
			}
			list, err := e.ListImages(cmd.Context(), f)
			if err != nil {
				return err
			}
			var rows []any
			seen := map[string]bool{}
			for _, s := range list {
				id := s.Image.ID.String()
				if !noTrunc {
					id = reference.ShortID(id)
				}
				if quiet {
					if !seen[id] {
						fmt.Fprintln(a.stdout, id)
					}
					seen[id] = true
					continue
				}
				r := imageRow{ID: id, Repository: "<none>", Tag: "<none>", Digest: "<none>", CreatedSince: since(s.Created),
					CreatedAt: s.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"), Size: humanSize(s.Size), VirtualSize: humanSize(s.Size),
					SharedSize: "N/A", UniqueSize: "N/A", Containers: "N/A"}
				if s.Name.Name != "" {
					r.Repository = reference.FamiliarName(s.Name.Name)
					if s.Name.Tag != "" {
						r.Tag = s.Name.Tag
					}
				}
				r.Digest = s.Image.Manifest.Digest.String()
				rows = append(rows, r)
			}
			if quiet {
				return nil
			}
			def := "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			if digests {
				def = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			}
			return table{w: a.stdout, format: format, defaults: def, headers: imageHeaders}.write(rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "Show all images (default hides intermediate images)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	fl.BoolVar(&digests, "digests", false, "Show digests")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	stringArrayVarP(fl, &filters, "filter", "f", "Filter output based on conditions provided (dangling, reference, before, since, label)")
	fl.StringVar(&format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template")
	return cmd
}

func importCmd(a *app) *cobra.Command {
	var changes []string
	var message, platform string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if platform != "" && platform != "linux/"+hostArch() && platform != "linux" {
				return errdefs.Invalidf("--platform %s: only this host's platform linux/%s is supported", platform, hostArch())
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			opts := engine.ImportOptions{Source: args[0], Changes: configChanges(changes), Message: message}
			if len(args) == 2 {
				opts.Ref = args[1]
			}
			var r io.Reader = a.stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return errdefs.Invalidf("import %s: %v", args[0], unwrapPath(err))
				}
				defer f.Close()
				r = f
			}
			id, err := e.Import(cmd.Context(), bufio.NewReaderSize(r, 1<<20), opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, id)
			return nil
		},
	}
	stringArrayVarP(cmd.Flags(), &changes, "change", "c", "Apply Dockerfile instruction to the created image")
	cmd.Flags().StringVarP(&message, "message", "m", "", "Set commit message for imported image")
	cmd.Flags().StringVar(&platform, "platform", "", "Set platform (only this host's)")
	return cmd
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func saveCmd(a *app) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			if output == "" {
				if f, ok := a.stdout.(*os.File); ok && isTerminal(f) {
					return errdefs.Invalidf("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
				bw := bufio.NewWriterSize(a.stdout, 1<<20)
				if err := e.Save(cmd.Context(), args, bw); err != nil {
					return err
				}
				return bw.Flush()
			}
			// Write beside the target and rename, so a failed save never leaves a partial archive.
			wrote := false
			err = atomicfile.WriteStream(output, 0o644, func(w io.Writer) error {
				wrote = true
				bw := bufio.NewWriterSize(w, 1<<20)
				if err := e.Save(cmd.Context(), args, bw); err != nil {
					return err
				}
				return bw.Flush()
			})
			if err != nil && !wrote { // the temporary file could not be made
				return errdefs.Invalidf("save -o %s: %v", output, unwrapPath(err))
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

func loadCmd(a *app) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			var r io.Reader = a.stdin
			name := "(stdin)"
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return errdefs.Invalidf("load %s: %v", input, unwrapPath(err))
				}
				defer f.Close()
				r, name = f, input
			} else if f, ok := a.stdin.(*os.File); ok && isTerminal(f) {
				return errdefs.Invalidf("requested load from stdin, but stdin is empty")
			}
			res, err := e.Load(cmd.Context(), r, name)
			if err != nil {
				return err
			}
			for _, l := range res {
				if len(l.Names) == 0 {
					fmt.Fprintf(a.stdout, "Loaded image ID: %s\n", l.ID)
				}
				for _, n := range l.Names {
					fmt.Fprintf(a.stdout, "Loaded image: %s\n", n.Familiar())
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress the load progress (as Docker's -q; hako shows none, and still prints the Loaded lines)")
	return cmd
}

func tagCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return e.Tag(cmd.Context(), args[0], args[1])
		},
	}
}

func rmiCmd(a *app, use string) *cobra.Command {
	var force, noPrune bool
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			res, err := e.RemoveImages(cmd.Context(), args, force, noPrune)
			for _, r := range res {
				if r.Untagged != "" {
					fmt.Fprintf(a.stdout, "Untagged: %s\n", r.Untagged)
				}
				if r.Deleted != "" {
					fmt.Fprintf(a.stdout, "Deleted: %s\n", r.Deleted)
				}
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force removal of the image")
	cmd.Flags().BoolVar(&noPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}

type historyRow struct {
	ID, CreatedSince, CreatedAt, CreatedBy, Size, Comment string
}

var historyHeaders = headerRow{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}

func historyCmd(a *app) *cobra.Command {
	var human, noTrunc, quiet bool
	var format string
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			hist, err := e.History(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			var rows []any
			for _, h := range hist {
				id := h.ID
				if !noTrunc && id != "<missing>" {
					id = reference.ShortID(id)
				}
				if quiet {
					fmt.Fprintln(a.stdout, id)
					continue
				}
				r := historyRow{ID: id, CreatedBy: h.CreatedBy, Comment: h.Comment}
				if human {
					r.CreatedSince = since(h.Created)
					r.CreatedAt = h.Created.Local().Format(time.RFC3339)
					r.Size = humanSize(h.Size)
				} else {
					r.CreatedSince = h.Created.Local().Format(time.RFC3339)
					r.CreatedAt = r.CreatedSince
					r.Size = strconv.FormatInt(h.Size, 10)
				}
				if !noTrunc {
					r.CreatedBy = ellipsis(strings.ReplaceAll(r.CreatedBy, "\t", " "), 45)
				}
				rows = append(rows, r)
			}
			if quiet {
				return nil
			}
			return table{w: a.stdout, format: format, headers: historyHeaders,
				defaults: "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"}.write(rows)
		},
	}
	cmd.Flags().BoolVarP(&human, "human", "H", true, "Print sizes and dates in human readable format")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	cmd.Flags().StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}

// ellipsis shortens s to n characters, ending with "…" like Docker.
func ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func inspectImageCmd(a *app, use string) *cobra.Command {
	var format, typ string
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on images",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			var docs []any
			var errs []string
			for _, ref := range args {
				d, err := inspectAny(cmd, a, e, ref, typ)
				if err != nil {
					errs = append(errs, err.Error())
					continue
				}
				docs = append(docs, d)
			}
			if format != "" {
				for _, d := range docs {
					var generic any
					b, _ := json.Marshal(d)
					// Numbers stay as written (8388608, not 8.388608e+06), as Docker's templates show them.
					dec := json.NewDecoder(bytes.NewReader(b))
					dec.UseNumber()
					dec.Decode(&generic)
					if err := printTemplate(a.stdout, format, generic); err != nil {
						return err
					}
				}
			} else {
				if docs == nil {
					docs = []any{}
				}
				b, err := json.MarshalIndent(docs, "", "    ")
				if err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, string(b))
			}
			if len(errs) > 0 {
				return StatusError{Status: 1, Err: fmt.Errorf("%s", strings.Join(errs, "; "))}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template: 'json' or a Go template")
	if use == "inspect" && cmd.Parent() == nil {
		cmd.Flags().StringVar(&typ, "type", "", "Only inspect objects of the given type (image, container)")
	}
	return cmd
}

// inspectAny finds ref as a container first, then as an image, like `docker inspect`.
var inspectAny = func(cmd *cobra.Command, a *app, e *engine.Engine, ref, typ string) (any, error) {
	if typ != "" && typ != "image" {
		return nil, errdefs.NotFoundf("No such object: %s", ref)
	}
	return e.InspectImage(cmd.Context(), ref)
}

func pruneImagesCmd(a *app) *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(filters) > 0 {
				return errdefs.NotImplemented(fmt.Errorf("image prune --filter is not implemented yet"))
			}
			if !force {
				warn := "WARNING! This will remove all dangling images."
				if all {
					warn = "WARNING! This will remove all images without at least one container associated to them."
				}
				if !confirm(a, warn) {
					return nil
				}
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			deleted, freed, err := e.PruneImages(cmd.Context(), all)
			if err != nil {
				return err
			}
			if len(deleted) > 0 {
				fmt.Fprintln(a.stdout, "Deleted Images:")
				for _, d := range deleted {
					fmt.Fprintln(a.stdout, d)
				}
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintf(a.stdout, "Total reclaimed space: %s\n", humanSize(freed))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	stringArrayVar(cmd.Flags(), &filters, "filter", "Provide filter values")
	return cmd
}

func confirm(a *app, warn string) bool {
	fmt.Fprintf(a.stdout, "%s\nAre you sure you want to continue? [y/N] ", warn)
	line, _ := bufio.NewReader(a.stdin).ReadString('\n')
	line = strings.TrimSpace(strings.ToLower(line))
	return line == "y" || line == "yes"
}

func dfCmd(a *app) *cobra.Command {
	var format string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show hako disk usage",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if verbose {
				return errdefs.NotImplemented(fmt.Errorf("system df -v is not implemented yet: use images, ps -s and volume ls"))
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			du, err := e.DiskUsage(cmd.Context())
			if err != nil {
				return err
			}
			pct := func(r, t int64) string {
				if t == 0 {
					return humanSize(r)
				}
				return fmt.Sprintf("%s (%d%%)", humanSize(r), r*100/t)
			}
			type row struct{ Type, TotalCount, Active, Size, Reclaimable string }
			rows := []any{
				row{"Images", strconv.Itoa(du.Images), strconv.Itoa(du.ActiveImages), humanSize(du.ImagesSize), pct(du.ReclaimableImages, du.ImagesSize)},
				row{"Containers", strconv.Itoa(du.Containers), strconv.Itoa(du.ActiveContainers), humanSize(du.ContainersSize), humanSize(du.ContainersSize)},
				row{"Local Volumes", strconv.Itoa(du.Volumes), "0", humanSize(du.VolumesSize), humanSize(du.VolumesSize)},
				row{"Build Cache", strconv.Itoa(du.BuildCache), "0", humanSize(du.BuildCacheSize), humanSize(du.BuildCacheSize)},
			}
			return table{w: a.stdout, format: format, headers: headerRow{"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"},
				defaults: "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"}.write(rows)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "Format output using a custom template")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "Show detailed information on space usage")
	return cmd
}
