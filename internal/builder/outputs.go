package builder

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hako-dev/hako/internal/archive"
	"github.com/hako-dev/hako/internal/atomicfile"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/image"
	"github.com/hako-dev/hako/internal/reference"
	digest "github.com/opencontainers/go-digest"
)

// Output is `build --output`: where the result goes. Type "image" (the default) records
// and tags the image in the store. The others write the result elsewhere and record nothing
// for it in the store and tag nothing: "docker" and "oci" write an image archive (the archive
// that `hako save` writes, which is both a docker-archive and an OCI image layout), "local"
// copies the final filesystem into a directory and "tar" writes it as one tar. The steps' own
// images stay, as build cache (`images -a` lists them, `builder prune` removes them), so a
// second build with the same output is cached.
type Output struct {
	Type string
	// Dest is a file (docker, oci, tar) or a directory (local); "-" for Writer.
	Dest   string
	Writer io.Writer
}

// ParseOutput reads an --output value: "type=TYPE[,dest=PATH]", or a bare PATH for
// type=local (and "-" for a tar on standard output), as docker build takes it.
func ParseOutput(s string) (*Output, error) {
	if s == "" {
		return nil, errdefs.Invalidf("--output: empty value")
	}
	if !strings.Contains(s, "=") {
		if s == "-" {
			return &Output{Type: "tar", Dest: "-"}, nil
		}
		return &Output{Type: "local", Dest: s}, nil
	}
	out := &Output{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, errdefs.Invalidf("--output %q: %q is not KEY=VALUE", s, kv)
		}
		switch strings.TrimSpace(k) {
		case "type":
			out.Type = v
		case "dest":
			out.Dest = v
		case "name", "push", "compression", "oci-mediatypes":
			// Image attributes hako has nothing to do with: names come from -t, nothing pushes.
		default:
			return nil, errdefs.Invalidf("--output %q: unknown attribute %q", s, k)
		}
	}
	switch out.Type {
	case "image", "":
		out.Type = "image"
	case "docker", "oci", "tar", "local":
		if out.Dest == "" {
			return nil, errdefs.Invalidf("--output type=%s needs dest=PATH", out.Type)
		}
	default:
		return nil, errdefs.Invalidf("--output: unknown type %q (image, docker, oci, local, tar)", out.Type)
	}
	return out, nil
}

// exportName is the progress line of an output, BuildKit's.
func (o *Output) exportName() string {
	switch o.Type {
	case "docker":
		return "exporting to docker image format"
	case "oci":
		return "exporting to oci image format"
	case "local":
		return "exporting to client directory"
	case "tar":
		return "exporting to client tarball"
	}
	return "exporting to image"
}

// exportOutput writes the target to a non-image output. It returns the image ID the result
// would have in the store.
func (b *job) exportOutput(ctx context.Context, final *stepImage, names []reference.Named) (digest.Digest, error) {
	out := b.opts.Output
	cfg := b.labeled(final.cfg)
	switch out.Type {
	case "docker", "oci":
		if final.id == "" {
			return "", errdefs.Invalidf("the target stage is empty: FROM scratch with no instructions makes no image")
		}
		// The blobs are leased by this build only: no image record keeps them afterwards.
		img, err := b.e.WriteImageBlobs(ctx, b.lease, cfg, final.layers)
		if err != nil {
			return "", err
		}
		err = writeOutput(out, func(w io.Writer) error {
			return image.Save(ctx, b.e.Content, []image.SaveItem{{Image: img, Names: names}}, w)
		})
		return img.ID, err
	}
	dir, release, err := b.view(ctx, final)
	if err != nil {
		return "", err
	}
	defer release()
	diff := archive.DiffOptions{SourceDateEpoch: b.epoch}
	if out.Type == "tar" {
		err = writeOutput(out, func(w io.Writer) error { return archive.WriteDiff(ctx, w, "", dir, diff) })
	} else {
		err = exportLocal(ctx, dir, out.Dest, diff)
	}
	if err != nil {
		return "", err
	}
	return configID(cfg, final)
}

// configID is the ID of cfg: final's own when nothing changed it.
func configID(cfg image.Config, final *stepImage) (digest.Digest, error) {
	if final.id != "" && len(cfg.Config.Labels) == len(final.cfg.Config.Labels) {
		return final.id, nil
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	return digest.FromBytes(b), nil
}

// exportLocal copies the tree at dir into dest (made if missing), owners and modes included,
// through the same tar writer and safe extraction as layers.
func exportLocal(ctx context.Context, dir, dest string, diff archive.DiffOptions) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("--output dest=%s: %w", dest, err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.WriteDiff(ctx, pw, "", dir, diff)) }()
	_, err := archive.Apply(ctx, dest, pr, archive.ApplyOptions{Whiteouts: archive.OCIWhiteouts, Name: "build output"})
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("--output dest=%s: %w", dest, err)
	}
	return nil
}

// writeOutput streams to the output's Writer ("-"), or to its file through a temporary file
// renamed into place, so that a failed build leaves no half archive.
func writeOutput(out *Output, fn func(io.Writer) error) error {
	if out.Dest == "-" {
		if out.Writer == nil {
			return errdefs.Invalidf("--output dest=-: no standard output")
		}
		return fn(out.Writer)
	}
	if err := atomicfile.WriteStream(out.Dest, 0o644, fn); err != nil {
		return fmt.Errorf("--output dest=%s: %w", out.Dest, err)
	}
	return nil
}

// labeled is the config with --label applied.
func (b *job) labeled(cfg image.Config) image.Config {
	if len(b.opts.Labels) == 0 {
		return cfg
	}
	labels := map[string]string{}
	for k, v := range cfg.Config.Labels {
		labels[k] = v
	}
	for k, v := range b.opts.Labels {
		labels[k] = v
	}
	cfg.Config.Labels = labels
	return cfg
}
