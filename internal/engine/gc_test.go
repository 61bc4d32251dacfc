package engine

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/snapshot"
)

// A container's writable layer whose container has no record (what a power loss can leave: the
// layer's record is saved unsynced when it is made and when it is removed) is collected; those
// of a live container is kept (a detached one's goes with its record: the sweep before).
func TestGCRemovesOrphanWritableLayer(t *testing.T) {
	ctx := context.Background()
	e, err := New(Config{Root: t.TempDir(), Snapshotter: "native"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cs := e.Containers()
	ids := map[string]string{
		"orphan": "0000000000000000000000000000000000000000000000000000000000000001",
		"live":   "0000000000000000000000000000000000000000000000000000000000000002",
	}
	for _, id := range ids {
		if _, err := e.Snapshots.Prepare(ctx, id, "", snapshot.WithLabels(map[string]string{containerLabel: id})); err != nil {
			t.Fatal(err)
		}
	}
	// A layer that is no container's (a build step's) is not gc's to judge by this rule.
	if _, err := e.Snapshots.Prepare(ctx, "unlabelled", ""); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cs.Dir(ids["live"]), 0o700); err != nil {
		t.Fatal(err)
	}
	var res GCResult
	if err := e.WithLock(func() error { res, err = e.GCLocked(ctx, true); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Snapshots.Stat(ctx, ids["orphan"]); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("the orphan writable layer is left (%v)", err)
	}
	for _, key := range []string{ids["live"], "unlabelled"} {
		if _, err := e.Snapshots.Stat(ctx, key); err != nil {
			t.Errorf("snapshot %s removed: %v", key, err)
		}
	}
	if res.Snapshots != 1 {
		t.Errorf("gc says %d snapshots removed, want 1", res.Snapshots)
	}
}
