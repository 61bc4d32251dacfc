package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	digest "github.com/opencontainers/go-digest"

	"github.com/hako-dev/hako/internal/atomicfile"
	"github.com/hako-dev/hako/internal/content"
	"github.com/hako-dev/hako/internal/image"
	"github.com/hako-dev/hako/internal/lockfile"
	"github.com/hako-dev/hako/internal/mount"
	"github.com/hako-dev/hako/internal/snapshot"
	"github.com/hako-dev/hako/internal/topdir"
)

// FormatVersion is the on-disk format of a hako root. A root written by another format is refused
// rather than misread.
const FormatVersion = "1"

// Config chooses the root and the snapshotter.
type Config struct {
	Root        string
	Snapshotter string // "overlay" (default) or "native"
}

// Engine is an opened hako root.
type Engine struct {
	Root        string
	Content     *content.Store
	Images      *image.Store
	Snapshots   snapshot.Snapshotter
	Snapshotter string

	// runtime is the runtime's state directory (runtimeRoot), without symlinks.
	runtime string

	// created is what the last Create hands to a monitor in this process (startContainer
	// takes it): its image's configuration, not read and parsed again, and its writable
	// layer's mounts, not the snapshotter's metadata read again.
	created atomic.Pointer[createdHandover]
}

// createdHandover is what Create knew of container id that its monitor needs.
type createdHandover struct {
	id     string
	image  digest.Digest
	cfg    image.Config
	mounts []mount.Mount
}

// takeCreated returns what Create handed over for container id, once (its Config, slices and
// maps then shared with nobody else), or nil.
func (e *Engine) takeCreated(id string) *createdHandover {
	if h := e.created.Swap(nil); h != nil && h.id == id {
		return h
	}
	return nil
}

// imageConfig returns the configuration of the image id: the one handed over (h, if it is of
// that image), or read from the store.
func (e *Engine) imageConfig(ctx context.Context, h *createdHandover, id digest.Digest) (image.Config, error) {
	if h != nil && h.image == id {
		return h.cfg, nil
	}
	cfg, _, err := e.Images.Config(ctx, image.Image{ID: id})
	return cfg, err
}

// New opens (creating if needed) the root.
func New(cfg Config) (*Engine, error) {
	if cfg.Root == "" {
		return nil, errors.New("open store: no root directory")
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o711); err != nil {
		return nil, fmt.Errorf("open store %s: %w", root, err)
	}
	// One directory per container below: spread over ext4's block groups (package topdir).
	if err := topdir.Mark(filepath.Join(root, "containers"), 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: %w", root, err)
	}
	// The root through no symlink: libcontainer refuses a rootfs path that goes through one.
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	vf := filepath.Join(root, "version")
	switch b, err := os.ReadFile(vf); {
	case errors.Is(err, fs.ErrNotExist):
		if err := atomicfile.WriteFile(vf, []byte(FormatVersion+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("open store %s: %w", root, err)
		}
	case err != nil:
		return nil, fmt.Errorf("open store %s: %w", root, err)
	case strings.TrimSpace(string(b)) != FormatVersion:
		return nil, fmt.Errorf("open store %s: on-disk format %q, this hako reads format %q", root, strings.TrimSpace(string(b)), FormatVersion)
	}
	rt, err := runtimeDir(root) // runtimedir.go
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", root, err)
	}
	cs, err := content.Open(filepath.Join(root, "content"))
	if err != nil {
		return nil, err
	}
	name, err := chooseSnapshotter(root, cfg.Snapshotter)
	if err != nil {
		return nil, err
	}
	sn := &lazySnapshotter{open: func() (snapshot.Snapshotter, error) {
		switch name {
		case "overlay":
			return snapshot.NewOverlay(filepath.Join(root, "snapshots", "overlay"))
		default:
			return snapshot.NewNative(filepath.Join(root, "snapshots", "native"))
		}
	}}
	return &Engine{Root: root, Content: cs, Images: &image.Store{Content: cs}, Snapshots: sn, Snapshotter: name, runtime: rt}, nil
}

// chooseSnapshotter returns the snapshotter asked for, or the root's default: decided once, on
// first use, by a test mount (overlay where the filesystem supports it, else native) and
// remembered in root/snapshotter, so that no later command pays for the test.
func chooseSnapshotter(root, asked string) (string, error) {
	switch asked {
	case "overlay", "native":
		return asked, nil
	case "":
	default:
		return "", fmt.Errorf("open store: unknown snapshotter %q (overlay, native)", asked)
	}
	p := filepath.Join(root, "snapshotter")
	if b, err := os.ReadFile(p); err == nil {
		if name := strings.TrimSpace(string(b)); name == "overlay" || name == "native" {
			return name, nil
		}
	}
	name := "overlay"
	if err := snapshot.Supported(root); err != nil {
		name = "native"
	}
	if err := atomicfile.WriteFile(p, []byte(name+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("open store %s: %w", root, err)
	}
	return name, nil
}

// Close releases the snapshotter.
func (e *Engine) Close() error { return e.Snapshots.Close() }

// lock takes the store-wide exclusive lock.
func (e *Engine) lock() (*lockfile.Lock, error) {
	return lockfile.Exclusive(filepath.Join(e.Root, "lock"))
}

func (e *Engine) leaseDir() string { return filepath.Join(e.Root, "leases") }

// newLease starts a lease that protects what an operation writes until it is recorded.
func (e *Engine) newLease() (*content.Lease, error) { return content.NewLease(e.leaseDir()) }

// WriteLease starts a lease for an operation that writes blobs (import, commit, build). The returned
// end releases it; when the operation failed (ok false) it then collects at once the blobs the
// lease protected, so a failure leaves no blob that no image owns. The order matters: a GC run
// while the lease is still held would keep exactly those blobs.
func (e *Engine) WriteLease(ctx context.Context) (*content.Lease, func(ok bool), error) {
	lease, err := e.newLease()
	if err != nil {
		return nil, nil, err
	}
	end := func(ok bool) {
		lease.Release()
		if !ok {
			e.withLock(func() error { _, err := e.gc(context.WithoutCancel(ctx), false); return err })
		}
	}
	return lease, end, nil
}

// withLock runs fn under the store lock.
func (e *Engine) withLock(fn func() error) error {
	l, err := e.lock()
	if err != nil {
		return err
	}
	defer l.Unlock()
	return fn()
}

// Context is kept for symmetry with the verbs; background work uses it.
var _ = context.Background
