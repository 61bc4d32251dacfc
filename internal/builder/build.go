package builder

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hako-dev/hako/internal/archive"
	"github.com/hako-dev/hako/internal/build"
	"github.com/hako-dev/hako/internal/content"
	"github.com/hako-dev/hako/internal/dockerfile"
	"github.com/hako-dev/hako/internal/engine"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/image"
	"github.com/hako-dev/hako/internal/layer"
	"github.com/hako-dev/hako/internal/lockfile"
	"github.com/hako-dev/hako/internal/mount"
	"github.com/hako-dev/hako/internal/reference"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Progress receives a build's progress events; see package build.
type Progress = build.Progress

// Vertex is one line of build progress.
type Vertex = build.Vertex

// Options are `build`'s arguments.
type Options struct {
	// ContextDir is the build context directory; ContextTar, when set, is a tar of the context
	// (`hako build -`) and wins.
	ContextDir string
	ContextTar io.Reader
	// Dockerfile is the -f path ("" for Dockerfile in the context); DockerfileContent, when not
	// nil, is the Dockerfile itself (-f -).
	Dockerfile        string
	DockerfileContent []byte
	Tags              []string
	BuildArgs         map[string]string // resolved with build.ParseBuildArgs
	Target            string
	Labels            map[string]string
	NoCache           bool
	NoCacheFilter     []string // stage names whose steps are rebuilt
	// Pull would refresh base images from a registry; hako has none, so it only checks that the
	// bases are in the store.
	Pull     bool
	Progress Progress
	// Output is --output; nil records and tags the image in the store.
	Output *Output
	// Secrets and SSH are --secret and --ssh: what RUN --mount=type=secret|ssh may mount.
	// LookupEnv reads env= secrets (os.LookupEnv when nil).
	Secrets   []build.Secret
	SSH       []build.SSH
	LookupEnv func(string) (string, bool)
}

// Result is what a build made.
type Result struct {
	ID       digest.Digest
	Names    []string
	Warnings []string
}

// stepImage is the state after a step: the image's ID, config and layer descriptors.
type stepImage struct {
	id     digest.Digest
	cfg    image.Config
	layers []ocispec.Descriptor
}

// Builder carries out `build` and `builder prune` on an engine's store.
type Builder struct{ e *engine.Engine }

// New is the builder of e's store.
func New(e *engine.Engine) *Builder { return &Builder{e: e} }

// job is one build in progress.
type job struct {
	bd       *Builder
	e        *engine.Engine
	opts     Options
	progress build.Progress
	lease    *content.Lease
	plan     *build.Plan
	context  *build.Source
	tmp      string // the build's scratch directory
	vertex   int
	runs     map[int]*stageRun // by stage index; set before the stages start, then read-only
	platform string
	epoch    *time.Time // SOURCE_DATE_EPOCH; nil when the build has none

	mu       sync.Mutex // vertex
	unpackMu sync.Mutex
	httpMu   sync.Mutex
	httpLock *lockfile.Lock // shared on the download cache once an ADD <url> used it
}

func (b *job) start(name string) *build.Vertex {
	b.mu.Lock()
	b.vertex++
	v := &build.Vertex{ID: b.vertex, Name: name, Started: time.Now()}
	b.mu.Unlock()
	b.progress.Start(v)
	return v
}

func (b *job) done(v *build.Vertex, err error) {
	v.Completed = time.Now()
	v.Err = err
	b.progress.Done(v)
}

