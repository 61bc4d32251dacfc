package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/hako-dev/hako/internal/content"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/reference"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Loaded is an image read from an archive: its blobs are in the content store (under the lease
// passed to ReadArchive); recording it in the index is the caller's job.
type Loaded struct {
	Manifest ocispec.Descriptor
	Config   Config
	Layers   []ocispec.Descriptor
	Names    []reference.Named
}

// ID is the image ID: the config digest.
func (l Loaded) ID(m ocispec.Manifest) digest.Digest { return m.Config.Digest }

// maxMeta bounds the JSON files of an archive that are read into memory.
const maxMeta = 32 << 20

// archiveReader collects an archive's entries in one pass: blobs stream into the content store
// (verified when their name is a digest), small metadata files stay in memory.
type archiveReader struct {
	name  string
	cs    *content.Store
	lease *content.Lease
	meta  map[string][]byte
	blobs map[string]digest.Digest // entry name -> blob
	sizes map[digest.Digest]int64
	links map[string]string // entry name -> link target (archive path)
}

func clean(name string) string { return strings.TrimPrefix(path.Clean("/"+name), "/") }

// ReadArchive reads a docker-archive (any Docker or podman version) or an OCI archive from r,
// storing its blobs, and returns the images it holds. name is how errors name the archive.
func ReadArchive(ctx context.Context, cs *content.Store, lease *content.Lease, r io.Reader, name string) ([]Loaded, error) {
	ar := &archiveReader{name: name, cs: cs, lease: lease, meta: map[string][]byte{}, blobs: map[string]digest.Digest{}, sizes: map[digest.Digest]int64{}, links: map[string]string{}}
	br := bufio.NewReaderSize(r, 1<<20)
	if head, err := br.Peek(2); err == nil && (head[0] == 0x1f && head[1] == 0x8b) {
		return nil, errdefs.Invalidf("load %s: the archive is gzip-compressed: decompress it first (gunzip)", name)
	}
	tr := tar.NewReader(br)
	n := 0
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errdefs.Invalidf("load %s: not a valid tar archive (truncated or corrupt) after %d entries: %v", name, n, err)
		}
		n++
		if err := ar.entry(ctx, h, tr); err != nil {
			return nil, err
		}
	}
	if n == 0 {
		return nil, errdefs.Invalidf("load %s: empty archive", name)
	}
	if _, ok := ar.meta["manifest.json"]; ok {
		return ar.docker(ctx)
	}
	if _, ok := ar.meta["index.json"]; ok {
		return ar.oci(ctx)
	}
	return nil, errdefs.Invalidf("load %s: neither manifest.json (docker-archive) nor index.json (OCI archive) found", name)
}

func (ar *archiveReader) entry(ctx context.Context, h *tar.Header, r io.Reader) error {
	name := clean(h.Name)
	switch h.Typeflag {
	case tar.TypeDir, tar.TypeXGlobalHeader:
		return nil
	case tar.TypeSymlink:
		target := h.Linkname
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(name), target)
		}
		ar.links[name] = clean(target)
		return nil
	case tar.TypeLink:
		ar.links[name] = clean(h.Linkname)
		return nil
	case tar.TypeReg:
	default:
		return errdefs.Invalidf("load %s: entry %q: unexpected entry type %q", ar.name, h.Name, h.Typeflag)
	}
	var want digest.Digest
	if dir, file := path.Split(name); strings.HasSuffix(dir, "blobs/sha256/") {
		want = digest.NewDigestFromEncoded(digest.SHA256, file)
		if want.Validate() != nil {
			return errdefs.Invalidf("load %s: entry %q: not a valid sha256 blob name", ar.name, h.Name)
		}
	}
	if want == "" && strings.HasSuffix(name, ".json") || name == "repositories" || name == ocispec.ImageLayoutFile {
		if h.Size > maxMeta {
			return errdefs.Invalidf("load %s: entry %q: %d bytes is too large for metadata", ar.name, h.Name, h.Size)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return errdefs.Invalidf("load %s: entry %q: %v", ar.name, h.Name, err)
		}
		ar.meta[name] = b
		return nil
	}
	if want != "" {
		if _, err := ar.cs.Info(ctx, want); err == nil {
			// Already in the store: skip the bytes, but keep it leased so GC cannot take it
			// before the image that needs it is recorded.
			if err := ar.lease.Protect(want); err != nil {
				return err
			}
			ar.blobs[name] = want
			ar.sizes[want] = h.Size
			return nil
		}
	}
	w, err := ar.cs.Writer(ctx, ar.lease)
	if err != nil {
		return err
	}
	defer w.Close()
	if _, err := io.Copy(w, r); err != nil {
		return errdefs.Invalidf("load %s: entry %q: truncated or corrupt: %v", ar.name, h.Name, err)
	}
	d, err := w.Commit(ctx, h.Size, want)
	if err != nil {
		if errors.Is(err, errdefs.ErrInvalidArgument) {
			return errdefs.Invalidf("load %s: entry %q: content digest %s does not match its name", ar.name, h.Name, w.Digest())
		}
		return fmt.Errorf("load %s: entry %q: %w", ar.name, h.Name, err)
	}
	ar.blobs[name] = d
	ar.sizes[d] = h.Size
	return nil
}

