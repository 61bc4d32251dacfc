package snapshot

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/mount"
)

// The tests below run this test binary again as a helper process: HAKO_SNAPSHOT_HELPER names what
// it does, on the root and driver given in the environment.
const helperEnv = "HAKO_SNAPSHOT_HELPER"

func TestMain(m *testing.M) {
	if what := os.Getenv(helperEnv); what != "" {
		if err := runHelper(what, os.Getenv("HAKO_ROOT"), os.Getenv("HAKO_DRIVER"), os.Getenv("HAKO_ID")); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func openDriver(root, driver string) (Snapshotter, error) {
	if driver == "native" {
		return NewNative(root)
	}
	return NewOverlay(root)
}

func runHelper(what, root, driver, id string) error {
	sn, err := openDriver(root, driver)
	if err != nil {
		return err
	}
	defer sn.Close()
	switch what {
	case "churn":
		return churn(sn, id)
	case "worker":
		return work(sn, id)
	}
	return fmt.Errorf("unknown helper %q", what)
}

// churn mutates the store until it is killed: prepare on a base layer, write a little, commit,
// view, and remove again. For native snapshots each Prepare copies the base's many files, so a
// kill often lands in the middle of a copy.
func churn(sn Snapshotter, id string) error {
	fmt.Println("ready")
	for i := 0; ; i++ {
		key, name := fmt.Sprintf("%s-active-%d", id, i), fmt.Sprintf("%s-layer-%d", id, i)
		m, err := sn.Prepare(bg, key, "base")
		if err != nil {
			return err
		}
		dir := m[0].Source
		if m[0].Type == "overlay" {
			for _, o := range m[0].Options {
				if v, ok := strings.CutPrefix(o, "upperdir="); ok {
					dir = v
				}
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "new"), []byte(key), 0o644); err != nil {
			return err
		}
		if err := sn.Commit(bg, name, key); err != nil {
			return err
		}
		if _, err := sn.View(bg, "view-"+name, name); err != nil {
			return err
		}
		if i%3 != 0 {
			if err := sn.Remove(bg, "view-"+name); err != nil {
				return err
			}
			if err := sn.Remove(bg, name); err != nil {
				return err
			}
		}
	}
}

// work does a fixed round of mutations under its own keys, and races the other workers for one
// shared name.
func work(sn Snapshotter, id string) error {
	for r := 0; r < 10; r++ {
		key := fmt.Sprintf("%s-%d", id, r)
		if _, err := sn.Prepare(bg, key, "base"); err != nil {
			return err
		}
		if err := sn.Commit(bg, "c-"+key, key); err != nil {
			return err
		}
		if _, err := sn.View(bg, "v-"+key, "c-"+key); err != nil {
			return err
		}
		if r%2 == 1 {
			if err := sn.Remove(bg, "v-"+key); err != nil {
				return err
			}
			if err := sn.Remove(bg, "c-"+key); err != nil {
				return err
			}
		}
	}
	key := "race-" + id
	if _, err := sn.Prepare(bg, key, "base"); err != nil {
		return err
	}
	err := sn.Commit(bg, "sha256:shared", key)
	if errors.Is(err, errdefs.ErrAlreadyExists) {
		return sn.Remove(bg, key)
	}
	return err
}

func helper(t *testing.T, what, root, driver, id string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+what, "HAKO_ROOT="+root, "HAKO_DRIVER="+driver, "HAKO_ID="+id)
	cmd.Stderr = os.Stderr
	return cmd
}

// seedBase commits the "base" layer that the helpers build on: many small files, so that a
// native copy takes a while.
func seedBase(t *testing.T, root, driver string, files int) {
	sn, err := openDriver(root, driver)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	m, err := sn.Prepare(bg, "seed", "")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < files; i++ {
		d := filepath.Join(m[0].Source, fmt.Sprintf("d%02d", i%50))
		os.MkdirAll(d, 0o755)
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d", i)), []byte(strconv.Itoa(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := sn.Commit(bg, "base", "seed"); err != nil {
		t.Fatal(err)
	}
}

// checkConsistent reads the root as a crashed process left it, before any open cleans it up: the
// metadata parses, every record names an existing directory, and parents exist and are
// committed. It returns how many leftovers (tmp entries, unnamed directories) there are.
func checkConsistent(t *testing.T, root string) (leftovers int) {
	t.Helper()
	// What the store reads: metadata.json, or metadata-active.json where it extends it.
	if _, err := os.Stat(filepath.Join(root, metadataFile)); err != nil {
		t.Fatal(err)
	}
	md, err := (&store{root: root}).load()
	if err != nil {
		t.Fatalf("metadata after kill -9: %v", err)
	}
	ids := map[string]bool{}
	for key, r := range md.Snapshots {
		if _, err := os.Stat(filepath.Join(root, snapshotsDir, r.ID, "fs")); err != nil {
			t.Errorf("snapshot %q names a missing directory: %v", key, err)
		}
		if r.Parent != "" {
			if p, ok := md.Snapshots[r.Parent]; !ok || p.Kind != KindCommitted {
				t.Errorf("snapshot %q has a bad parent %q", key, r.Parent)
			}
		}
		ids[r.ID] = true
	}
	entries, _ := os.ReadDir(filepath.Join(root, snapshotsDir))
	for _, e := range entries {
		if !ids[e.Name()] && e.Name() != spareName {
			leftovers++
		}
	}
	tmp, _ := os.ReadDir(filepath.Join(root, tmpDir))
	return leftovers + len(tmp)
}

// TestKillMidMutation kills a process that mutates the store as fast as it can, at random
// moments, and checks each time that the store is consistent and that opening it cleans up
// what the killed process was in the middle of.
func TestKillMidMutation(t *testing.T) {
	for _, driver := range []string{"overlay", "native"} {
		t.Run(driver, func(t *testing.T) {
			root := t.TempDir()
			seedBase(t, root, driver, 1000)
			const kills = 12
			dirty := 0
			for k := 0; k < kills; k++ {
				cmd := helper(t, "churn", root, driver, strconv.Itoa(k))
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
					t.Fatalf("helper said %q, %v", line, err)
				}
				time.Sleep(time.Duration(20+rand.IntN(200)) * time.Millisecond)
				cmd.Process.Signal(syscall.SIGKILL)
				err = cmd.Wait()
				if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
					t.Fatalf("helper ended before it was killed: %v", err)
				}
				if checkConsistent(t, root) > 0 {
					dirty++
				}
				// Opening cleans up; the store is usable.
				s := openStore(t, root, driver)
				if n := checkConsistent(t, root); n != 0 {
					t.Errorf("after reopening, %d leftovers remain", n)
				}
				key := fmt.Sprintf("after-kill-%d", k)
				m, err := s.Prepare(bg, key, "base")
				if err != nil {
					t.Fatal(err)
				}
				if os.Geteuid() == 0 {
					target := t.TempDir()
					if err := mount.All(m, target); err != nil {
						t.Fatal(err)
					}
					_, serr := os.Stat(filepath.Join(target, "d00", "f0"))
					if err := mount.Unmount(target); err != nil {
						t.Fatal(err)
					}
					if serr != nil {
						t.Errorf("base content missing after a kill: %v", serr)
					}
				}
				if err := s.Commit(bg, "c-"+key, key); err != nil {
					t.Fatal(err)
				}
				s.Close()
			}
			t.Logf("%d of %d kills left a half-made snapshot or temp file behind; all were cleaned up", dirty, kills)
		})
	}
}