// Build builds an image from a Dockerfile. Every step is recorded as an intermediate image
// whose parent is the previous step's, so that `history` shows each step's ID and `run` starts
// it; the cache maps each step's key to that image. Only a build that succeeds tags anything.
func (bd *Builder) Build(ctx context.Context, opts Options) (*Result, error) {
	b := &job{bd: bd, e: bd.e, opts: opts, progress: opts.Progress}
	if b.progress == nil {
		b.progress = build.Discard{}
	}
	b.progress = &lockedProgress{p: b.progress}
	var names []reference.Named
	for _, t := range opts.Tags {
		n, err := reference.ParseTag(t)
		if err != nil {
			return nil, fmt.Errorf("invalid tag %q: %w", t, err)
		}
		names = append(names, n)
	}
	host := ocispec.Platform{OS: "linux", Architecture: goruntime.GOARCH}
	b.platform = host.OS + "/" + host.Architecture
	var err error
	if b.epoch, err = sourceDateEpoch(opts.BuildArgs); err != nil {
		return nil, err
	}
	bd.cleanStaleBuilds()
	// The lock says this build is alive; a build killed with -9 leaves it free, and the next
	// build cleans up after it (mounts, the RUN's container, the scratch directory). The
	// directory is made and locked under a name the cleaner ignores, then renamed: a concurrent
	// build's cleaner must never see it unlocked.
	newTmp, err := os.MkdirTemp(bd.tmpDir(), ".new-build-")
	if err != nil {
		return nil, err
	}
	live, err := lockfile.Exclusive(filepath.Join(newTmp, ".lock"))
	if err != nil {
		os.RemoveAll(newTmp)
		return nil, err
	}
	tmp := filepath.Join(bd.tmpDir(), strings.TrimPrefix(filepath.Base(newTmp), ".new-"))
	if err := os.Rename(newTmp, tmp); err != nil {
		live.Unlock()
		os.RemoveAll(newTmp)
		return nil, err
	}
	b.tmp = tmp
	defer func() {
		os.RemoveAll(tmp)
		live.Unlock()
	}()

	// A failed build's blobs go once its lease is released (the steps before the failure are
	// images, and stay cached); with the lease still held the collection would keep them.
	lease, endLease, err := bd.e.WriteLease(ctx)
	if err != nil {
		return nil, err
	}
	b.lease = lease
	failed := true
	defer func() { endLease(!failed) }()
	defer func() {
		if b.httpLock != nil {
			b.httpLock.Unlock()
		}
	}()

	if err := b.load(ctx, host); err != nil {
		return nil, err
	}
	var res Result
	if len(b.plan.Unused) > 0 {
		w := build.UnusedArgsWarning(b.plan.Unused)
		res.Warnings = append(res.Warnings, w)
		b.progress.Warn(w)
	}
	if err := b.buildStages(ctx); err != nil {
		return nil, err
	}
	final := b.runs[b.plan.Target.Index].res
	var id digest.Digest
	if o := opts.Output; o != nil && o.Type != "image" {
		v := b.start(o.exportName())
		id, err = b.exportOutput(ctx, final, names)
		b.done(v, err)
		names = nil
	} else {
		v := b.start("exporting to image")
		id, err = b.export(ctx, final, names)
		b.done(v, err)
	}
	if err != nil {
		return nil, err
	}
	res.ID = id
	for _, n := range names {
		res.Names = append(res.Names, n.Familiar())
	}
	failed = false
	return &res, nil
}

// cleanStaleBuilds takes down what builds killed mid-step left: their RUN containers, their
// mounts and their scratch directories. Their snapshots and blobs are GC's (their lease is dead).
func (bd *Builder) cleanStaleBuilds() {
	dirs, _ := filepath.Glob(filepath.Join(bd.tmpDir(), "build-*"))
	for _, d := range dirs {
		l, err := lockfile.TryExclusive(filepath.Join(d, ".lock"))
		if err != nil {
			continue // alive, or not ours to judge
		}
		ents, _ := os.ReadDir(d)
		rt, _ := bd.e.NewRuntime()
		for _, de := range ents {
			if id, ok := strings.CutPrefix(de.Name(), "rootfs-"); ok && rt != nil {
				rt.Delete("hako-build-"+id, true)
			}
			if de.IsDir() {
				mount.Unmount(filepath.Join(d, de.Name()))
			}
		}
		if err := os.RemoveAll(d); err == nil {
			l.Unlock()
			continue
		}
		l.Unlock()
	}
}

func (bd *Builder) tmpDir() string {
	d := filepath.Join(bd.e.Root, "tmp")
	os.MkdirAll(d, 0o700)
	return d
}