// resolve follows archive-internal links (bounded) to a stored blob or metadata file.
func (ar *archiveReader) resolve(name string) (digest.Digest, []byte, bool) {
	name = clean(name)
	for i := 0; i < 16; i++ {
		if d, ok := ar.blobs[name]; ok {
			return d, nil, true
		}
		if b, ok := ar.meta[name]; ok {
			return "", b, true
		}
		t, ok := ar.links[name]
		if !ok {
			return "", nil, false
		}
		name = t
	}
	return "", nil, false
}

// blobBytes returns a small blob by archive name, storing it if it was kept in memory.
func (ar *archiveReader) blobBytes(ctx context.Context, name string) (digest.Digest, []byte, error) {
	d, b, ok := ar.resolve(name)
	if !ok {
		return "", nil, errdefs.Invalidf("load %s: entry %q is named by the archive's manifest but missing", ar.name, name)
	}
	if b == nil {
		var err error
		if b, err = ar.cs.ReadBlob(ctx, d); err != nil {
			return "", nil, err
		}
		return d, b, nil
	}
	d, err := ar.cs.WriteBlob(ctx, ar.lease, b)
	return d, b, err
}

func (ar *archiveReader) docker(ctx context.Context) ([]Loaded, error) {
	var dms []dockerManifest
	if err := json.Unmarshal(ar.meta["manifest.json"], &dms); err != nil {
		return nil, errdefs.Invalidf("load %s: entry \"manifest.json\": %v", ar.name, err)
	}
	if len(dms) == 0 {
		return nil, errdefs.Invalidf("load %s: entry \"manifest.json\" lists no image", ar.name)
	}
	var out []Loaded
	for _, dm := range dms {
		cd, cb, err := ar.blobBytes(ctx, dm.Config)
		if err != nil {
			return nil, err
		}
		cfg, err := ParseConfig(cb)
		if err != nil {
			return nil, errdefs.Invalidf("load %s: entry %q: %v", ar.name, dm.Config, err)
		}
		if len(dm.Layers) != len(cfg.RootFS.DiffIDs) {
			return nil, errdefs.Invalidf("load %s: entry \"manifest.json\": %d layers but config %s names %d diff IDs", ar.name, len(dm.Layers), cd, len(cfg.RootFS.DiffIDs))
		}
		m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cd, Size: int64(len(cb))}}
		for _, ln := range dm.Layers {
			ld, _, ok := ar.resolve(ln)
			if !ok || ld == "" {
				return nil, errdefs.Invalidf("load %s: layer entry %q is named by manifest.json but missing", ar.name, ln)
			}
			mt, err := ar.layerMediaType(ctx, ld)
			if err != nil {
				return nil, err
			}
			m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: mt, Digest: ld, Size: ar.sizes[ld]})
		}
		l, err := ar.record(ctx, m, cfg)
		if err != nil {
			return nil, err
		}
		for _, t := range dm.RepoTags {
			n, err := reference.ParseTag(t)
			if err != nil {
				return nil, errdefs.Invalidf("load %s: entry \"manifest.json\": RepoTags %q: %v", ar.name, t, err)
			}
			l.Names = append(l.Names, n)
		}
		out = append(out, l)
	}
	return out, nil
}

