package runtime

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
)

// The digest of the cgroup mounts changes with what a search depends on (a cgroup mount's
// root, mount point, type or super options, a controller listed or not), and not with the
// rest (other filesystems, mount IDs, the process's own cgroups).
func TestDigestCgroupMounts(t *testing.T) {
	const mi = `21 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
27 22 0:24 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
31 27 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory
32 27 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
28 27 0:25 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
`
	const own = "2:cpu,cpuacct:/\n1:memory:/user.slice\n0::/user.slice\n"
	base, points := digestCgroupMounts([]byte(mi), []byte(own))
	if want := []string{"/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/unified"}; !slices.Equal(points, want) {
		t.Errorf("mount points %q, want %q", points, want)
	}
	same := map[string][2]string{
		"another filesystem mounted":      {mi + "90 21 0:50 / /mnt rw - overlay overlay rw,lowerdir=/a\n", own},
		"other mount IDs and peer groups": {strings.NewReplacer("31 27", "131 127", "shared:13", "master:3").Replace(mi), own},
		"other own cgroups":               {mi, "2:cpu,cpuacct:/x\n1:memory:/y/z\n0::/w\n"},
	}
	for name, in := range same {
		if d, _ := digestCgroupMounts([]byte(in[0]), []byte(in[1])); d != base {
			t.Errorf("%s: the digest changed", name)
		}
	}
	other := map[string][2]string{
		"a hierarchy unmounted":        {strings.Replace(mi, "28 27 0:25 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate\n", "", 1), own},
		"a hierarchy mounted":          {mi + "40 27 0:40 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n", own},
		"a mount point moved":          {strings.Replace(mi, "/sys/fs/cgroup/memory rw", "/cg/memory rw", 1), own},
		"a mount's root":               {strings.Replace(mi, "0:28 / /sys", "0:28 /sub /sys", 1), own},
		"super options":                {strings.Replace(mi, "rw,memory", "rw,memory,nosomething", 1), own},
		"a controller less":            {mi, "1:memory:/user.slice\n0::/user.slice\n"},
		"controllers in another order": {mi, "2:cpuacct,cpu:/\n1:memory:/user.slice\n0::/user.slice\n"},
	}
	for name, in := range other {
		if d, _ := digestCgroupMounts([]byte(in[0]), []byte(in[1])); d == base {
			t.Errorf("%s: the digest did not change", name)
		}
	}
	// Mount points as the kernel escapes them in mountinfo come out as paths (a kept directory
	// is checked against them); a mountinfo that does not parse gives no digest.
	if _, p := digestCgroupMounts([]byte("40 27 0:40 / /sys/fs/cgroup/my\\040pids rw - cgroup cgroup rw,pids\n"), []byte(own)); !slices.Equal(p, []string{"/sys/fs/cgroup/my pids"}) {
		t.Errorf("escaped mount point: %q", p)
	}
	if d, _ := digestCgroupMounts([]byte("40 27 0:40 / /sys/fs/cgroup/pids rw cgroup cgroup rw,pids\n"), []byte(own)); d != "" {
		t.Errorf("a mountinfo without its separator gave digest %q", d)
	}
	if d, _ := cgroupMountsDigest(); d == "" {
		t.Error("no digest of this machine's cgroup mounts (v1 or hybrid here)")
	} else if again, _ := cgroupMountsDigest(); again != d {
		t.Errorf("cgroupMountsDigest: %q, then %q", d, again)
	}
}

// A kept search gives the next container's paths only for the same parent and mounts, and
// only from a well-formed file: a directory for the devices hierarchy, each under a cgroup
// mount point; a search of another form is not kept.
func TestKeptSearch(t *testing.T) {
	r := &Runtime{root: t.TempDir()}
	points := []string{"/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/devices", "/sys/fs/cgroup/unified"}
	found := map[string]string{
		"memory":  "/sys/fs/cgroup/memory/hako/a1",
		"cpu":     "/sys/fs/cgroup/cpu,cpuacct/hako/a1",
		"devices": "/sys/fs/cgroup/devices/hako/a1",
		"":        "/sys/fs/cgroup/unified/hako/a1",
	}
	if p := r.cachedSearch("/hako/b2", "m1", points); p != nil {
		t.Fatalf("nothing kept, yet %v", p)
	}
	if err := r.keepSearch("/hako/a1", "m1", found); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"memory":  "/sys/fs/cgroup/memory/hako/b2",
		"cpu":     "/sys/fs/cgroup/cpu,cpuacct/hako/b2",
		"devices": "/sys/fs/cgroup/devices/hako/b2",
		"":        "/sys/fs/cgroup/unified/hako/b2",
	}
	if p := r.cachedSearch("/hako/b2", "m1", points); !maps.Equal(p, want) {
		t.Errorf("kept search for b2: %v, want %v", p, want)
	}
	for _, c := range [][2]string{{"/hako/b2", "m2"}, {"/other/b2", "m1"}, {"/hako/b2", ""}, {"b2", "m1"}, {"/b2", "m1"}} {
		if p := r.cachedSearch(c[0], c[1], points); p != nil {
			t.Errorf("cgroups path %q, mounts %q: %v, want none", c[0], c[1], p)
		}
	}
	if p := r.cachedSearch("/hako/b2", "m1", points[1:]); p != nil {
		t.Errorf("a directory under no mount point: %v, want none", p)
	}
	file := filepath.Join(r.root, searchCacheName)
	for _, bad := range []string{
		"{",
		`{"mounts":"m1","parent":"/hako","dirs":{"memory":"/sys/fs/cgroup/memory/hako"}}`, // no devices
		`{"mounts":"m1","parent":"/hako","dirs":{"devices":"hako"}}`,
		`{"mounts":"m1","parent":"/hako","dirs":{"devices":"/sys/fs/cgroup/devices/../../../etc"}}`,
		`{"mounts":"m1","parent":"/hako","dirs":{"devices":"/etc"}}`,
		`{"mounts":"m1","parent":"/hako","dirs":{}}`,
	} {
		if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if p := r.cachedSearch("/hako/b2", "m1", points); p != nil {
			t.Errorf("kept file %s: %v, want none", bad, p)
		}
	}
	os.Remove(file)
	if err := r.keepSearch("/hako/a1", "m1", map[string]string{"devices": "/sys/fs/cgroup/devices/hako/a1/sub"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); err == nil {
		t.Error("a search whose paths do not end in the ID was kept")
	}
}

// On this machine, the paths a kept search gives are libcontainer's own for that container.
func TestKeptSearchIsLibcontainers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: libcontainer's cgroup manager")
	}
	r := &Runtime{root: t.TempDir()}
	search := func(p string) map[string]string {
		cm, err := manager.New(&cgroups.Cgroup{Path: p, Resources: &cgroups.Resources{}})
		if err != nil {
			t.Fatal(err)
		}
		return cm.GetPaths()
	}
	digest, points := cgroupMountsDigest()
	if err := r.keepSearch("/hako-test/a1", digest, search("/hako-test/a1")); err != nil {
		t.Fatal(err)
	}
	got, want := r.cachedSearch("/hako-test/b2", digest, points), search("/hako-test/b2")
	if len(want) == 0 || !maps.Equal(got, want) {
		t.Errorf("kept: %v\nlibcontainer: %v", got, want)
	}
}
