package snapshottest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/mount"
	"github.com/hako-dev/hako/internal/snapshot"
)

// Run runs the suite. newSnapshotter opens a snapshotter at root; it is called again on the same
// root to check what a second process, or a restart, sees. Run closes what it opens.
func Run(t *testing.T, newSnapshotter func(t *testing.T, root string) snapshot.Snapshotter) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"Chain", testChain},
		{"ViewIsReadOnly", testViewIsReadOnly},
		{"Errors", testErrors},
		{"CommitNameTakenKeepsKey", testCommitNameTaken},
		{"RemoveRefusesParents", testRemove},
		{"StatAndWalk", testStatAndWalk},
		{"Labels", testLabels},
		{"Usage", testUsage},
		{"Reopen", testReopen},
		{"ArbitraryKeys", testArbitraryKeys},
		{"ConcurrentMutations", testConcurrent},
		{"ConcurrentCommitOfOneName", testConcurrentCommitOfOneName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "root")
			h := &harness{t: t, root: root, open: newSnapshotter}
			h.sn = h.reopen()
			tc.fn(t, h)
		})
	}
}

type harness struct {
	t    *testing.T
	root string
	open func(t *testing.T, root string) snapshot.Snapshotter
	sn   snapshot.Snapshotter
}

// reopen opens another snapshotter on the same root, closed when the test ends.
func (h *harness) reopen() snapshot.Snapshotter {
	h.t.Helper()
	sn := h.open(h.t, h.root)
	h.t.Cleanup(func() {
		if err := sn.Close(); err != nil {
			h.t.Errorf("close: %v", err)
		}
	})
	return sn
}

var ctx = context.Background()

// WritableDir returns where a layer is written into an active snapshot without mounting it, as
// the engine does: a bind mount's source, or an overlay's upper dir.
func WritableDir(t testing.TB, mounts []mount.Mount) string {
	t.Helper()
	if len(mounts) != 1 {
		t.Fatalf("want one mount, got %+v", mounts)
	}
	m := mounts[0]
	switch m.Type {
	case "bind":
		return m.Source
	case "overlay":
		for _, o := range m.Options {
			if v, ok := strings.CutPrefix(o, "upperdir="); ok {
				return v
			}
		}
	}
	t.Fatalf("mount has no writable dir: %+v", m)
	return ""
}

// CanMount reports whether the tests may mount.
func CanMount() bool { return os.Geteuid() == 0 }