// load reads the context and the Dockerfile, and plans.
func (b *job) load(ctx context.Context, host ocispec.Platform) error {
	opts := b.opts
	v := b.start("[internal] load build definition from " + dockerfileName(opts))
	ctxDir := opts.ContextDir
	if opts.ContextTar != nil {
		ctxDir = filepath.Join(b.tmp, "context")
		if err := os.Mkdir(ctxDir, 0o755); err != nil {
			return err
		}
		rc, _, err := archive.DecompressStream(opts.ContextTar)
		if err != nil {
			b.done(v, err)
			return errdefs.Invalidf("read build context from stdin: %v", err)
		}
		_, err = archive.Apply(ctx, ctxDir, rc, archive.ApplyOptions{Whiteouts: archive.OCIWhiteouts, Name: "build context"})
		rc.Close()
		if err != nil {
			b.done(v, err)
			return errdefs.Invalidf("read build context from stdin: %v", err)
		}
	}
	if fi, err := os.Stat(ctxDir); err != nil || !fi.IsDir() {
		err := errdefs.NotFoundf("unable to prepare context: path %q not found", ctxDir)
		if err == nil {
			err = errdefs.Invalidf("unable to prepare context: %s is not a directory", ctxDir)
		}
		b.done(v, err)
		return err
	}
	src := opts.DockerfileContent
	dfPath := ""
	name := "Dockerfile"
	if src == nil {
		dfPath = opts.Dockerfile
		if dfPath == "" {
			dfPath = filepath.Join(ctxDir, "Dockerfile")
		} else if !filepath.IsAbs(dfPath) && opts.ContextTar != nil {
			dfPath = filepath.Join(ctxDir, dfPath)
		}
		name = filepath.Base(dfPath)
		var err error
		src, err = os.ReadFile(dfPath)
		if errors.Is(err, fs.ErrNotExist) {
			err = errdefs.NotFoundf("failed to read dockerfile: open %s: no such file or directory", dfPath)
		} else if err != nil {
			err = fmt.Errorf("failed to read dockerfile: %w", err)
		}
		if err != nil {
			b.done(v, err)
			return err
		}
	}
	f, err := dockerfile.Parse(name, src)
	if err != nil {
		b.done(v, err)
		return errdefs.InvalidArgument(err)
	}
	for _, w := range f.Warnings {
		b.progress.Warn(w.String())
	}
	b.done(v, nil)

	v = b.start("[internal] load .dockerignore")
	ignore := build.IgnoreFile(ctxDir, dfPath)
	b.context, err = build.NewContext(ctxDir, ignore)
	b.done(v, err)
	if err != nil {
		return errdefs.InvalidArgument(err)
	}
	b.plan, err = build.NewPlan(f, build.PlanOptions{BuildArgs: opts.BuildArgs, Target: opts.Target, Platform: host})
	if err != nil {
		return err
	}
	// Check every base image before building anything.
	seen := map[string]bool{}
	for _, sp := range b.plan.Stages {
		if sp.BaseStage != nil || sp.Base == "scratch" || seen[sp.Base] {
			continue
		}
		seen[sp.Base] = true
		v := b.start("[internal] load metadata for " + fullName(sp.Base))
		_, _, err := b.baseImage(ctx, sp.Base)
		b.done(v, err)
		if err != nil {
			return &build.StepError{File: f.Name, Line: sp.Line, Err: err}
		}
	}
	return nil
}

func dockerfileName(opts Options) string {
	if opts.DockerfileContent != nil || opts.Dockerfile == "" {
		return "Dockerfile"
	}
	return filepath.Base(opts.Dockerfile)
}

func fullName(ref string) string {
	if n, err := reference.ParseDefaultTag(ref); err == nil {
		return n.String()
	}
	return ref
}

// baseImage finds a FROM image in the store; there is no registry to pull from.
func (b *job) baseImage(ctx context.Context, ref string) (image.Image, image.Config, error) {
	img, cfg, err := b.e.ResolveImage(ctx, ref)
	if errors.Is(err, errdefs.ErrNotFound) {
		return img, cfg, errdefs.NotFoundf("FROM %s: no such image in the store, and hako has no registry configured to pull it from: load or import it first (hako load -i FILE, hako import FILE %s)", ref, ref)
	}
	return img, cfg, err
}

