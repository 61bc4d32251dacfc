package runtime

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path"
	"path/filepath"

	"github.com/hako-dev/hako/internal/atomicfile"
)

// The search's result, kept (docs/run.md, "The cgroup search"). Where a container's cgroups
// are, libcontainer finds from the cgroup mounts: for each subsystem, /proc/self/mountinfo
// read and parsed again (~1 ms of CPU in v1 here, on every start). For a cgroups path that is
// absolute, as hako's are (/hako/ID), the result depends only on those mounts and on the
// controllers the kernel lists for a process: the directories of the previous container of the
// store, with the ID replaced, are the next one's, as long as those are the same. A monitor
// keeps them in the runtime root after its search, with a digest of what they depend on, and
// the next start takes them if the digest it computes (one read of mountinfo) is the same.

// searchCacheName is the kept search's file in the runtime root.
const searchCacheName = ".cgroup-search.json"

// searchCache is a search's result for cgroups under Parent, with the digest of the mounts it
// was found from.
type searchCache struct {
	Mounts string            `json:"mounts"` // cgroupMounts when it was found
	Parent string            `json:"parent"` // the cgroups path's parent, /hako
	Dirs   map[string]string `json:"dirs"`   // subsystem ("" for hybrid's unified) → the cgroups' parent directory
}

// cachedSearch returns the paths of the cgroups at cgPath as the kept search has them, if it
// was for the same parent and mounts; else nil.
func (r *Runtime) cachedSearch(cgPath, mounts string) map[string]string {
	if mounts == "" || !searchKept(cgPath) {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(r.root, searchCacheName))
	if err != nil {
		return nil
	}
	var c searchCache
	if json.Unmarshal(b, &c) != nil || c.Mounts != mounts || c.Parent != path.Dir(cgPath) || len(c.Dirs) == 0 {
		return nil
	}
	id := path.Base(cgPath)
	paths := make(map[string]string, len(c.Dirs))
	for sub, d := range c.Dirs {
		if !filepath.IsAbs(d) || filepath.Clean(d) != d {
			return nil
		}
		paths[sub] = filepath.Join(d, id)
	}
	return paths
}

// keepSearch keeps the paths that a search found for the cgroups at cgPath, from the mounts
// of digest mounts, unless the kept ones are the same already.
func (r *Runtime) keepSearch(cgPath, mounts string, paths map[string]string) error {
	if mounts == "" || !searchKept(cgPath) || len(paths) == 0 {
		return nil
	}
	c := searchCache{Mounts: mounts, Parent: path.Dir(cgPath), Dirs: map[string]string{}}
	id := path.Base(cgPath)
	for sub, p := range paths {
		if filepath.Base(p) != id {
			return nil // not of the form PARENT/ID: nothing to keep
		}
		c.Dirs[sub] = filepath.Dir(p)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	file := filepath.Join(r.root, searchCacheName)
	if old, err := os.ReadFile(file); err == nil && bytes.Equal(old, b) {
		return nil
	}
	return atomicfile.Replace(file, b, 0o600)
}

// searchKept tells whether the search for cgPath is kept: an absolute path of the form
// PARENT/ID, which libcontainer resolves from the mounts alone (not from this process's own
// cgroups).
func searchKept(cgPath string) bool {
	return path.IsAbs(cgPath) && path.Clean(cgPath) == cgPath && path.Dir(cgPath) != "/"
}

// cgroupMounts is a digest of what a search for an absolute cgroups path depends on: the
// cgroup and cgroup2 mounts this process sees (their lines of /proc/self/mountinfo: root,
// mount point, type and super options, not the IDs, which another mount namespace numbers
// anew) and the controllers of /proc/self/cgroup (not the process's own cgroups). Another
// mount namespace may see other hierarchies, or none where the kept search has one. "" if
// they cannot be read.
func cgroupMounts() string {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	return digestCgroupMounts(mi, own)
}

// digestCgroupMounts is cgroupMounts of a mountinfo and a /proc/PID/cgroup.
func digestCgroupMounts(mi, own []byte) string {
	h := sha256.New()
	for line := range bytes.Lines(mi) {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
		head, rest, ok := bytes.Cut(line, []byte(" - "))
		f := bytes.Fields(head)
		if ok && len(f) >= 5 && (bytes.HasPrefix(rest, []byte("cgroup ")) || bytes.HasPrefix(rest, []byte("cgroup2 "))) {
			for _, b := range [][]byte{f[3], f[4], rest} {
				h.Write(b)
				h.Write([]byte{0})
			}
		}
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
	return hex.EncodeToString(h.Sum(nil))
}
