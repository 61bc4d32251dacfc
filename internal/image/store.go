package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hako-dev/hako/internal/atomicfile"
	"github.com/hako-dev/hako/internal/content"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/reference"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Annotations hako writes on the descriptors of its index.json.
const (
	AnnotationName    = "io.containerd.image.name"   // the full normalised reference
	AnnotationRefName = ocispec.AnnotationRefName    // the tag, for OCI tools
	AnnotationID      = "io.hako.image.id"           // the config digest, so listing needs no blob reads
	AnnotationCreated = "io.hako.image.created"      // when the record was made or last tagged
	AnnotationParent  = "io.hako.image.parent"       // the image a build step started from
	AnnotationHidden  = "io.hako.image.intermediate" // "true" for build steps: listed only with -a
)

// Image is one image record: a manifest, the names that point to it, and its ID.
type Image struct {
	ID           digest.Digest // config digest
	Manifest     ocispec.Descriptor
	Names        []reference.Named // tags (and digest references), sorted
	Created      time.Time         // when the record was made or last tagged
	Parent       digest.Digest
	Intermediate bool
}

// Dangling reports an image with no name.
func (i Image) Dangling() bool { return len(i.Names) == 0 }

// Store is the image index over a content store. Mutations take the store lock that the caller
// passes in with Update; reads need no lock (index.json is replaced atomically).
type Store struct {
	Content *content.Store
}

func (s *Store) indexPath() string { return filepath.Join(s.Content.Root(), "index.json") }

func (s *Store) readIndex() (ocispec.Index, error) {
	var idx ocispec.Index
	b, err := os.ReadFile(s.indexPath())
	if errors.Is(err, fs.ErrNotExist) {
		idx.SchemaVersion = 2
		idx.MediaType = ocispec.MediaTypeImageIndex
		return idx, nil
	}
	if err != nil {
		return idx, fmt.Errorf("read image index: %w", err)
	}
	if err := decodeJSON(b, (*JSONIndex)(&idx)); err != nil {
		return idx, fmt.Errorf("read image index %s: %w", s.indexPath(), err)
	}
	return idx, nil
}

// List returns every image record, sorted newest first.
func (s *Store) List(ctx context.Context) ([]Image, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	return recordsOf(idx), nil
}

