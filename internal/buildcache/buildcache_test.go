package buildcache

import (
	"os"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

func TestPutFirstWriterWins(t *testing.T) {
	x := Open(t.TempDir())
	key := digest.FromString("key")
	a := Entry{Version: "v1", Key: key, Image: digest.FromString("a")}
	b := Entry{Version: "v1", Key: key, Image: digest.FromString("b")}
	live := map[digest.Digest]bool{a.Image: true, b.Image: true}
	isLive := func(e Entry) bool { return live[e.Image] }

	if got, err := x.Put(a, isLive); err != nil || got.Image != a.Image {
		t.Fatalf("first Put: %v %v", got.Image, err)
	}
	if got, err := x.Put(b, isLive); err != nil || got.Image != a.Image {
		t.Fatalf("second Put: got %v (%v), want the first writer's", got.Image, err)
	}
	if got, ok := x.Get(key, "v1"); !ok || got.Image != a.Image {
		t.Fatalf("Get: %v %v", got.Image, ok)
	}
	if _, ok := x.Get(key, "v2"); ok {
		t.Error("Get of another cache key version hit")
	}
	// A stale entry (its image gone) or an unreadable one is replaced.
	live[a.Image] = false
	if got, err := x.Put(b, isLive); err != nil || got.Image != b.Image {
		t.Fatalf("Put over a stale entry: %v %v", got.Image, err)
	}
	os.WriteFile(x.Path(key), nil, 0o600)
	if got, err := x.Put(a, isLive); err != nil || got.Image != a.Image {
		t.Fatalf("Put over an unreadable entry: %v %v", got.Image, err)
	}
	if got, ok := x.Get(key, "v1"); !ok || got.Image != a.Image {
		t.Fatalf("Get after replace: %v %v", got.Image, ok)
	}
	if ents, _ := os.ReadDir(x.Dir); len(ents) != 1 {
		t.Errorf("%d files in the index, want 1 (temp files left?)", len(ents))
	}
	if n, err := x.Remove(nil); n != 1 || err != nil {
		t.Errorf("Remove(nil): %d %v", n, err)
	}
}
