package topdir

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Mark makes the directory and sets the flag where the filesystem has it (ext4 here), keeps
// the other flags, and is idempotent; an unmakeable directory is an error.
func TestMark(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "containers")
	if err := Mark(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("%v %v", fi, err)
	}
	if err := Mark(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	flags := flagsOf(t, dir)
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) == nil && st.Type == unix.EXT4_SUPER_MAGIC && flags&fsTopdirFL == 0 {
		t.Errorf("flags %#x: no FS_TOPDIR_FL on ext4", flags)
	}
	if err := Mark(filepath.Join(dir, "x\x00y"), 0o700); err == nil {
		t.Error("Mark of an impossible path: no error")
	}
}

// Unmark clears the flag that Mark set, keeps the other flags, and is idempotent.
func TestUnmark(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runtime")
	if err := Mark(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	marked := flagsOf(t, dir)
	if marked&fsTopdirFL == 0 {
		t.Skip("this filesystem has no FS_TOPDIR_FL")
	}
	for range 2 {
		if err := Unmark(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if got := flagsOf(t, dir); got != marked&^fsTopdirFL {
			t.Errorf("flags %#x after Unmark, want %#x", got, marked&^fsTopdirFL)
		}
	}
}

// flagsOf reads dir's inode flags; the test is skipped where the filesystem has none.
func flagsOf(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetInt(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		t.Skipf("no inode flags on this filesystem: %v", err)
	}
	return flags
}
