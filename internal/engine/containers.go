package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/layer"
	"github.com/hako-dev/hako/internal/mount"
	"github.com/hako-dev/hako/internal/reference"
	"github.com/hako-dev/hako/internal/snapshot"
	digest "github.com/opencontainers/go-digest"
)

func init() {
	containerImageUsers = func(ctx context.Context, e *Engine) map[digest.Digest][]string {
		out := map[digest.Digest][]string{}
		cs, _ := e.Containers().List()
		for _, c := range cs {
			out[c.Config.ImageID] = append(out[c.Config.ImageID], c.ID)
		}
		return out
	}
}

// containerLabel labels a container's writable snapshot with the container's ID.
const containerLabel = "hako.container"

// Containers is the container record store.
func (e *Engine) Containers() *container.Store {
	return &container.Store{Root: filepath.Join(e.Root, "containers")}
}

// CreateOptions are `create`/`run`'s inputs beyond the spec options.
type CreateOptions struct {
	Name   string
	Image  string
	Config container.Config
}

// Create makes a container record and its writable snapshot on top of the image. Nothing is left
// behind when it fails.
func (e *Engine) Create(ctx context.Context, o CreateOptions) (c *container.Container, err error) {
	Phase("create: begin")
	img, cfg, err := e.ResolveImage(ctx, o.Image)
	Phase("create: image resolved")
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, errdefs.NotFoundf("Unable to find image '%s' locally (no registry is configured: load or import it first)", o.Image)
		}
		return nil, err
	}
	if o.Name != "" {
		if err := container.ValidName(o.Name); err != nil {
			return nil, err
		}
	}
	m, err := e.Images.Manifest(ctx, img)
	if err != nil {
		return nil, err
	}
	// The image's snapshots are a cache of its blobs: recreate any that GC took, under a lease
	// that keeps GC off the layers being unpacked. Only then: a lease is two files to create
	// and delete, and a run's path is short of neither (docs/run.md).
	if !layer.Unpacked(ctx, e.Snapshots, m.Layers, cfg.RootFS.DiffIDs) {
		if err := e.unpackImage(ctx, img.ID, m.Layers, cfg.RootFS.DiffIDs); err != nil { // unpack_*.go
			return nil, err
		}
	}
	Phase("create: layers checked")
	cs := e.Containers()
	c = &container.Container{ID: container.NewID(), Created: time.Now().UTC(), Config: o.Config}
	c.Config.Image = o.Image
	c.Config.ImageID = img.ID
	c.Config.Options.ID = c.ID
	c.State.Status = container.Created
	if err := e.openToUserNSRoot(c); err != nil { // userns.go
		return nil, err
	}
	chain := layer.ChainIDs(cfg.RootFS.DiffIDs)
	parent := ""
	if len(chain) > 0 {
		parent = chain[len(chain)-1].String()
	}
	var mounts []mount.Mount
	err = e.withLock(func() error {
		all, err := cs.List()
		if err != nil {
			return err
		}
		if o.Name == "" {
			o.Name = randomName(all)
		}
		for _, other := range all {
			if other.Name == o.Name {
				return errdefs.Conflictf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", o.Name, other.ID)
			}
		}
		c.Name = o.Name
		vols, err := e.prepareMounts(c, cfg.Config.ImageConfig)
		if err != nil {
			return err
		}
		// Recyclable: a container that changes nothing leaves its layer to the next one on the
		// same image (package snapshot, recycle_linux.go). Not in a user namespace, whose upper
		// directory holds the host IDs it runs as (userns.go): a copy-up made by a container
		// without one would show it /etc as nobody's, and its own would not suit one without.
		labels := map[string]string{containerLabel: c.ID}
		if !c.Config.Options.UserNS {
			labels[snapshot.RecycleLabel] = "1"
		}
		if mounts, err = e.Snapshots.Prepare(ctx, c.ID, parent, snapshot.WithLabels(labels)); err != nil {
			e.removeVolumes(vols)
			return fmt.Errorf("create container: %w", err)
		}
		b, err := container.Encode(c)
		if err == nil {
			cs.TakeSpare(c.ID) // else SaveEncoded makes the directory
			err = cs.SaveEncoded(c.ID, b)
		}
		if err != nil {
			e.Snapshots.Remove(ctx, c.ID)
			cs.Remove(c.ID)
			e.removeVolumes(vols)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	Phase("create: recorded")
	// Create is done with cfg: a monitor in this process takes it over (takeCreated).
	e.created.Store(&createdHandover{id: c.ID, image: img.ID, cfg: cfg, mounts: mounts})
	return c, nil
}

// RemoveContainer is `rm`: a running container is refused unless force, which kills it first.
func (e *Engine) RemoveContainer(ctx context.Context, ref string, force, volumes bool) (string, error) {
	cs := e.Containers()
	c, err := cs.Get(ref)
	if err != nil {
		return "", err
	}
	if c.State.Running || c.State.Restarting {
		if !force {
			state := "running"
			if c.State.Paused {
				state = "paused"
			}
			return "", errdefs.Conflictf("cannot remove container %q: container is %s: stop the container before removing or force remove", ref, state)
		}
		if err := e.Kill(ctx, c.ID, "KILL"); err != nil && !errors.Is(err, errdefs.ErrConflict) {
			return "", err
		}
		if _, err := e.Wait(ctx, c.ID, 10*time.Second); err != nil {
			return "", err
		}
	}
	if err := e.removeContainer(ctx, c); err != nil {
		return "", err
	}
	if volumes {
		return c.ID, e.removeAnonymousVolumes(c)
	}
	return c.ID, nil
}

func (e *Engine) removeContainer(ctx context.Context, c *container.Container) error {
	reclaim, err := e.detachContainer(ctx, c, true)
	if err != nil {
		return err
	}
	reclaim()
	e.sweepContainers()
	return nil
}

// sweepContainers deletes what killed removals left (detachContainer): the files of detached
// records, and the snapshot of a --rm container whose monitor was killed after its answer. A
// snapshot that cannot be removed (a full disk) keeps its detached record for the next sweep.
func (e *Engine) sweepContainers() {
	cs := e.Containers()
	cs.Sweep(func(id string) error {
		// A --rm monitor unmounts the root filesystem after its answer: one killed before
		// left it mounted in the detached record, which is not deleted while it is.
		if err := mount.Unmount(filepath.Join(cs.DetachedDir(id), "rootfs")); err != nil {
			return err
		}
		return e.removeSnapshot(context.Background(), id)
	})
}

// removeSnapshot removes a container's snapshot; one already gone is no error.
func (e *Engine) removeSnapshot(ctx context.Context, id string) error {
	if err := e.Snapshots.Remove(ctx, id); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	return nil
}

// detachContainer removes c from the store, as far as any command can see, and returns the
// function that deletes its files. A monitor of `run --rm` reports the exit code in between:
// for it (without leftovers) only the record goes first, by a rename (Store.Detach), and the
// snapshot with the files, after the answer (a metadata rewrite and milliseconds of unlinks); if the
// monitor is killed before, sweepContainers (every removal's) removes both. For `rm` and
// prune (leftovers) the snapshot goes first, so that a failure keeps the record to retry
// with; they also unmount the root filesystem and delete the runtime state (cgroups,
// libcontainer's state) that a run left, as the container's monitor may be gone. A monitor
// that ended its run has done both already (or is doing the second: afterRun).
func (e *Engine) detachContainer(ctx context.Context, c *container.Container, leftovers bool) (reclaim func(), err error) {
	cs := e.Containers()
	l, err := cs.Lock(c.ID)
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	if !leftovers {
		recordFiles, err := cs.Detach(c.ID)
		if err != nil {
			return nil, fmt.Errorf("remove container %s: %w", reference.ShortID(c.ID), err)
		}
		return func() {
			// A snapshot that cannot be removed now keeps the detached record, which the
			// next sweep tries again with.
			if e.removeSnapshot(context.WithoutCancel(ctx), c.ID) == nil {
				recordFiles()
			}
		}, nil
	}
	mount.Unmount(filepath.Join(cs.Dir(c.ID), "rootfs"))
	e.deleteRuntimeState(c.ID)
	if err := e.removeSnapshot(ctx, c.ID); err != nil {
		return nil, fmt.Errorf("remove container %s: %w", reference.ShortID(c.ID), err)
	}
	if reclaim, err = cs.Detach(c.ID); err != nil {
		return nil, fmt.Errorf("remove container %s: %w", reference.ShortID(c.ID), err)
	}
	return reclaim, nil
}

// randomName makes Docker-style adjective_noun names.
func randomName(existing []*container.Container) string {
	adj := []string{"brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nifty", "proud", "quiet", "sharp", "tender", "vivid", "wise", "zen"}
	noun := []string{"turing", "hopper", "lovelace", "knuth", "ritchie", "thompson", "torvalds", "liskov", "hamilton", "curie", "noether", "shannon", "dijkstra", "babbage", "lamport", "perlman"}
	used := map[string]bool{}
	for _, c := range existing {
		used[c.Name] = true
	}
	id := container.NewID()
	for i := 0; ; i++ {
		n := adj[int(id[i%60])%len(adj)] + "_" + noun[int(id[(i+1)%60])%len(noun)]
		if i > 20 {
			n += "_" + id[:4]
		}
		if !used[n] {
			return n
		}
	}
}

// WarmCreate starts, on another core, what Create would otherwise do first on the command's
// path: opening the snapshotter (a clean-up under its lock, which Create's layer check needs).
// `run` calls it as soon as it has the engine. (It also built encoding/json's encoder for the
// container record, ~0.4 ms, until the record had a generated encoder: package jsongen.)
func (e *Engine) WarmCreate() {
	e.warmSnapshotter()
}