// MountTemp mounts mounts at a new temporary directory, unmounted when the test ends.
func MountTemp(t testing.TB, mounts []mount.Mount) string {
	t.Helper()
	target := t.TempDir()
	if err := mount.All(mounts, target); err != nil {
		t.Fatalf("mount %+v: %v", mounts, err)
	}
	t.Cleanup(func() {
		if err := mount.Unmount(target); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return target
}

func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readTree returns the regular files under dir, by slash path.
func readTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			got[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// checkContent checks the files seen through mounts: by mounting them as root, or by reading a
// bind source directly otherwise. It returns false when it could not look.
func checkContent(t testing.TB, mounts []mount.Mount, want map[string]string) bool {
	t.Helper()
	var dir string
	switch {
	case CanMount():
		dir = MountTemp(t, mounts)
	case len(mounts) == 1 && mounts[0].Type == "bind":
		dir = mounts[0].Source
	default:
		return false
	}
	if got := readTree(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("content through %+v:\n got %v\nwant %v", mounts, got, want)
	}
	return true
}

// commitLayer prepares key on parent, writes files into it as an unpacked layer, and commits
// it as name.
func commitLayer(t testing.TB, sn snapshot.Snapshotter, name, parent string, files map[string]string, opts ...snapshot.Opt) {
	t.Helper()
	key := "prepare-" + name
	mounts, err := sn.Prepare(ctx, key, parent, opts...)
	if err != nil {
		t.Fatal(err)
	}
	dir := WritableDir(t, mounts)
	if entries, err := os.ReadDir(dir); err != nil || (parent == "" && len(entries) != 0) {
		t.Fatalf("writable dir of a new snapshot: %d entries, %v", len(entries), err)
	}
	writeFiles(t, dir, files)
	if err := sn.Commit(ctx, name, key, opts...); err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, what string, err, class error) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Errorf("%s: got %v, want %v", what, err, class)
	}
}

func testChain(t *testing.T, h *harness) {
	sn := h.sn
	commitLayer(t, sn, "sha256:A", "", map[string]string{"a": "1", "dir/x": "x"})
	commitLayer(t, sn, "sha256:AB", "sha256:A", map[string]string{"b": "2", "dir/y": "y"})
	commitLayer(t, sn, "sha256:ABC", "sha256:AB", map[string]string{"a": "3"})

	for _, name := range []string{"prepare-sha256:A", "prepare-sha256:AB"} {
		if _, err := sn.Stat(ctx, name); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Stat of committed key %q: %v, want not found", name, err)
		}
	}
	want := map[string]string{"a": "3", "b": "2", "dir/x": "x", "dir/y": "y"}

	mounts, err := sn.Prepare(ctx, "container", "sha256:ABC")
	if err != nil {
		t.Fatal(err)
	}
	if mount.ReadOnly(mounts[0]) {
		t.Errorf("active snapshot's mount is read-only: %+v", mounts)
	}
	if len(readTree(t, WritableDir(t, mounts))) != 0 && mounts[0].Type == "overlay" {
		t.Errorf("upper dir of a new overlay snapshot is not empty")
	}
	again, err := sn.Mounts(ctx, "container")
	if err != nil || !reflect.DeepEqual(again, mounts) {
		t.Errorf("Mounts = %+v, %v; Prepare said %+v", again, err, mounts)
	}
	if CanMount() {
		target := MountTemp(t, mounts)
		if got := readTree(t, target); !reflect.DeepEqual(got, want) {
			t.Errorf("content of the active snapshot: %v, want %v", got, want)
		}
		// A write through the mount lands in the snapshot's writable dir.
		writeFiles(t, target, map[string]string{"new": "n"})
		if b, err := os.ReadFile(filepath.Join(WritableDir(t, mounts), "new")); err != nil || string(b) != "n" {
			t.Errorf("write through the mount not in the writable dir: %q, %v", b, err)
		}
	} else {
		checkContent(t, mounts, want)
	}
	v, err := sn.View(ctx, "view-ABC", "sha256:ABC")
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, v, want)

	for _, tc := range []struct {
		parent string
		want   map[string]string
	}{
		{"sha256:A", map[string]string{"a": "1", "dir/x": "x"}},
		{"sha256:AB", map[string]string{"a": "1", "b": "2", "dir/x": "x", "dir/y": "y"}},
	} {
		v, err := sn.View(ctx, "view-"+tc.parent, tc.parent)
		if err != nil {
			t.Fatal(err)
		}
		if !mount.ReadOnly(v[0]) {
			t.Errorf("view's mount is not read-only: %+v", v)
		}
		checkContent(t, v, tc.want)
	}

	// An empty snapshot and an empty view.
	m, err := sn.Prepare(ctx, "empty", "")
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, m, map[string]string{})
	m, err = sn.View(ctx, "empty-view", "")
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, m, map[string]string{})
}

func testViewIsReadOnly(t *testing.T, h *harness) {
	if !CanMount() {
		t.Skip("needs root to mount")
	}
	commitLayer(t, h.sn, "one", "", map[string]string{"f": "1"})
	commitLayer(t, h.sn, "two", "one", map[string]string{"g": "2"})
	for _, parent := range []string{"one", "two"} {
		v, err := h.sn.View(ctx, "view-"+parent, parent)
		if err != nil {
			t.Fatal(err)
		}
		target := MountTemp(t, v)
		if err := os.WriteFile(filepath.Join(target, "h"), nil, 0o644); err == nil {
			t.Errorf("write to a view of %q succeeded", parent)
		}
	}
}

