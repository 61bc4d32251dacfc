package mount

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const testBase = 100000

var testMap = []specs.LinuxIDMapping{{ContainerID: 0, HostID: testBase, Size: 65536}}

func owner(t *testing.T, p string) (uint32, uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Uid, st.Gid
}

// mountsUnder counts the mounts whose mount point or root lies under dir: an idmapped mount must
// leave none behind once target is unmounted.
func mountsUnder(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, dir) {
			n++
		}
	}
	return n
}

// The namespace carries every mapping line given: seen through a bind idmapped with it, a file
// of uid 0 and gid 1000 is host 100000:300000.
func TestUserNamespaceMappings(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	src := mustMkdir(t, dir, "src")
	f := filepath.Join(src, "f")
	os.WriteFile(f, nil, 0o644)
	os.Chown(f, 0, 1000)
	gids := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 1000}, {ContainerID: 1000, HostID: 300000, Size: 1}}
	target := mustMkdir(t, dir, "t")
	if err := (Mount{Type: "bind", Source: src, Options: append([]string{"bind"}, IDMapOptions(testMap, gids)...)}).Mount(target); err != nil {
		t.Fatal(err)
	}
	unmountCleanup(t, target)
	if uid, gid := owner(t, filepath.Join(target, "f")); uid != testBase || gid != 300000 {
		t.Errorf("file shows as %d:%d, want %d:300000", uid, gid, testBase)
	}
}