// imageState reads an image's config and layers, protecting its blobs with the build's lease
// so that a concurrent prune cannot take them while this build uses them.
func (b *job) imageState(ctx context.Context, img image.Image) (*stepImage, error) {
	m, err := b.e.Images.Manifest(ctx, img)
	if err != nil {
		return nil, err
	}
	cfg, _, err := b.e.Images.Config(ctx, img)
	if err != nil {
		return nil, err
	}
	for _, d := range append([]digest.Digest{img.Manifest.Digest, m.Config.Digest}, layerDigests(m.Layers)...) {
		if err := b.lease.Protect(d); err != nil {
			return nil, err
		}
	}
	return &stepImage{id: img.ID, cfg: cfg, layers: slices.Clone(m.Layers)}, nil
}

func layerDigests(ls []ocispec.Descriptor) []digest.Digest {
	var out []digest.Digest
	for _, l := range ls {
		out = append(out, l.Digest)
	}
	return out
}

func (b *job) buildStage(ctx context.Context, sp *build.StagePlan) error {
	f := b.plan.File
	var cur *stepImage
	scratch := false
	fromName := sp.Base
	switch {
	case sp.BaseStage != nil:
		var err error
		if cur, err = b.stageResult(ctx, sp.BaseStage.Index); err != nil {
			return err
		}
	case sp.Base == "scratch":
		scratch = true
		cur = &stepImage{}
	default:
		img, _, err := b.baseImage(ctx, sp.Base)
		if err != nil {
			return &build.StepError{File: f.Name, Line: sp.Line, Err: err}
		}
		if cur, err = b.imageState(ctx, img); err != nil {
			return &build.StepError{File: f.Name, Line: sp.Line, Err: err}
		}
		fromName = fullName(sp.Base)
	}
	st, err := b.plan.NewStage(sp, cur.cfg, scratch)
	if err != nil {
		return err
	}
	prefix := fmt.Sprintf("[%s ", sp.DisplayName())
	if len(b.plan.Stages) == 1 {
		prefix = "["
	}
	v := b.start(fmt.Sprintf("%s1/%d] FROM %s", prefix, st.Total(), fromName))
	b.done(v, nil)
	noCache := b.opts.NoCache || slices.Contains(b.opts.NoCacheFilter, sp.Name) || slices.Contains(b.opts.NoCacheFilter, sp.DisplayName())
	for {
		step, err := st.Next()
		if err != nil {
			return err
		}
		if step == nil {
			break
		}
		v := b.start(fmt.Sprintf("%s%d/%d] %s", prefix, step.Pos, st.Total(), step.Display))
		next, cached, err := b.step(ctx, st, step, cur, noCache, v)
		if err != nil {
			b.done(v, err)
			var re *build.RunError
			if errors.As(err, &re) {
				return &StepError{File: f.Name, Line: step.Line, Step: fmt.Sprintf("%s%d/%d] %s", prefix, step.Pos, st.Total(), step.Display), Err: err, ExitCode: re.Code}
			}
			return &StepError{File: f.Name, Line: step.Line, Step: fmt.Sprintf("%s%d/%d] %s", prefix, step.Pos, st.Total(), step.Display), Err: err}
		}
		v.Cached = cached
		b.done(v, nil)
		st.Advance(next.cfg)
		cur = next
	}
	// A stage with no instructions is its base image.
	b.runs[sp.Index].res = cur
	return nil
}

// StepError is a step that failed: which one, where, and (for RUN) the exit code.
type StepError struct {
	File     string
	Line     int
	Step     string
	ExitCode int // the RUN's exit code; 0 when the step failed otherwise
	Err      error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s:%d: step %s failed: %v", e.File, e.Line, e.Step, e.Err)
}
func (e *StepError) Unwrap() error { return e.Err }

