package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRuntimeStateOnTmpfs: a new store keeps the runtime's per-boot state (libcontainer's
// state.json, the exec profile) on a tmpfs, through the symlink <root>/runtime, as runc keeps
// /run/runc: a running container's state is there, exec and kill find it, and a removed
// container's goes.
func TestRuntimeStateOnTmpfs(t *testing.T) {
	s := runStore(t)
	link := filepath.Join(s.root, "runtime")
	target, err := os.Readlink(link)
	if err != nil {
		var st unix.Statfs_t
		if unix.Statfs("/dev/shm", &st) != nil || st.Type != 0x01021994 {
			t.Skip("neither /run nor /dev/shm is a tmpfs here")
		}
		t.Fatalf("%s is not a symlink: %v", link, err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil || st.Type != 0x01021994 {
		t.Fatalf("the runtime directory %s is not on a tmpfs: %v", target, err)
	}
	if fi, err := os.Lstat(target); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("the runtime directory %s: %v", target, err)
	}
	id := strings.TrimSpace(s.ok("run", "-d", "busybox", "sleep", "60"))
	waitFor(t, "the exec profile", func() bool {
		_, err := os.Stat(filepath.Join(target, id, "hako-exec.conf"))
		return err == nil
	})
	if _, err := os.Stat(filepath.Join(target, id, "state.json")); err != nil {
		t.Fatalf("no state.json on the tmpfs: %v", err)
	}
	if got := s.ok("exec", id, "echo", "in"); got != "in\n" {
		t.Fatalf("exec: %q", got)
	}
	s.ok("kill", id)
	s.ok("rm", id)
	if _, err := os.Stat(filepath.Join(target, id)); !os.IsNotExist(err) {
		t.Fatalf("the removed container's state is still there: %v", err)
	}
	// A --rm run leaves nothing either, once its monitor is done.
	s.ok("run", "--rm", "busybox", "true")
	waitFor(t, "the runtime directory to hold no container", func() bool {
		entries, _ := os.ReadDir(target)
		for _, e := range entries {
			if e.IsDir() {
				return false
			}
		}
		return true
	})
}