// An overlay with idmapped lower layers: the image's files (uid 0 on disk) show as the mapped
// root, a file written through the overlay lands in the upper dir with the host ID it was
// written as, the upper dir's root takes the mapped root's owner, and nothing but the overlay
// is mounted.
func TestOverlayIDMapped(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	lower1, lower2 := mustMkdir(t, dir, "l1"), mustMkdir(t, dir, "l2")
	os.WriteFile(filepath.Join(lower1, "a"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(lower2, "b"), []byte("b"), 0o644)
	os.Chown(filepath.Join(lower2, "b"), 1000, 1000)
	upper, work := mustMkdir(t, dir, "u"), mustMkdir(t, dir, "w")
	target := mustMkdir(t, dir, "t")
	m := Mount{Type: "overlay", Source: "overlay", Options: append([]string{
		"workdir=" + work, "upperdir=" + upper, "lowerdir=" + lower1 + ":" + lower2,
	}, IDMapOptions(testMap, testMap)...)}
	if err := m.Mount(target); err != nil {
		t.Fatal(err)
	}
	if uid, gid := owner(t, filepath.Join(target, "a")); uid != testBase || gid != testBase {
		t.Errorf("lower file owned by %d:%d, want %d", uid, gid, testBase)
	}
	if uid, _ := owner(t, filepath.Join(target, "b")); uid != testBase+1000 {
		t.Errorf("lower file of uid 1000 shows as %d, want %d", uid, testBase+1000)
	}
	if uid, gid := owner(t, upper); uid != testBase || gid != testBase {
		t.Errorf("upper root owned by %d:%d, want the mapped root", uid, gid)
	}
	if uid, _ := owner(t, target); uid != testBase {
		t.Errorf("merged root owned by %d, want the mapped root", uid)
	}
	// Written as host root, which the mapping cannot express: the lower file is copied up with
	// its owner (the mapped root), a new file gets the writer's.
	if err := os.WriteFile(filepath.Join(target, "a"), []byte("A"), 0o644); err != nil {
		t.Fatal(err)
	}
	if uid, _ := owner(t, filepath.Join(upper, "a")); uid != testBase {
		t.Errorf("copied-up file owned by %d in the upper dir, want %d", uid, testBase)
	}
	if n := mountsUnder(t, dir); n != 1 {
		t.Errorf("%d mounts under the test dir, want only the overlay", n)
	}
	if err := unix.Unmount(target, 0); err != nil {
		t.Fatalf("umount: %v", err)
	}
	if n := mountsUnder(t, dir); n != 0 {
		t.Errorf("%d mounts left under the test dir", n)
	}
	if uid, _ := owner(t, filepath.Join(lower1, "a")); uid != 0 {
		t.Errorf("the lower layer was changed: owner %d", uid)
	}
}

// The same through mount(2), as on a kernel without the new mount API.
func TestOverlayIDMappedLegacy(t *testing.T) {
	needRoot(t)
	forceLegacy = true
	defer func() { forceLegacy = false }()
	dir := t.TempDir()
	lower := mustMkdir(t, dir, "l")
	os.WriteFile(filepath.Join(lower, "a"), nil, 0o644)
	target := mustMkdir(t, dir, "t")
	m := Mount{Type: "overlay", Source: "overlay", Options: append([]string{
		"workdir=" + mustMkdir(t, dir, "w"), "upperdir=" + mustMkdir(t, dir, "u"), "lowerdir=" + lower,
	}, IDMapOptions(testMap, testMap)...)}
	if err := m.Mount(target); err != nil {
		t.Fatal(err)
	}
	unmountCleanup(t, target)
	if uid, _ := owner(t, filepath.Join(target, "a")); uid != testBase {
		t.Errorf("lower file owned by %d, want %d", uid, testBase)
	}
}

func TestBindIDMapped(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	src := mustMkdir(t, dir, "src")
	os.WriteFile(filepath.Join(src, "f"), nil, 0o644)
	target := mustMkdir(t, dir, "t")
	m := Mount{Type: "bind", Source: src, Options: append([]string{"rbind", "ro"}, IDMapOptions(testMap, testMap)...)}
	if err := m.Mount(target); err != nil {
		t.Fatal(err)
	}
	unmountCleanup(t, target)
	if uid, gid := owner(t, filepath.Join(target, "f")); uid != testBase || gid != testBase {
		t.Errorf("file shows as %d:%d, want %d", uid, gid, testBase)
	}
	if err := os.WriteFile(filepath.Join(target, "g"), nil, 0o644); err == nil {
		t.Error("wrote through a read-only idmapped bind")
	}
}

func TestIDMapOptionErrors(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	target := mustMkdir(t, dir, "t")
	src := mustMkdir(t, dir, "src")
	for _, opts := range [][]string{
		{"rbind", "uidmap=0:100000:65536"},
		{"rbind", "uidmap=0:100000", "gidmap=0:100000:1"},
		{"rbind", "uidmap=0:100000:0", "gidmap=0:100000:1"},
	} {
		err := Mount{Type: "bind", Source: src, Options: opts}.Mount(target)
		if err == nil {
			Unmount(target)
			t.Errorf("%q: mounted", opts)
		}
	}
	err := Mount{Type: "tmpfs", Source: "tmpfs", Options: IDMapOptions(testMap, testMap)}.Mount(target)
	if err == nil || !strings.Contains(err.Error(), "bind and overlay") {
		Unmount(target)
		t.Errorf("idmapped tmpfs: %v", err)
	}
}

// OpenBind with recursive brings the mounts under the source along, as an rbind; the attributes
// and the idmapping are set on the top mount only, as runc's "ro" and "idmap": a submount stays
// writable and shows its files as they are on disk.
func TestOpenBind(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	src := mustMkdir(t, dir, "src")
	os.WriteFile(filepath.Join(src, "f"), nil, 0o644)
	sub := mustMkdir(t, src, "sub")
	if err := (Mount{Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}}).Mount(sub); err != nil {
		t.Fatal(err)
	}
	unmountCleanup(t, sub)
	os.WriteFile(filepath.Join(sub, "g"), nil, 0o644)
	ns, err := UserNamespace(testMap, testMap)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	for _, recursive := range []bool{true, false} {
		fd, err := OpenBind(src, recursive, unix.MOUNT_ATTR_RDONLY, ns)
		if err != nil {
			t.Fatal(err)
		}
		target := mustMkdir(t, dir, "t")
		err = unix.MoveMount(fd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		if uid, _ := owner(t, filepath.Join(target, "f")); uid != testBase {
			t.Errorf("recursive %v: the top mount's file shows as %d, want %d", recursive, uid, testBase)
		}
		if err := os.WriteFile(filepath.Join(target, "new"), nil, 0o644); err == nil {
			t.Errorf("recursive %v: wrote through the read-only top mount", recursive)
		}
		_, err = os.Lstat(filepath.Join(target, "sub", "g"))
		switch {
		case recursive && err != nil:
			t.Errorf("the recursive bind lacks the submount: %v", err)
		case recursive:
			if uid, _ := owner(t, filepath.Join(target, "sub", "g")); uid != 0 {
				t.Errorf("the submount was idmapped: its file shows as %d", uid)
			}
			if err := os.WriteFile(filepath.Join(target, "sub", "new"), nil, 0o644); err != nil {
				t.Errorf("the submount was made read-only: %v", err)
			}
		case err == nil:
			t.Error("the non-recursive bind has the submount")
		}
		if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
			t.Fatal(err)
		}
		os.Remove(target)
	}
}