// step carries out one step, or takes it from the cache.
func (b *job) step(ctx context.Context, st *build.Stage, step *build.Step, parent *stepImage, noCache bool, v *build.Vertex) (*stepImage, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	var sources string
	waitSources := func() error { return nil } // until the sources' digest is known
	var src *build.Source
	var matches []build.Match
	if step.Kind == build.KindCopy {
		var release func()
		var err error
		src, release, err = b.copySource(ctx, step.Copy)
		if err != nil {
			return nil, false, err
		}
		defer release()
		if matches, err = step.Copy.Resolve(src); err != nil {
			return nil, false, err
		}
		if len(step.Copy.Remote) > 0 {
			fetched, err := b.fetchRemote(ctx, step.Copy, v)
			if err != nil {
				return nil, false, err
			}
			matches = append(matches, fetched...)
		}
		if noCache && !step.Copy.Link {
			// The key is only recorded, not looked up: hash the sources while they are copied.
			// If the step fails first, the hash is cancelled rather than waited for to the end
			// (it must still stop before release unmounts the source it reads).
			digestCtx, cancelDigest := context.WithCancel(ctx)
			ch := make(chan error, 1)
			go func() {
				var err error
				sources, err = step.Copy.Digest(digestCtx, src, matches)
				ch <- err
			}()
			waitSources = sync.OnceValue(func() error { return <-ch })
			defer func() {
				cancelDigest()
				waitSources()
			}()
		} else if sources, err = step.Copy.Digest(ctx, src, matches); err != nil {
			return nil, false, err
		}
	}
	if step.Kind == build.KindRun && len(step.Run.Mounts) > 0 {
		if err := b.checkRunMounts(step.Run); err != nil {
			return nil, false, err
		}
		var err error
		if sources, err = b.runMountSources(ctx, step.Run); err != nil {
			return nil, false, err
		}
	}
	if step.Kind == build.KindCopy && step.Copy.Link {
		return b.linkStep(ctx, st, step, parent, src, matches, sources, noCache, v)
	}
	if !noCache {
		key := step.CacheKey(parent.id, b.keyPlatform(), sources)
		if img, ok := b.bd.cacheLookup(ctx, key); ok {
			if s, err := b.imageState(ctx, img); err == nil {
				return s, true, nil
			}
		}
	}
	var diffID *digest.Digest
	layers := slices.Clone(parent.layers)
	if step.Kind != build.KindMeta {
		desc, d, err := b.fsStep(ctx, st, step, parent, src, matches, v)
		if err != nil {
			return nil, false, err
		}
		if desc != nil {
			diffID = &d
			layers = append(layers, *desc)
		}
	}
	engine.Phase("build: step done")
	if err := waitSources(); err != nil {
		return nil, false, err
	}
	key := step.CacheKey(parent.id, b.keyPlatform(), sources)
	cfg := st.Result(step, diffID, b.now())
	id, err := b.e.RecordImageAs(ctx, b.lease, cfg, layers, parent.id, true)
	if err != nil {
		return nil, false, err
	}
	winner, adopted, err := b.bd.cacheStoreFirst(ctx, key, id)
	if err != nil {
		return nil, false, err
	}
	if adopted {
		// A concurrent build made this step first: use its image, so that both builds share
		// one chain (ours stays behind as an untagged step for builder prune).
		if s, err := b.imageState(ctx, winner); err == nil {
			return s, false, nil
		}
	}
	return &stepImage{id: id, cfg: cfg, layers: layers}, false, nil
}

// copySource is the tree a COPY reads: the context, or the filesystem of a stage or an image
// (COPY --from), mounted read-only until release.
func (b *job) copySource(ctx context.Context, spec *build.CopySpec) (*build.Source, func(), error) {
	if spec.From == "" {
		return b.context, func() {}, nil
	}
	var si *stepImage
	name := "image " + spec.From
	if spec.FromStage != nil {
		name = "stage " + spec.FromStage.DisplayName()
		var err error
		if si, err = b.stageResult(ctx, spec.FromStage.Index); err != nil {
			return nil, nil, fmt.Errorf("COPY --from=%s: %w", spec.From, err)
		}
	} else {
		img, _, err := b.baseImage(ctx, spec.From)
		if err != nil {
			return nil, nil, fmt.Errorf("COPY --from=%s: %w", spec.From, err)
		}
		if si, err = b.imageState(ctx, img); err != nil {
			return nil, nil, err
		}
	}
	dir, release, err := b.view(ctx, si)
	if err != nil {
		return nil, nil, err
	}
	return &build.Source{Root: dir, KeepOwner: true, Name: name}, release, nil
}

