package engine

import (
	"context"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"github.com/hako-dev/hako/internal/image"
)

// What Create hands over is taken once, by its own container, and its configuration for its own
// image only; otherwise the store is read.
func TestImageConfigHandover(t *testing.T) {
	e, err := New(Config{Root: t.TempDir(), Snapshotter: "native"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	id := digest.FromString("config")
	var cfg image.Config
	cfg.Config.Env = []string{"A=1"}
	e.created.Store(&createdHandover{id: "c1", image: id, cfg: cfg})
	got, err := e.imageConfig(ctx, e.takeCreated("c1"), id)
	if err != nil || len(got.Config.Env) != 1 || got.Config.Env[0] != "A=1" {
		t.Fatalf("handed over: %+v, %v", got.Config, err)
	}
	if _, err := e.imageConfig(ctx, e.takeCreated("c1"), id); err == nil {
		t.Error("taken twice: the second should read the store, which has no such blob")
	}
	e.created.Store(&createdHandover{id: "c1", image: id, cfg: cfg})
	if _, err := e.imageConfig(ctx, e.takeCreated("c1"), digest.FromString("other")); err == nil {
		t.Error("another image's configuration was taken from the handover")
	}
	e.created.Store(&createdHandover{id: "c1", image: id, cfg: cfg})
	if _, err := e.imageConfig(ctx, e.takeCreated("c2"), id); err == nil {
		t.Error("another container's handover was taken")
	}
}
