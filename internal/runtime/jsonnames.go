package runtime

// searchCache is a cgroup search's result for cgroups under Parent, with the digest of the
// mounts it was found from (cgroupsearch_linux.go). The kept search is read by every start and
// written after a search: runtime_easyjson.go holds its generated encoder and decoder (package
// jsoncodec), as the other files of a run's path have theirs, rather than encoding/json's
// reflection at the type's first use in each monitor. The file is the runtime's own, so the
// decoder's exact member names read everything it writes.
type searchCache struct {
	Mounts string            `json:"mounts"` // cgroupMountsDigest when it was found
	Parent string            `json:"parent"` // the cgroups path's parent, /hako
	Dirs   map[string]string `json:"dirs"`   // subsystem ("" for hybrid's unified) → the cgroups' parent directory
}

// JSONSearchCache is searchCache under a name that the codec generator (internal/jsongen) can
// reach.
type JSONSearchCache = searchCache