func openStore(t *testing.T, root, driver string) Snapshotter {
	t.Helper()
	s, err := openDriver(root, driver)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestProcessesMutateAtOnce runs several processes on one root at once: every mutation succeeds
// (or loses the race for the shared name cleanly) and the end state is exactly what they did.
func TestProcessesMutateAtOnce(t *testing.T) {
	for _, driver := range []string{"overlay", "native"} {
		t.Run(driver, func(t *testing.T) {
			root := t.TempDir()
			seedBase(t, root, driver, 20)
			const workers = 4
			var wg sync.WaitGroup
			errs := make([]error, workers)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[w] = helper(t, "worker", root, driver, fmt.Sprintf("w%d", w)).Run()
				}()
			}
			wg.Wait()
			for w, err := range errs {
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
				}
			}
			if n := checkConsistent(t, root); n != 0 {
				t.Errorf("%d leftovers after clean runs", n)
			}
			s := openStore(t, root, driver)
			defer s.Close()
			var names []string
			s.Walk(bg, func(_ context.Context, i Info) error {
				names = append(names, i.Name)
				return nil
			})
			// base, sha256:shared, and per worker 5 kept rounds of a commit and a view.
			if want := 2 + workers*5*2; len(names) != want {
				t.Errorf("%d snapshots after the workers, want %d: %q", len(names), want, names)
			}
		})
	}
}
