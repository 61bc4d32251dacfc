package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMain: the engine's tests keep their stores' runtime directories in the stores (nothing
// left in /run or /dev/shm); the runtime directory's own tests choose their tmpfs.
func TestMain(m *testing.M) {
	volatileBases = nil
	os.Exit(m.Run())
}

// tmpfsBase is a fresh directory of a tmpfs for volatileBases, or skips.
func tmpfsBase(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "hako-engine-test-")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil || st.Type != tmpfsMagic {
		t.Skip("/dev/shm is not a tmpfs")
	}
	return dir
}

func withBases(t *testing.T, bases ...string) {
	old := volatileBases
	volatileBases = bases
	t.Cleanup(func() { volatileBases = old })
}

// A new store's runtime directory is a symlink to a directory of its own (0700) on the first
// tmpfs of volatileBases, made again after a reboot (its tmpfs emptied); a store that has a
// runtime directory keeps it; without a tmpfs it is a plain directory.
func TestRuntimeDirOnTmpfs(t *testing.T) {
	base := tmpfsBase(t)
	withBases(t, filepath.Join(t.TempDir(), "not-a-tmpfs"), base)
	root := t.TempDir()
	got, err := runtimeDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(got) != base || !strings.HasPrefix(filepath.Base(got), "hako-runtime-") {
		t.Fatalf("runtime directory %s, want one in %s", got, base)
	}
	if link, err := os.Readlink(filepath.Join(root, "runtime")); err != nil || link != got {
		t.Fatalf("the store's runtime entry: %q, %v; want a symlink to %s", link, err, got)
	}
	if fi, err := os.Lstat(got); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("%s: %v, %v", got, fi.Mode(), err)
	}
	// The same store opened again: the same directory.
	if again, err := runtimeDir(root); err != nil || again != got {
		t.Fatalf("opened again: %s, %v", again, err)
	}
	// A reboot: the tmpfs is empty.
	os.WriteFile(filepath.Join(got, "state"), nil, 0o600)
	if err := os.RemoveAll(got); err != nil {
		t.Fatal(err)
	}
	if again, err := runtimeDir(root); err != nil || again != got {
		t.Fatalf("after a reboot: %s, %v", again, err)
	}
	if fi, err := os.Lstat(got); err != nil || !fi.IsDir() {
		t.Fatalf("not made again: %v", err)
	}

	// A tmpfs where this user may not make the directory (/run, for any user but root) is
	// passed over (here a file of a tmpfs, where no directory can be made).
	file := filepath.Join(base, "a-file")
	os.WriteFile(file, nil, 0o600)
	withBases(t, file, base)
	other := t.TempDir()
	if got, err := runtimeDir(other); err != nil || filepath.Dir(got) != base {
		t.Fatalf("past an unwritable tmpfs: %s, %v", got, err)
	}

	// A store of before: its directory stays.
	old := t.TempDir()
	os.Mkdir(filepath.Join(old, "runtime"), 0o700)
	if got, err := runtimeDir(old); err != nil || got != filepath.Join(old, "runtime") {
		t.Fatalf("a store with a runtime directory: %s, %v", got, err)
	}

	// No tmpfs: a plain directory in the store.
	withBases(t, filepath.Join(t.TempDir(), "missing"))
	plain := t.TempDir()
	if got, err := runtimeDir(plain); err != nil || got != filepath.Join(plain, "runtime") {
		t.Fatalf("without a tmpfs: %s, %v", got, err)
	}
	if fi, err := os.Lstat(filepath.Join(plain, "runtime")); err != nil || !fi.IsDir() {
		t.Fatalf("without a tmpfs: %v", err)
	}
}

// A world-writable tmpfs lets anybody take a name first: a runtime directory that is not this
// user's alone (another's, open to others, a symlink) is refused, not used.
func TestRuntimeDirRefusesAnotherOwner(t *testing.T) {
	base := tmpfsBase(t)
	withBases(t, base)
	root := t.TempDir()
	got, err := runtimeDir(root)
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(got)
	if err := os.Mkdir(got, 0o777); err != nil { // taken by "someone" while it was gone
		t.Fatal(err)
	}
	os.Chmod(got, 0o777)
	if _, err := runtimeDir(root); err == nil || !strings.Contains(err.Error(), "not a directory of this user's alone") {
		t.Fatalf("a runtime directory open to all: %v", err)
	}
	os.Remove(got)
	if err := os.Symlink(t.TempDir(), got); err != nil {
		t.Fatal(err)
	}
	if _, err := runtimeDir(root); err == nil {
		t.Fatal("a symlink in place of the runtime directory was taken")
	}
	os.Remove(got)
	if os.Geteuid() == 0 {
		os.Mkdir(got, 0o700)
		os.Chown(got, 65534, 65534)
		if _, err := runtimeDir(root); err == nil {
			t.Fatal("another user's runtime directory was taken")
		}
	}
}
