package snapshot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hako-dev/hako/internal/mount"
)

// Kind is the state of a snapshot in its lifecycle.
type Kind uint8

const (
	KindUnknown Kind = iota
	// KindView is a read-only snapshot made by View: mounted read-only, never committed.
	KindView
	// KindActive is a writable snapshot made by Prepare, which may be committed.
	KindActive
	// KindCommitted is an immutable snapshot made by Commit: the parent of others.
	KindCommitted
)

func (k Kind) String() string {
	switch k {
	case KindView:
		return "View"
	case KindActive:
		return "Active"
	case KindCommitted:
		return "Committed"
	}
	return "Unknown"
}

// ParseKind reads what String writes, in any case.
func ParseKind(s string) (Kind, error) {
	for _, k := range []Kind{KindView, KindActive, KindCommitted} {
		if strings.EqualFold(s, k.String()) {
			return k, nil
		}
	}
	return KindUnknown, fmt.Errorf("unknown snapshot kind %q", s)
}

// MarshalText stores a Kind by name, so that metadata files read well and survive reordering.
func (k Kind) MarshalText() ([]byte, error) { return []byte(strings.ToLower(k.String())), nil }

func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	*k = v
	return err
}

// Info describes a snapshot. Name is its key (active, view) or name (committed); Parent is the
// name of the committed snapshot it was made on, "" for none.
type Info struct {
	Name    string
	Parent  string
	Kind    Kind
	Created time.Time
	Updated time.Time
	Labels  map[string]string
}

// Usage is the disk space a snapshot takes on its own, not counting its parents for overlay:
// bytes in allocated blocks and the number of inodes, each hard-linked inode counted once.
type Usage struct {
	Size   int64
	Inodes int64
}

// Opt adjusts the Info of a snapshot being prepared, viewed or committed.
type Opt func(*Info)

// WithLabels sets labels on the new snapshot, replacing any with the same key.
func WithLabels(labels map[string]string) Opt {
	return func(info *Info) {
		if info.Labels == nil {
			info.Labels = make(map[string]string, len(labels))
		}
		for k, v := range labels {
			info.Labels[k] = v
		}
	}
}

// Snapshotter keeps a set of snapshots, each known by a string: a key while active or a view, a
// name once committed. Keys and names are arbitrary ("sha256:…" chain IDs, container IDs) and
// share one namespace.
//
// The lifecycle, as layer.Unpack and a container see it:
//
//  1. Prepare("tmp-1", "") returns the mounts of an empty, writable snapshot. The first layer is
//     extracted into them (for one bind mount, into its Source; for an overlay, into upperdir=,
//     which is empty at Prepare) and Commit("sha256:A", "tmp-1") freezes it under its chain ID;
//     the key "tmp-1" is gone.
//  2. Prepare("tmp-2", "sha256:A") gives a writable snapshot on top of A; the second layer is
//     extracted and committed as "sha256:AB", whose parent is A. And so on, up to 500 layers.
//  3. Prepare(containerID, "sha256:AB…") gives the container its root filesystem, mounted with
//     mount.All at its rootfs; View(key, "sha256:AB…") gives a read-only one, e.g. to read files
//     of an image. Remove(containerID) drops it when the container goes.
//  4. Remove("sha256:A") fails with errdefs.ErrConflict while "sha256:AB" exists: committed
//     snapshots are removed from the top of a chain down.
//
// Errors are classed with errdefs: ErrNotFound for a missing key or parent, ErrAlreadyExists for
// a key or name in use, ErrInvalidArgument for a parent that is not committed or a kind that does
// not allow the operation, ErrConflict for removing a parent.
type Snapshotter interface {
	// Stat returns the Info of the snapshot known by key.
	Stat(ctx context.Context, key string) (Info, error)
	// Usage returns the disk usage of the snapshot known by key; for a committed snapshot it was
	// measured at Commit.
	Usage(ctx context.Context, key string) (Usage, error)
	// Mounts returns again the mounts of an active snapshot or a view.
	Mounts(ctx context.Context, key string) ([]mount.Mount, error)
	// Prepare makes a writable snapshot key on top of the committed snapshot parent ("" for an
	// empty one) and returns its mounts.
	Prepare(ctx context.Context, key, parent string, opts ...Opt) ([]mount.Mount, error)
	// View makes a read-only snapshot key of the committed snapshot parent and returns its mounts.
	View(ctx context.Context, key, parent string, opts ...Opt) ([]mount.Mount, error)
	// Commit freezes the active snapshot key as the committed snapshot name. Key no longer exists
	// afterwards. Labels from opts are added to the ones key had.
	Commit(ctx context.Context, name, key string, opts ...Opt) error
	// Remove deletes the snapshot known by key: ErrConflict if it is the parent of another,
	// ErrNotFound if there is none.
	Remove(ctx context.Context, key string) error
	// Walk calls fn with the Info of every snapshot, in name order, and stops at fn's first error,
	// which it returns.
	Walk(ctx context.Context, fn func(context.Context, Info) error) error
	// Close releases the snapshotter's resources; it does not unmount anything.
	Close() error
}
