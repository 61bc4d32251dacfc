package build

import (
	"context"
	"sync"
	"testing"
)

// TestConcurrentWalks resolves and digests one build context (with a .dockerignore whose
// exception only a path matched before it reaches) through two specs, one with --exclude
// patterns, from several goroutines at once, as stages built in parallel and a --no-cache step's
// digest beside its copy do. Under -race it shows the walks share the ignore and --exclude
// patterns safely, though patternmatcher compiles a pattern when a match first reaches it.
func TestConcurrentWalks(t *testing.T) {
	ctxDir := t.TempDir()
	writeTree(t, ctxDir, map[string]string{
		"src/a.go": "a", "src/a_test.go": "t", "src/gen/x.log": "x", "src/keep.log": "k",
		"src/sub/b.go": "b", ".dockerignore": "**/*.log\n!src/keep.log\n*.key\n",
	})
	src, err := NewContext(ctxDir, IgnoreFile(ctxDir, ""))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	specs := []*CopySpec{copyStep(t, "COPY src /out/"), copyStep(t, "COPY --exclude=*_test.go --exclude=!sub src /out/")}
	const walkers = 4
	digests := make([][walkers]string, len(specs))
	var wg sync.WaitGroup
	for i, spec := range specs {
		for w := range walkers {
			wg.Go(func() {
				ms, err := spec.Resolve(src)
				if err != nil {
					t.Error(err)
					return
				}
				if digests[i][w], err = spec.Digest(ctx, src, ms); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	for i, ds := range digests {
		for _, d := range ds[1:] {
			if d != ds[0] {
				t.Errorf("%s: digests differ: %s vs %s", specs[i].Sources, d, ds[0])
			}
		}
	}
	if digests[0][0] == digests[1][0] {
		t.Error("--exclude did not change the digest")
	}
}