func testErrors(t *testing.T, h *harness) {
	sn := h.sn
	commitLayer(t, sn, "base", "", map[string]string{"f": "1"})
	if _, err := sn.Prepare(ctx, "active", "base"); err != nil {
		t.Fatal(err)
	}
	if _, err := sn.View(ctx, "view", "base"); err != nil {
		t.Fatal(err)
	}
	_, err := sn.Prepare(ctx, "active", "base")
	wantErr(t, "Prepare of an existing key", err, errdefs.ErrAlreadyExists)
	_, err = sn.View(ctx, "base", "")
	wantErr(t, "View with a committed name as key", err, errdefs.ErrAlreadyExists)
	_, err = sn.Prepare(ctx, "x", "missing")
	wantErr(t, "Prepare on a missing parent", err, errdefs.ErrNotFound)
	_, err = sn.View(ctx, "x", "missing")
	wantErr(t, "View of a missing parent", err, errdefs.ErrNotFound)
	_, err = sn.Prepare(ctx, "x", "active")
	wantErr(t, "Prepare on an active parent", err, errdefs.ErrInvalidArgument)
	_, err = sn.Prepare(ctx, "x", "view")
	wantErr(t, "Prepare on a view", err, errdefs.ErrInvalidArgument)
	_, err = sn.Prepare(ctx, "", "")
	wantErr(t, "Prepare with an empty key", err, errdefs.ErrInvalidArgument)
	wantErr(t, "Commit of a missing key", sn.Commit(ctx, "n", "missing"), errdefs.ErrNotFound)
	wantErr(t, "Commit of a view", sn.Commit(ctx, "n", "view"), errdefs.ErrInvalidArgument)
	wantErr(t, "Commit of a committed snapshot", sn.Commit(ctx, "n", "base"), errdefs.ErrInvalidArgument)
	wantErr(t, "Commit to a taken name", sn.Commit(ctx, "base", "active"), errdefs.ErrAlreadyExists)
	wantErr(t, "Commit to an empty name", sn.Commit(ctx, "", "active"), errdefs.ErrInvalidArgument)
	_, err = sn.Stat(ctx, "missing")
	wantErr(t, "Stat of a missing key", err, errdefs.ErrNotFound)
	_, err = sn.Usage(ctx, "missing")
	wantErr(t, "Usage of a missing key", err, errdefs.ErrNotFound)
	_, err = sn.Mounts(ctx, "missing")
	wantErr(t, "Mounts of a missing key", err, errdefs.ErrNotFound)
	_, err = sn.Mounts(ctx, "base")
	wantErr(t, "Mounts of a committed snapshot", err, errdefs.ErrInvalidArgument)
	wantErr(t, "Remove of a missing key", sn.Remove(ctx, "missing"), errdefs.ErrNotFound)

	// Nothing above changed anything.
	var names []string
	sn.Walk(ctx, func(_ context.Context, i snapshot.Info) error {
		names = append(names, i.Name)
		return nil
	})
	if want := []string{"active", "base", "view"}; !reflect.DeepEqual(names, want) {
		t.Errorf("after failed calls Walk sees %q, want %q", names, want)
	}
}

// testCommitNameTaken is the race that layer unpacking meets when two processes unpack the same
// layer: the loser's Commit says AlreadyExists and its key is still there to Remove.
func testCommitNameTaken(t *testing.T, h *harness) {
	commitLayer(t, h.sn, "layer", "", map[string]string{"f": "1"})
	if _, err := h.sn.Prepare(ctx, "loser", ""); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Commit to a taken name", h.sn.Commit(ctx, "layer", "loser"), errdefs.ErrAlreadyExists)
	if info, err := h.sn.Stat(ctx, "loser"); err != nil || info.Kind != snapshot.KindActive {
		t.Fatalf("key after a failed Commit: %+v, %v", info, err)
	}
	if err := h.sn.Remove(ctx, "loser"); err != nil {
		t.Fatal(err)
	}
}

func testRemove(t *testing.T, h *harness) {
	sn := h.sn
	commitLayer(t, sn, "p", "", nil)
	commitLayer(t, sn, "c", "p", nil)
	if _, err := sn.View(ctx, "v", "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Prepare(ctx, "a", "c"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Remove of a parent", sn.Remove(ctx, "p"), errdefs.ErrConflict)
	wantErr(t, "Remove of a viewed parent", sn.Remove(ctx, "c"), errdefs.ErrConflict)
	for _, k := range []string{"a", "v", "c", "p"} {
		if err := sn.Remove(ctx, k); err != nil {
			t.Fatalf("Remove %q: %v", k, err)
		}
		if _, err := sn.Stat(ctx, k); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Stat after Remove %q: %v", k, err)
		}
	}
	wantErr(t, "second Remove", sn.Remove(ctx, "p"), errdefs.ErrNotFound)
	// The names are free again.
	commitLayer(t, sn, "p", "", nil)
}