func recordsOf(idx ocispec.Index) []Image {
	byManifest := map[digest.Digest]*Image{}
	var order []digest.Digest
	for _, d := range idx.Manifests {
		img, ok := byManifest[d.Digest]
		if !ok {
			img = &Image{Manifest: ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}}
			byManifest[d.Digest] = img
			order = append(order, d.Digest)
		}
		a := d.Annotations
		if id, err := digest.Parse(a[AnnotationID]); err == nil {
			img.ID = id
		}
		if t, err := time.Parse(time.RFC3339Nano, a[AnnotationCreated]); err == nil && t.After(img.Created) {
			img.Created = t
		}
		if p, err := digest.Parse(a[AnnotationParent]); err == nil {
			img.Parent = p
		}
		if a[AnnotationHidden] == "true" {
			img.Intermediate = true
		}
		if name := a[AnnotationName]; name != "" {
			if n, err := reference.Parse(name); err == nil {
				img.Names = append(img.Names, n)
			}
		}
	}
	out := make([]Image, 0, len(order))
	for _, dg := range order {
		img := byManifest[dg]
		sort.Slice(img.Names, func(i, j int) bool { return img.Names[i].String() < img.Names[j].String() })
		if len(img.Names) > 0 {
			img.Intermediate = false
		}
		out = append(out, *img)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

func descriptorsOf(imgs []Image) ocispec.Index {
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	idx.Manifests = []ocispec.Descriptor{}
	for _, img := range imgs {
		base := map[string]string{
			AnnotationID:      img.ID.String(),
			AnnotationCreated: img.Created.UTC().Format(time.RFC3339Nano),
		}
		if img.Parent != "" {
			base[AnnotationParent] = img.Parent.String()
		}
		if img.Intermediate && len(img.Names) == 0 {
			base[AnnotationHidden] = "true"
		}
		desc := func(extra map[string]string) ocispec.Descriptor {
			a := map[string]string{}
			for k, v := range base {
				a[k] = v
			}
			for k, v := range extra {
				a[k] = v
			}
			return ocispec.Descriptor{MediaType: img.Manifest.MediaType, Digest: img.Manifest.Digest, Size: img.Manifest.Size, Annotations: a}
		}
		if len(img.Names) == 0 {
			idx.Manifests = append(idx.Manifests, desc(nil))
		}
		for _, n := range img.Names {
			extra := map[string]string{AnnotationName: n.String()}
			if n.Tag != "" {
				extra[AnnotationRefName] = n.Tag
			}
			idx.Manifests = append(idx.Manifests, desc(extra))
		}
	}
	return idx
}

// Txn is a change to the image index made under the store lock: read with Images, change with
// Put / Tag / Untag / Delete, and the whole change is written at once by Update.
type Txn struct {
	imgs []Image
}

// Update runs fn on the current index and writes the result atomically if fn succeeds. The caller
// holds the store's exclusive lock.
func (s *Store) Update(ctx context.Context, fn func(*Txn) error) error {
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	t := &Txn{imgs: recordsOf(idx)}
	if err := fn(t); err != nil {
		return err
	}
	b, err := json.MarshalIndent(descriptorsOf(t.imgs), "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(s.indexPath(), b, 0o644)
}

// Images is the index as this transaction sees it.
func (t *Txn) Images() []Image { return t.imgs }

// Put records an image (by manifest), or refreshes it if present, and points names at it. A name
// that pointed elsewhere moves here; the image it leaves keeps existing, dangling if it has no
// other name. Put returns the image and the images that lost a name.
func (t *Txn) Put(img Image, names ...reference.Named) Image {
	now := time.Now().UTC()
	for _, n := range names {
		t.Untag(n)
	}
	for i := range t.imgs {
		if t.imgs[i].Manifest.Digest == img.Manifest.Digest {
			t.imgs[i].Names = mergeNames(t.imgs[i].Names, names)
			if len(names) > 0 {
				t.imgs[i].Created = now
				t.imgs[i].Intermediate = false
			}
			return t.imgs[i]
		}
	}
	img.Names = mergeNames(nil, names)
	if img.Created.IsZero() {
		img.Created = now
	}
	// The same image (same config, so same ID) may arrive in another manifest encoding: a
	// docker-archive and an OCI archive of one image, or gzip and plain layers. Docker shows one
	// image per ID; drop the other records of this ID that have no name left, and take over the
	// names of those that do.
	var kept []Image
	for _, other := range t.imgs {
		if other.ID == img.ID && img.ID != "" && !other.Intermediate {
			img.Names = mergeNames(img.Names, other.Names)
			continue
		}
		kept = append(kept, other)
	}
	t.imgs = append([]Image{img}, kept...)
	return img
}

func mergeNames(have, add []reference.Named) []reference.Named {
	for _, n := range add {
		if !slices.Contains(have, n) {
			have = append(have, n)
		}
	}
	return have
}

// Untag removes a name; it reports the image that had it.
func (t *Txn) Untag(n reference.Named) (Image, bool) {
	for i := range t.imgs {
		if j := slices.Index(t.imgs[i].Names, n); j >= 0 {
			t.imgs[i].Names = slices.Delete(t.imgs[i].Names, j, j+1)
			return t.imgs[i], true
		}
	}
	return Image{}, false
}

// Delete removes the record of a manifest with all its names.
func (t *Txn) Delete(manifest digest.Digest) {
	t.imgs = slices.DeleteFunc(t.imgs, func(i Image) bool { return i.Manifest.Digest == manifest })
}

// Resolve finds an image the way Docker does: a name (tag, or name@digest), else a full ID or a
// unique ID prefix.
func Resolve(imgs []Image, ref string) (Image, error) {
	if ref == "" {
		return Image{}, errdefs.Invalidf("empty image reference")
	}
	if n, err := reference.ParseDefaultTag(ref); err == nil {
		for _, img := range imgs {
			for _, have := range img.Names {
				if have == n {
					return img, nil
				}
			}
			if n.Digest != "" && img.Manifest.Digest == n.Digest {
				return img, nil
			}
		}
	}
	if reference.LooksLikeID(ref) {
		prefix := strings.TrimPrefix(ref, "sha256:")
		var found []Image
		for _, img := range imgs {
			if strings.HasPrefix(img.ID.Encoded(), prefix) {
				found = append(found, img)
			}
		}
		ids := map[digest.Digest]bool{}
		for _, f := range found {
			ids[f.ID] = true
		}
		if len(ids) > 1 {
			return Image{}, errdefs.Invalidf("image ID prefix %q is ambiguous: %d images match", ref, len(ids))
		}
		if len(found) > 0 {
			// Several manifests with one config: prefer the one with names.
			sort.SliceStable(found, func(i, j int) bool { return len(found[i].Names) > len(found[j].Names) })
			return found[0], nil
		}
	}
	return Image{}, errdefs.NotFoundf("No such image: %s", ref)
}

// Get resolves ref against the current index.
func (s *Store) Get(ctx context.Context, ref string) (Image, error) {
	imgs, err := s.List(ctx)
	if err != nil {
		return Image{}, err
	}
	return Resolve(imgs, ref)
}

// Manifest and Config read an image's blobs.
func (s *Store) Manifest(ctx context.Context, img Image) (ocispec.Manifest, error) {
	b, err := s.Content.ReadBlob(ctx, img.Manifest.Digest)
	if err != nil {
		return ocispec.Manifest{}, err
	}
	return ParseManifest(b)
}

func (s *Store) Config(ctx context.Context, img Image) (Config, []byte, error) {
	b, err := s.Content.ReadBlob(ctx, img.ID)
	if err != nil {
		return Config{}, nil, err
	}
	c, err := ParseConfig(b)
	return c, b, err
}
