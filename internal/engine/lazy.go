package engine

import (
	"context"
	"errors"
	"sync"

	"github.com/hako-dev/hako/internal/mount"
	"github.com/hako-dev/hako/internal/snapshot"
)

// lazySnapshotter opens the real snapshotter on first use. Opening reads its metadata and
// cleans up after crashed processes under its lock; commands that never touch a snapshot (ps,
// logs, stop, most of the hot paths) should not pay for that.
type lazySnapshotter struct {
	open func() (snapshot.Snapshotter, error)
	once sync.Once
	sn   snapshot.Snapshotter
	err  error
}

// warmSnapshotter opens e's snapshotter on another goroutine, for a process that will need it
// and has a core to spare meanwhile: its open is a clean-up under its lock.
func (e *Engine) warmSnapshotter() {
	if l, ok := e.Snapshots.(*lazySnapshotter); ok {
		go l.get()
	}
}

func (l *lazySnapshotter) get() (snapshot.Snapshotter, error) {
	l.once.Do(func() { l.sn, l.err = l.open() })
	return l.sn, l.err
}

func (l *lazySnapshotter) Stat(ctx context.Context, key string) (snapshot.Info, error) {
	sn, err := l.get()
	if err != nil {
		return snapshot.Info{}, err
	}
	return sn.Stat(ctx, key)
}

func (l *lazySnapshotter) Usage(ctx context.Context, key string) (snapshot.Usage, error) {
	sn, err := l.get()
	if err != nil {
		return snapshot.Usage{}, err
	}
	return sn.Usage(ctx, key)
}

func (l *lazySnapshotter) Mounts(ctx context.Context, key string) ([]mount.Mount, error) {
	sn, err := l.get()
	if err != nil {
		return nil, err
	}
	return sn.Mounts(ctx, key)
}

func (l *lazySnapshotter) Prepare(ctx context.Context, key, parent string, opts ...snapshot.Opt) ([]mount.Mount, error) {
	sn, err := l.get()
	if err != nil {
		return nil, err
	}
	return sn.Prepare(ctx, key, parent, opts...)
}

func (l *lazySnapshotter) View(ctx context.Context, key, parent string, opts ...snapshot.Opt) ([]mount.Mount, error) {
	sn, err := l.get()
	if err != nil {
		return nil, err
	}
	return sn.View(ctx, key, parent, opts...)
}

func (l *lazySnapshotter) Commit(ctx context.Context, name, key string, opts ...snapshot.Opt) error {
	sn, err := l.get()
	if err != nil {
		return err
	}
	return sn.Commit(ctx, name, key, opts...)
}

func (l *lazySnapshotter) Remove(ctx context.Context, key string) error {
	sn, err := l.get()
	if err != nil {
		return err
	}
	return sn.Remove(ctx, key)
}

func (l *lazySnapshotter) Walk(ctx context.Context, fn func(context.Context, snapshot.Info) error) error {
	sn, err := l.get()
	if err != nil {
		return err
	}
	return sn.Walk(ctx, fn)
}

// Close closes the snapshotter if it was opened.
func (l *lazySnapshotter) Close() error {
	// Waits for an open under way (a monitor's warm-up), and makes later uses fail.
	l.once.Do(func() { l.err = errors.New("snapshotter is closed") })
	if l.sn == nil {
		return nil
	}
	return l.sn.Close()
}
