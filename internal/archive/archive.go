package archive

import (
	"strings"
	"time"

	_ "crypto/sha256" // digest.Canonical
	"github.com/opencontainers/go-digest"

	"github.com/hako-dev/hako/internal/errdefs"
)

// WhiteoutFormat says how Apply records deletions in the tree it writes.
type WhiteoutFormat int

const (
	// OCIWhiteouts: root holds the merged tree (native snapshotter): a whiteout deletes the named
	// path, an opaque marker empties the directory of what lower layers put there (entries of this
	// same layer stay).
	OCIWhiteouts WhiteoutFormat = iota
	// OverlayWhiteouts: root is an empty overlayfs upper dir: a whiteout becomes a 0/0 char
	// device, an opaque marker becomes xattr trusted.overlay.opaque=y on the directory.
	OverlayWhiteouts
)

func (f WhiteoutFormat) String() string {
	switch f {
	case OCIWhiteouts:
		return "oci"
	case OverlayWhiteouts:
		return "overlay"
	}
	return "WhiteoutFormat(?)"
}

// ApplyOptions control Apply.
type ApplyOptions struct {
	Whiteouts WhiteoutFormat
	// Name is how errors name this layer, e.g. "busybox.tar" or a digest; errors read
	// `apply layer NAME: entry "x/y": <problem>`.
	Name string
}

// ApplyResult describes the uncompressed tar bytes that Apply read.
type ApplyResult struct {
	DiffID digest.Digest
	Size   int64
}

// DiffOptions control WriteOverlayDiff and WriteDiff.
type DiffOptions struct {
	// SourceDateEpoch, if set, clamps every mtime to it (reproducible builds).
	SourceDateEpoch *time.Time
	// Skip names directories (relative to the upper dir, as "etc" or "usr/lib") that
	// WriteOverlayDiff leaves out, with everything below them.
	Skip map[string]bool
	// Owner, if set, gives the owner written for a file of owner uid:gid on disk: a user
	// namespace's host IDs become the IDs its container sees (commit, export).
	Owner func(uid, gid int) (int, int)
}

// ChangeKind is the kind of a Change.
type ChangeKind int

const (
	ChangeAdd ChangeKind = iota
	ChangeModify
	ChangeDelete
)

// String gives the letter `docker diff` prints.
func (k ChangeKind) String() string {
	switch k {
	case ChangeAdd:
		return "A"
	case ChangeModify:
		return "C"
	case ChangeDelete:
		return "D"
	}
	return "?"
}

// Change is one line of `docker diff`.
type Change struct {
	Kind ChangeKind
	Path string // absolute inside the container, e.g. "/etc/passwd"
}

func (c Change) String() string { return c.Kind.String() + " " + c.Path }

const (
	whiteoutPrefix = ".wh."
	// whiteoutMetaPrefix marks aufs bookkeeping (".wh..wh.plnk", ".wh..wh.aufs"); Apply skips it.
	whiteoutMetaPrefix = whiteoutPrefix + whiteoutPrefix
	whiteoutOpaque     = whiteoutMetaPrefix + ".opq"

	overlayOpaqueXattr     = "trusted.overlay.opaque"
	overlayUserOpaqueXattr = "user.overlay.opaque"

	paxXattrPrefix = "SCHILY.xattr."
)

// isOverlayXattr reports the xattrs that overlayfs keeps for itself. They never travel in a
// layer tar: carried into an upper dir they would let a layer forge opaque dirs or redirects.
func isOverlayXattr(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.")
}

// cleanEntryName turns a tar entry name into a path relative to the root ("." for the root
// itself), refusing anything that could leave it. Unlike filepath.Clean it does not let
// "a/../b" through: no tar writer produces ".." components, so one is a sign of an attack.
func cleanEntryName(name string) (string, error) {
	if name == "" {
		return "", errdefs.Invalidf("empty name")
	}
	if strings.HasPrefix(name, "/") {
		return "", errdefs.Invalidf("absolute path refused")
	}
	var parts []string
	for _, p := range strings.Split(name, "/") {
		switch p {
		case "", ".":
		case "..":
			return "", errdefs.Invalidf("path with \"..\" refused")
		default:
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return ".", nil
	}
	return strings.Join(parts, "/"), nil
}

// splitPath splits a cleaned relative path into its parent ("." for the root) and base.
func splitPath(rel string) (dir, base string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return ".", rel
	}
	return rel[:i], rel[i+1:]
}

// joinPath joins a cleaned relative dir ("." for the root) and a name.
func joinPath(dir, name string) string {
	if dir == "." || dir == "" {
		return name
	}
	return dir + "/" + name
}
