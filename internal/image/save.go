package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/hako-dev/hako/internal/content"
	"github.com/hako-dev/hako/internal/reference"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// dockerManifest is one entry of a docker-archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// SaveItem is one image to save and the names to save it under (may be empty).
type SaveItem struct {
	Image Image
	Names []reference.Named
}

// Save writes images as one archive that is both a docker-archive (manifest.json, repositories)
// and an OCI image layout (oci-layout, index.json, blobs/sha256/...), the way Docker 25+ does, so
// that `docker load`, `podman load` and `skopeo` (docker-archive: and oci-archive:) all read it.
func Save(ctx context.Context, cs *content.Store, items []SaveItem, w io.Writer) error {
	tw := tar.NewWriter(w)
	written := map[digest.Digest]bool{}
	var (
		manifests []dockerManifest
		index     = ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
		repos     = map[string]map[string]string{}
	)
	mtime := time.Unix(0, 0)
	dirs := []string{"blobs/", "blobs/sha256/"}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	blob := func(d digest.Digest) (string, error) {
		name := path.Join("blobs", d.Algorithm().String(), d.Encoded())
		if written[d] {
			return name, nil
		}
		f, err := cs.Open(ctx, d)
		if err != nil {
			return "", fmt.Errorf("save blob %s: %w", d, err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return "", err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o444, Size: st.Size(), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return "", err
		}
		if _, err := io.Copy(tw, f); err != nil {
			return "", fmt.Errorf("save blob %s: %w", d, err)
		}
		written[d] = true
		return name, nil
	}
	for _, it := range items {
		mb, err := cs.ReadBlob(ctx, it.Image.Manifest.Digest)
		if err != nil {
			return err
		}
		m, err := ParseManifest(mb)
		if err != nil {
			return err
		}
		if _, err := blob(it.Image.Manifest.Digest); err != nil {
			return err
		}
		cfgName, err := blob(m.Config.Digest)
		if err != nil {
			return err
		}
		dm := dockerManifest{Config: cfgName, RepoTags: []string{}}
		for _, l := range m.Layers {
			n, err := blob(l.Digest)
			if err != nil {
				return err
			}
			dm.Layers = append(dm.Layers, n)
		}
		desc := ocispec.Descriptor{MediaType: it.Image.Manifest.MediaType, Digest: it.Image.Manifest.Digest, Size: it.Image.Manifest.Size}
		if len(it.Names) == 0 {
			index.Manifests = append(index.Manifests, desc)
		}
		for _, n := range it.Names {
			if n.Tag == "" {
				continue
			}
			dm.RepoTags = append(dm.RepoTags, n.Familiar())
			d := desc
			d.Annotations = map[string]string{AnnotationName: n.String(), AnnotationRefName: n.Tag}
			index.Manifests = append(index.Manifests, d)
			fam := reference.FamiliarName(n.Name)
			if repos[fam] == nil {
				repos[fam] = map[string]string{}
			}
			repos[fam][n.Tag] = m.Config.Digest.Encoded()
		}
		manifests = append(manifests, dm)
	}
	files := []struct {
		name string
		v    any
	}{
		{ocispec.ImageLayoutFile, ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion}},
		{"index.json", index},
		{"manifest.json", manifests},
	}
	if len(repos) > 0 {
		files = append(files, struct {
			name string
			v    any
		}{"repositories", repos})
	}
	for _, f := range files {
		b, err := json.Marshal(f.v)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o444, Size: int64(len(b)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	return tw.Close()
}