func (ar *archiveReader) layerMediaType(ctx context.Context, d digest.Digest) (string, error) {
	f, err := ar.cs.Open(ctx, d)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var head [4]byte
	n, _ := io.ReadFull(f, head[:])
	switch {
	case n >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return ocispec.MediaTypeImageLayerGzip, nil
	case n == 4 && bytes.Equal(head[:], []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return ocispec.MediaTypeImageLayerZstd, nil
	}
	return ocispec.MediaTypeImageLayer, nil
}

func (ar *archiveReader) record(ctx context.Context, m ocispec.Manifest, cfg Config) (Loaded, error) {
	mb, err := json.Marshal(m)
	if err != nil {
		return Loaded{}, err
	}
	md, err := ar.cs.WriteBlob(ctx, ar.lease, mb)
	if err != nil {
		return Loaded{}, err
	}
	return Loaded{Manifest: ocispec.Descriptor{MediaType: m.MediaType, Digest: md, Size: int64(len(mb))}, Config: cfg, Layers: m.Layers}, nil
}

func (ar *archiveReader) oci(ctx context.Context) ([]Loaded, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(ar.meta["index.json"], &idx); err != nil {
		return nil, errdefs.Invalidf("load %s: entry \"index.json\": %v", ar.name, err)
	}
	var out []Loaded
	for _, d := range idx.Manifests {
		md, err := ar.pickManifest(ctx, d, 0)
		if err != nil {
			return nil, err
		}
		mb, err := ar.cs.ReadBlob(ctx, md.Digest)
		if err != nil {
			return nil, errdefs.Invalidf("load %s: manifest %s: %v", ar.name, md.Digest, err)
		}
		m, err := ParseManifest(mb)
		if err != nil {
			return nil, errdefs.Invalidf("load %s: manifest %s: %v", ar.name, md.Digest, err)
		}
		cb, err := ar.cs.ReadBlob(ctx, m.Config.Digest)
		if err != nil {
			return nil, errdefs.Invalidf("load %s: config %s: %v", ar.name, m.Config.Digest, err)
		}
		cfg, err := ParseConfig(cb)
		if err != nil {
			return nil, errdefs.Invalidf("load %s: config %s: %v", ar.name, m.Config.Digest, err)
		}
		if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
			return nil, errdefs.Invalidf("load %s: manifest %s has %d layers but its config names %d diff IDs", ar.name, md.Digest, len(m.Layers), len(cfg.RootFS.DiffIDs))
		}
		for _, l := range m.Layers {
			if _, err := ar.cs.Info(ctx, l.Digest); err != nil {
				return nil, errdefs.Invalidf("load %s: layer blob %s is missing from the archive", ar.name, l.Digest)
			}
		}
		l := Loaded{Manifest: ocispec.Descriptor{MediaType: md.MediaType, Digest: md.Digest, Size: md.Size}, Config: cfg, Layers: m.Layers}
		if l.Manifest.MediaType == "" {
			l.Manifest.MediaType = ocispec.MediaTypeImageManifest
		}
		if n, ok := nameFromAnnotations(d.Annotations); ok {
			l.Names = append(l.Names, n)
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, errdefs.Invalidf("load %s: entry \"index.json\" lists no image", ar.name)
	}
	return out, nil
}

// pickManifest follows nested indexes to this host's platform (linux/GOARCH).
func (ar *archiveReader) pickManifest(ctx context.Context, d ocispec.Descriptor, depth int) (ocispec.Descriptor, error) {
	if depth > 4 {
		return d, errdefs.Invalidf("load %s: indexes nested too deep", ar.name)
	}
	if !IsIndex(d.MediaType) {
		return d, nil
	}
	b, err := ar.cs.ReadBlob(ctx, d.Digest)
	if err != nil {
		return d, errdefs.Invalidf("load %s: index %s: %v", ar.name, d.Digest, err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return d, errdefs.Invalidf("load %s: index %s: %v", ar.name, d.Digest, err)
	}
	for _, m := range idx.Manifests {
		if m.Platform == nil || (m.Platform.OS == "linux" && m.Platform.Architecture == hostArch()) {
			if _, err := ar.cs.Info(ctx, m.Digest); err == nil {
				return ar.pickManifest(ctx, m, depth+1)
			}
		}
	}
	return d, errdefs.Invalidf("load %s: index %s has no manifest for linux/%s in the archive", ar.name, d.Digest, hostArch())
}

// nameFromAnnotations reads an image name the way docker load does: containerd's full name, else
// an OCI ref.name that is a whole reference (a bare tag like "latest" names no repository).
func nameFromAnnotations(a map[string]string) (reference.Named, bool) {
	if s := a[AnnotationName]; s != "" {
		if n, err := reference.ParseTag(s); err == nil {
			return n, true
		}
	}
	if s := a[AnnotationRefName]; strings.ContainsAny(s, ":/") {
		if n, err := reference.ParseTag(s); err == nil {
			return n, true
		}
	}
	return reference.Named{}, false
}