func testStatAndWalk(t *testing.T, h *harness) {
	sn := h.sn
	commitLayer(t, sn, "base", "", nil)
	if _, err := sn.Prepare(ctx, "work", "base"); err != nil {
		t.Fatal(err)
	}
	if _, err := sn.View(ctx, "look", "base"); err != nil {
		t.Fatal(err)
	}
	want := map[string]snapshot.Info{
		"base": {Name: "base", Kind: snapshot.KindCommitted},
		"look": {Name: "look", Parent: "base", Kind: snapshot.KindView},
		"work": {Name: "work", Parent: "base", Kind: snapshot.KindActive},
	}
	check := func(info snapshot.Info) {
		t.Helper()
		w := want[info.Name]
		if info.Name != w.Name || info.Parent != w.Parent || info.Kind != w.Kind {
			t.Errorf("info %+v, want name %q parent %q kind %v", info, w.Name, w.Parent, w.Kind)
		}
		if info.Created.IsZero() || info.Updated.Before(info.Created) {
			t.Errorf("info %q: created %v, updated %v", info.Name, info.Created, info.Updated)
		}
	}
	for name := range want {
		info, err := sn.Stat(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		check(info)
	}
	var names []string
	err := sn.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		check(info)
		names = append(names, info.Name)
		return nil
	})
	if err != nil || !reflect.DeepEqual(names, []string{"base", "look", "work"}) {
		t.Errorf("Walk: %q, %v", names, err)
	}
	stop := errors.New("stop")
	calls := 0
	err = sn.Walk(ctx, func(context.Context, snapshot.Info) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Walk with a failing fn: %v after %d calls", err, calls)
	}
}

func testLabels(t *testing.T, h *harness) {
	sn := h.sn
	if _, err := sn.Prepare(ctx, "k", "", snapshot.WithLabels(map[string]string{"a": "1", "b": "2"})); err != nil {
		t.Fatal(err)
	}
	info, err := sn.Stat(ctx, "k")
	if err != nil || !reflect.DeepEqual(info.Labels, map[string]string{"a": "1", "b": "2"}) {
		t.Fatalf("labels after Prepare: %v, %v", info.Labels, err)
	}
	info.Labels["a"] = "changed"
	if again, _ := sn.Stat(ctx, "k"); again.Labels["a"] != "1" {
		t.Errorf("changing a returned Info changed the snapshot")
	}
	if err := sn.Commit(ctx, "n", "k", snapshot.WithLabels(map[string]string{"b": "3", "c": "4"})); err != nil {
		t.Fatal(err)
	}
	info, err = sn.Stat(ctx, "n")
	if want := map[string]string{"a": "1", "b": "3", "c": "4"}; err != nil || !reflect.DeepEqual(info.Labels, want) {
		t.Errorf("labels after Commit: %v, %v; want %v", info.Labels, err, want)
	}
	if _, err := sn.View(ctx, "v", "n"); err != nil {
		t.Fatal(err)
	}
	if info, _ := sn.Stat(ctx, "v"); len(info.Labels) != 0 {
		t.Errorf("a view inherited labels: %v", info.Labels)
	}
}

