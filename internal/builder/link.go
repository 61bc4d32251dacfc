package builder

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hako-dev/hako/internal/build"
	"github.com/hako-dev/hako/internal/buildcache"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/layer"
	digest "github.com/opencontainers/go-digest"
)

// A COPY --link (or ADD --link) step copies into an empty tree: its layer is the diff of that
// tree against nothing, so the layer and its cache key are the same whatever the parent is, and
// a change earlier in the stage does not rebuild it. The cache entry of such a step records its
// layer besides the image it made; a later build on another parent reuses the layer and only
// writes a new config. A --chown by name is the one thing that reads the parent (its
// /etc/passwd and /etc/group): the ids are resolved there first and the key then covers the
// parent too, as it must.

// linkStep carries out a --link COPY or ADD, or takes its layer from the cache.
func (b *job) linkStep(ctx context.Context, st *build.Stage, step *build.Step, parent *stepImage, src *build.Source, matches []build.Match, sources string, noCache bool, v *build.Vertex) (*stepImage, bool, error) {
	keyParent := digest.Digest("")
	if chownByName(step.Copy.Chown) {
		owner, err := b.resolveChownIn(ctx, parent, step.Copy.Chown)
		if err != nil {
			return nil, false, err
		}
		// The ids come from the parent's files: the layer depends on them.
		keyParent = parent.id
		s2, c2 := *step, *step.Copy
		c2.Chown = fmt.Sprintf("%d:%d", owner.UID, owner.GID)
		s2.Copy = &c2
		step = &s2
	}
	key := step.CacheKey(keyParent, b.keyPlatform(), sources)
	var ll *buildcache.Link
	if !noCache {
		ll = b.linkLookup(ctx, key)
	}
	cached := ll != nil
	if ll == nil {
		if len(parent.cfg.RootFS.DiffIDs)+1 > layer.MaxLayers {
			return nil, false, errdefs.Invalidf("the image would have more than %d layers", layer.MaxLayers)
		}
		desc, d, err := b.fsStep(ctx, st, step, &stepImage{}, src, matches, v)
		if err != nil {
			return nil, false, err
		}
		ll = &buildcache.Link{Layer: desc, DiffID: d}
	}
	var diffID *digest.Digest
	layers := slices.Clone(parent.layers)
	if ll.Layer != nil {
		diffID = &ll.DiffID
		layers = append(layers, *ll.Layer)
	}
	cfg := st.Result(step, diffID, b.now())
	id, err := b.e.RecordImageAs(ctx, b.lease, cfg, layers, parent.id, true)
	if err != nil {
		return nil, false, err
	}
	if !cached {
		// The first writer wins, as for other steps; this build keeps its own image either way.
		if _, err := b.bd.cacheStore(ctx, buildcache.Entry{Key: key, Image: id, Link: ll}); err != nil {
			return nil, false, err
		}
	}
	return &stepImage{id: id, cfg: cfg, layers: layers}, cached, nil
}

// chownByName reports a --chown that names a user or group rather than giving ids.
func chownByName(spec string) bool {
	if spec == "" {
		return false
	}
	for _, part := range strings.SplitN(spec, ":", 2) {
		if _, err := strconv.Atoi(part); err != nil {
			return true
		}
	}
	return false
}

// resolveChownIn looks a --chown up in the parent's /etc/passwd and /etc/group.
func (b *job) resolveChownIn(ctx context.Context, parent *stepImage, spec string) (*build.Owner, error) {
	dir, release, err := b.view(ctx, parent)
	if err != nil {
		return nil, err
	}
	defer release()
	return build.ResolveChown(dir, spec)
}

// linkLookup finds the layer of a --link step: the entry's image must still exist (it holds the
// layer's blob), and the blob is leased for this build before it is trusted.
func (b *job) linkLookup(ctx context.Context, key digest.Digest) *buildcache.Link {
	ce, ok := b.bd.cache().Get(key, build.CacheKeyVersion)
	if !ok || ce.Link == nil {
		return nil
	}
	if _, ok := b.bd.entryImage(ctx, ce); !ok {
		return nil
	}
	if ce.Link.Layer != nil {
		if err := b.lease.Protect(ce.Link.Layer.Digest); err != nil {
			return nil
		}
		if _, err := b.e.Content.Info(ctx, ce.Link.Layer.Digest); err != nil {
			return nil
		}
	}
	return ce.Link
}