// view mounts an image's filesystem read-only in the build's scratch directory.
func (b *job) view(ctx context.Context, si *stepImage) (string, func(), error) {
	dir, err := os.MkdirTemp(b.tmp, "view-")
	if err != nil {
		return "", nil, err
	}
	diffIDs := si.cfg.RootFS.DiffIDs
	if len(diffIDs) == 0 {
		return dir, func() {}, nil
	}
	if err := b.unpack(ctx, si.layers, diffIDs); err != nil {
		return "", nil, err
	}
	chain := layer.ChainIDs(diffIDs)
	key := "tmp-view-" + randomHex()
	mounts, err := b.e.Snapshots.View(ctx, key, chain[len(chain)-1].String(), layer.TempLabels(b.lease))
	if err != nil {
		return "", nil, err
	}
	if err := mount.All(mounts, dir); err != nil {
		b.e.Snapshots.Remove(context.WithoutCancel(ctx), key)
		return "", nil, err
	}
	return dir, func() {
		mount.Unmount(dir)
		b.e.Snapshots.Remove(context.WithoutCancel(ctx), key)
	}, nil
}

// fsStep runs a RUN or a COPY in a new snapshot on the parent's layers and turns what changed
// into a layer blob and a committed snapshot. It returns nil when nothing changed: the step then
// adds no layer, as in BuildKit.
func (b *job) fsStep(ctx context.Context, st *build.Stage, step *build.Step, parent *stepImage, src *build.Source, matches []build.Match, v *build.Vertex) (*ocispec.Descriptor, digest.Digest, error) {
	e := b.e
	diffIDs := parent.cfg.RootFS.DiffIDs
	if len(diffIDs)+1 > layer.MaxLayers {
		return nil, "", errdefs.Invalidf("the image would have more than %d layers", layer.MaxLayers)
	}
	parentChain := ""
	if len(diffIDs) > 0 {
		if err := b.unpack(ctx, parent.layers, diffIDs); err != nil {
			return nil, "", err
		}
		chain := layer.ChainIDs(diffIDs)
		parentChain = chain[len(chain)-1].String()
	}
	id := randomHex()
	key := "tmp-build-" + id
	mounts, err := e.Snapshots.Prepare(ctx, key, parentChain, layer.TempLabels(b.lease))
	if err != nil {
		return nil, "", err
	}
	committed := false
	defer func() {
		if !committed {
			e.Snapshots.Remove(context.WithoutCancel(ctx), key)
		}
	}()
	rootfs := filepath.Join(b.tmp, "rootfs-"+id)
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return nil, "", err
	}
	if err := mount.All(mounts, rootfs); err != nil {
		return nil, "", err
	}
	mounted := true
	unmount := func() error {
		if !mounted {
			return nil
		}
		mounted = false
		return mount.Unmount(rootfs)
	}
	defer unmount()

	engine.Phase("build: step " + step.Display)
	switch step.Kind {
	case build.KindRun:
		out := &vertexLog{p: b.progress, v: v}
		err = b.runWithMounts(ctx, step.Run, id, rootfs, out)
	case build.KindCopy:
		var owner *build.Owner
		if owner, err = build.ResolveChown(rootfs, step.Copy.Chown); err == nil {
			err = step.Copy.Copy(ctx, src, matches, rootfs, build.CopyOptions{Chown: owner})
		}
	}
	if err != nil {
		return nil, "", err
	}
	engine.Phase("build: write the layer")
	return b.commitLayer(ctx, key, mounts, unmount, parentChain, diffIDs)
}

