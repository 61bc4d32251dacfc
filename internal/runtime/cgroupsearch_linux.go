package runtime

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"sync"

	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/cgroups"

	"github.com/hako-dev/hako/internal/atomicfile"
	"github.com/hako-dev/hako/internal/jsoncodec"
)

// The search's result, kept (docs/run.md, "The processes"). Where a container's cgroups are,
// libcontainer finds from the cgroup mounts: for each subsystem, /proc/thread-self/mountinfo
// read and parsed again (~1 ms of CPU in v1 here, on every start). For a cgroups path that is
// absolute, as hako's are (/hako/ID), each directory is the subsystem's mount point (under the
// cgroup root) joined with the path: the directories of the store's previous container, with
// the ID replaced, are the next one's, as long as the mounts are the same. A monitor keeps
// them in the runtime root after its search, with a digest of the mounts (and, conservatively,
// of the controllers libcontainer's listing of v1 mounts reads, and of libcontainer's version:
// its rules may change), and the next start takes them if the digest it computes (one read of
// mountinfo) is the same and each directory is under one of the cgroup mount points. Not in
// cgroup v2, where the search reads no mountinfo.

// searchCacheName is the kept search's file in the runtime root.
const searchCacheName = ".cgroup-search.json"

// cachedSearch returns the paths of the cgroups at cgPath as the kept search has them, if it
// was for the same parent and mounts (digest, at mount points points), and has a directory for
// the devices hierarchy and every directory under one of those mount points; else nil.
func (r *Runtime) cachedSearch(cgPath, digest string, points []string) map[string]string {
	if digest == "" || !keepablePath(cgPath) {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(r.root, searchCacheName))
	if err != nil {
		return nil
	}
	var c searchCache
	if jsoncodec.Unmarshal(b, &c) != nil || c.Mounts != digest || c.Parent != path.Dir(cgPath) || c.Dirs["devices"] == "" {
		return nil
	}
	id := path.Base(cgPath)
	paths := make(map[string]string, len(c.Dirs))
	for sub, d := range c.Dirs {
		under := false
		for _, p := range points {
			under = under || strings.HasPrefix(d, p+"/")
		}
		if !under || filepath.Clean(d) != d {
			return nil
		}
		paths[sub] = filepath.Join(d, id)
	}
	return paths
}

// keepSearch keeps the paths that a search found for the cgroups at cgPath, from the mounts
// of digest, unless the kept ones are the same already.
func (r *Runtime) keepSearch(cgPath, digest string, paths map[string]string) error {
	if digest == "" || !keepablePath(cgPath) || len(paths) == 0 {
		return nil
	}
	c := searchCache{Mounts: digest, Parent: path.Dir(cgPath), Dirs: map[string]string{}}
	id := path.Base(cgPath)
	for sub, p := range paths {
		if filepath.Base(p) != id {
			return nil // not of the form PARENT/ID: nothing to keep
		}
		c.Dirs[sub] = filepath.Dir(p)
	}
	file := filepath.Join(r.root, searchCacheName)
	if b, err := os.ReadFile(file); err == nil {
		var old searchCache
		if jsoncodec.Unmarshal(b, &old) == nil && reflect.DeepEqual(old, c) {
			return nil
		}
	}
	b, err := jsoncodec.Marshal(&c)
	if err != nil {
		return err
	}
	return atomicfile.Replace(file, b, 0o600)
}

// keepablePath tells whether the search for cgPath may be kept: an absolute path of the form
// PARENT/ID, which libcontainer resolves from the mounts alone (not from this process's own
// cgroups).
func keepablePath(cgPath string) bool {
	return path.IsAbs(cgPath) && path.Clean(cgPath) == cgPath && path.Dir(cgPath) != "/"
}

// cgroupMountsDigest is a digest of what a search for an absolute cgroups path depends on,
// and the cgroup mount points: the cgroup and cgroup2 mounts this thread sees (their lines of
// /proc/thread-self/mountinfo, which libcontainer reads, as moby/sys/mountinfo parses them:
// root, mount point, type, source and super options), the controllers of
// /proc/self/cgroup (not the process's own cgroups) and libcontainer's cgroups module. Another
// mount namespace may see other hierarchies, or none where the kept search has one. "" in
// cgroup v2, or if they cannot be read.
func cgroupMountsDigest() (string, []string) {
	if cgroups.IsCgroup2UnifiedMode() {
		return "", nil
	}
	mi, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return "", nil
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", nil
	}
	return digestCgroupMounts(mi, own)
}

// digestCgroupMounts is cgroupMountsDigest of a mountinfo and a /proc/PID/cgroup ("" for a
// mountinfo that does not parse).
func digestCgroupMounts(mi, own []byte) (string, []string) {
	mounts, err := mountinfo.GetMountsFromReader(bytes.NewReader(mi), func(m *mountinfo.Info) (skip, stop bool) {
		return m.FSType != "cgroup" && m.FSType != "cgroup2", false
	})
	if err != nil {
		return "", nil
	}
	var points []string
	h := sha256.New()
	h.Write([]byte("search2\x00" + cgroupsVersion() + "\x00")) // digests of another scheme or code differ
	for _, m := range mounts {
		// What the search uses, not the IDs, which another mount namespace numbers anew.
		for _, f := range []string{m.Root, m.Mountpoint, m.FSType, m.Source, m.VFSOptions} {
			h.Write([]byte(f))
			h.Write([]byte{0})
		}
		points = append(points, m.Mountpoint)
	}
	h.Write([]byte("controllers\x00"))
	for line := range bytes.Lines(own) {
		// HIERARCHY-ID:CONTROLLERS:PATH
		if f := bytes.SplitN(line, []byte(":"), 3); len(f) == 3 {
			h.Write(f[0])
			h.Write([]byte{':'})
			h.Write(f[1])
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil)), points
}

var cgroupsVersion = sync.OnceValue(func() string { return moduleVersion("github.com/opencontainers/cgroups") })