func testUsage(t *testing.T, h *harness) {
	sn := h.sn
	mounts, err := sn.Prepare(ctx, "k", "")
	if err != nil {
		t.Fatal(err)
	}
	empty, err := sn.Usage(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	dir := WritableDir(t, mounts)
	data := strings.Repeat("x", 256<<10)
	writeFiles(t, dir, map[string]string{"big": data})
	if err := os.Link(filepath.Join(dir, "big"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	u, err := sn.Usage(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if u.Size-empty.Size < int64(len(data)) || u.Size-empty.Size > 2*int64(len(data)) {
		t.Errorf("usage grew by %d bytes for one %d-byte file linked twice", u.Size-empty.Size, len(data))
	}
	if u.Inodes != empty.Inodes+1 {
		t.Errorf("usage grew by %d inodes for one file linked twice", u.Inodes-empty.Inodes)
	}
	if err := sn.Commit(ctx, "n", "k"); err != nil {
		t.Fatal(err)
	}
	if c, err := sn.Usage(ctx, "n"); err != nil || c != u {
		t.Errorf("usage after Commit: %+v, %v; before %+v", c, err, u)
	}
}

func testReopen(t *testing.T, h *harness) {
	commitLayer(t, h.sn, "base", "", map[string]string{"f": "1"}, snapshot.WithLabels(map[string]string{"l": "v"}))
	commitLayer(t, h.sn, "top", "base", map[string]string{"g": "2"})
	active, err := h.sn.Prepare(ctx, "active", "top")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.sn.View(ctx, "view", "base"); err != nil {
		t.Fatal(err)
	}
	walk := func(sn snapshot.Snapshotter) []snapshot.Info {
		var infos []snapshot.Info
		if err := sn.Walk(ctx, func(_ context.Context, i snapshot.Info) error {
			infos = append(infos, i)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return infos
	}
	before := walk(h.sn)

	// Another process's view, while the first is open, and after it closed.
	other := h.reopen()
	if after := walk(other); !timesEqual(before, after) {
		t.Errorf("a second snapshotter sees\n%+v\nnot\n%+v", after, before)
	}
	if err := h.sn.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.sn.Stat(ctx, "base"); err == nil {
		t.Errorf("Stat on a closed snapshotter succeeded")
	}
	again := h.reopen()
	if after := walk(again); !timesEqual(before, after) {
		t.Errorf("after reopening:\n%+v\nnot\n%+v", after, before)
	}
	m, err := again.Mounts(ctx, "active")
	if err != nil || !reflect.DeepEqual(m, active) {
		t.Errorf("Mounts after reopening: %+v, %v; want %+v", m, err, active)
	}
	if err := again.Commit(ctx, "committed-later", "active"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Stat(ctx, "committed-later"); err != nil {
		t.Errorf("the other snapshotter does not see a commit: %v", err)
	}
}

// timesEqual compares Infos with time.Time.Equal, which ignores the monotonic clock reading
// and location that do not survive a round trip through disk.
func timesEqual(a, b []snapshot.Info) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if !x.Created.Equal(y.Created) || !x.Updated.Equal(y.Updated) {
			return false
		}
		x.Created, x.Updated = y.Created, y.Updated
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

func testArbitraryKeys(t *testing.T, h *harness) {
	parent := filepath.Dir(h.root)
	before, _ := os.ReadDir(parent)
	keys := []string{
		"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"../../escape", "/etc/passwd", "a/b/c", "with space", "ключ", ".", "..", "x\x00y",
		strings.Repeat("long", 300),
	}
	prev := ""
	for i, k := range keys {
		commitLayer(t, h.sn, k, prev, map[string]string{fmt.Sprintf("f%d", i): k})
		prev = k
	}
	for _, k := range keys {
		info, err := h.sn.Stat(ctx, k)
		if err != nil || info.Name != k {
			t.Errorf("Stat(%q) = %+v, %v", k, info, err)
		}
	}
	after, _ := os.ReadDir(parent)
	if len(after) != len(before) {
		t.Errorf("keys made files outside the root: %v, was %v", after, before)
	}
	if _, err := os.Stat("/etc/passwd/fs"); err == nil {
		t.Errorf("a key was used as a path")
	}
}

// testConcurrent runs mutations from several goroutines, half on a second snapshotter of the
// same root (another process, as far as the flock is concerned).
func testConcurrent(t *testing.T, h *harness) {
	commitLayer(t, h.sn, "base", "", map[string]string{"f": "1"})
	sns := []snapshot.Snapshotter{h.sn, h.reopen()}
	const workers, rounds = 4, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sn := sns[w%len(sns)]
			for r := 0; r < rounds; r++ {
				key := fmt.Sprintf("w%d-r%d", w, r)
				name := "committed-" + key
				if _, err := sn.Prepare(ctx, key, "base"); err != nil {
					errs <- err
					return
				}
				if err := sn.Commit(ctx, name, key); err != nil {
					errs <- err
					return
				}
				if _, err := sn.View(ctx, "view-"+key, name); err != nil {
					errs <- err
					return
				}
				if r%2 == 0 {
					if err := sn.Remove(ctx, "view-"+key); err != nil {
						errs <- err
						return
					}
					if err := sn.Remove(ctx, name); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	count := 0
	h.sn.Walk(ctx, func(context.Context, snapshot.Info) error { count++; return nil })
	if want := 1 + workers*rounds/2*2; count != want {
		t.Errorf("after concurrent mutations Walk sees %d snapshots, want %d", count, want)
	}
}

func testConcurrentCommitOfOneName(t *testing.T, h *harness) {
	sns := []snapshot.Snapshotter{h.sn, h.reopen()}
	const racers = 4
	for i := 0; i < racers; i++ {
		if _, err := sns[i%2].Prepare(ctx, fmt.Sprintf("k%d", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	results := make([]error, racers)
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = sns[i%2].Commit(ctx, "sha256:same", fmt.Sprintf("k%d", i))
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range results {
		switch {
		case err == nil:
			won++
		case errors.Is(err, errdefs.ErrAlreadyExists):
			if err := h.sn.Remove(ctx, fmt.Sprintf("k%d", i)); err != nil {
				t.Error(err)
			}
		default:
			t.Error(err)
		}
	}
	if won != 1 {
		t.Errorf("%d commits of one name succeeded, want 1", won)
	}
}
