package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestBuildConcurrent: several builds at once on one store, of the same Dockerfile and of
// different ones sharing steps, all succeed, give working images, and leave a cache that a
// rebuild reuses whole.
func TestBuildConcurrent(t *testing.T) {
	s := runStore(t)
	ctxs := make([]string, 3)
	for i := range ctxs {
		ctxs[i] = t.TempDir()
		os.WriteFile(filepath.Join(ctxs[i], "data.txt"), []byte("shared\n"), 0o644)
		os.WriteFile(filepath.Join(ctxs[i], "Dockerfile"), []byte(fmt.Sprintf(
			"FROM busybox\nCOPY data.txt /data.txt\nRUN echo common >> /data.txt\nRUN echo variant-%d >> /data.txt\nCMD [\"cat\", \"/data.txt\"]\n", i%2)), 0o644)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 6)
	for round := 0; round < 2; round++ {
		for i, c := range ctxs {
			wg.Add(1)
			go func(i int, c string) {
				defer wg.Done()
				out, err := exec.Command(hakoBin, "--root", s.root, "build", "-q", "-t", fmt.Sprintf("conc:%d", i), c).CombinedOutput()
				if err != nil {
					errs <- fmt.Sprintf("build %d: %v\n%s", i, err, out)
				}
			}(i, c)
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for i := range ctxs {
		want := fmt.Sprintf("shared\ncommon\nvariant-%d\n", i%2)
		if got := s.ok("run", "--rm", fmt.Sprintf("conc:%d", i)); got != want {
			t.Fatalf("conc:%d prints %q, want %q", i, got, want)
		}
	}
	// Builds that missed the cache at the same moment each made their own steps (their times
	// differ); whichever recorded last serves the cache, and a rebuild is fully cached.
	r := s.run("build", "--progress", "plain", "-t", "conc:1", ctxs[1])
	out := r.stdout + r.stderr
	if strings.Count(out, "CACHED") != 4 { // COPY, two RUNs and CMD
		t.Fatalf("rebuild after concurrent builds is not fully cached:\n%s", out)
	}
}