// commitLayer writes the diff of an active snapshot as an uncompressed layer blob (its digest
// is its diffID) and commits the snapshot under the new chain ID.
// unmount takes the step's root filesystem down: with overlay, while the layer is written from
// the upper dir, since unmounting an overlay waits for its writes to reach the disk.
func (b *job) commitLayer(ctx context.Context, key string, mounts []mount.Mount, unmount func() error, parentChain string, diffIDs []digest.Digest) (*ocispec.Descriptor, digest.Digest, error) {
	e := b.e
	dir, wh, err := layer.Target(mounts)
	if err != nil {
		unmount()
		return nil, "", err
	}
	var upper string
	var prune []string
	unmounted := make(chan error, 1)
	if wh == archive.OverlayWhiteouts && b.epoch == nil {
		if upper, prune, err = copyUps(mounts); err != nil {
			unmount()
			return nil, "", err
		}
		go func() { unmounted <- unmount() }()
	} else {
		// Times are clamped, and the native snapshotter's trees compared, unmounted.
		unmounted <- unmount()
	}
	waitUnmount := sync.OnceValue(func() error { return <-unmounted })
	defer waitUnmount()
	if b.epoch != nil {
		if err := waitUnmount(); err != nil {
			return nil, "", err
		}
		if err := clampTimes(dir, *b.epoch); err != nil {
			return nil, "", fmt.Errorf("clamp times to SOURCE_DATE_EPOCH: %w", err)
		}
	}
	w, err := e.Content.Writer(ctx, b.lease)
	if err != nil {
		return nil, "", err
	}
	defer w.Close()
	if wh == archive.OverlayWhiteouts {
		if b.epoch != nil { // unmounted already
			if upper, prune, err = copyUps(mounts); err != nil {
				return nil, "", err
			}
		}
		skip := make(map[string]bool, len(prune))
		for _, rel := range prune {
			skip[rel] = true
		}
		err = archive.WriteOverlayDiff(ctx, w, dir, archive.DiffOptions{SourceDateEpoch: b.epoch, Skip: skip})
		if uerr := waitUnmount(); err == nil && uerr != nil {
			err = uerr
		}
		if err == nil {
			removeCopyUps(upper, prune) // the snapshot holds what the layer holds
		}
	} else {
		lower := ""
		if parentChain != "" {
			vkey := "tmp-lower-" + randomHex()
			vm, verr := e.Snapshots.View(ctx, vkey, parentChain, layer.TempLabels(b.lease))
			if verr != nil {
				return nil, "", verr
			}
			defer e.Snapshots.Remove(context.WithoutCancel(ctx), vkey)
			if lower, _, err = layer.Target(vm); err != nil {
				return nil, "", err
			}
		}
		err = archive.WriteDiff(ctx, w, lower, dir, archive.DiffOptions{SourceDateEpoch: b.epoch})
	}
	if err != nil {
		return nil, "", err
	}
	// A tar with no entries is its 1024-byte trailer: the step changed nothing.
	if w.Size() <= 1024 {
		return nil, "", nil
	}
	diffID := w.Digest()
	size := w.Size()
	dgst, err := w.Commit(ctx, size, diffID)
	if err != nil {
		return nil, "", err
	}
	engine.Phase("build: commit the snapshot")
	chain := layer.ChainIDs(append(slices.Clone(diffIDs), diffID))
	if err := layer.CommitLayer(ctx, e.Snapshots, chain[len(chain)-1].String(), key); err != nil {
		return nil, "", err
	}
	return &ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: dgst, Size: size}, diffID, nil
}

// export records the target's image (with --label) as a top-level image and tags it.
func (b *job) export(ctx context.Context, final *stepImage, names []reference.Named) (digest.Digest, error) {
	id := final.id
	if len(b.opts.Labels) > 0 {
		cfg := b.labeled(final.cfg)
		var err error
		if id, err = b.e.RecordImageAs(ctx, b.lease, cfg, final.layers, final.id, false); err != nil {
			return "", err
		}
	}
	if id == "" {
		return "", errdefs.Invalidf("the target stage is empty: FROM scratch with no instructions makes no image")
	}
	err := b.e.WithLock(func() error {
		return b.e.Images.Update(ctx, func(t *image.Txn) error {
			img, err := image.Resolve(t.Images(), id.String())
			if err != nil {
				return err
			}
			if len(names) == 0 && img.Intermediate {
				// An untagged build result is listed by `images` (as <none>), unlike its steps.
				t.Delete(img.Manifest.Digest)
				img.Intermediate = false
			}
			t.Put(img, names...)
			return nil
		})
	})
	return id, err
}

// vertexLog streams a RUN's output to the progress display.
type vertexLog struct {
	p build.Progress
	v *build.Vertex
}

func (l *vertexLog) Write(p []byte) (int, error) {
	l.p.Log(l.v, append([]byte(nil), p...))
	return len(p), nil
}

func randomHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
