// Package reference turns what a user types (busybox, alpine:3, name@sha256:…) into Docker's
// normalised names (docker.io/library/busybox:latest) and back into the short familiar form that
// Docker prints. It is a thin layer over github.com/distribution/reference, Docker's own parser.
package reference

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/hako-dev/hako/internal/errdefs"
	digest "github.com/opencontainers/go-digest"
)

// Named is a parsed, normalised reference: Name is the repository ("docker.io/library/busybox"),
// Tag and Digest are optional.
type Named struct {
	Name   string
	Tag    string
	Digest digest.Digest
}

// String is the full normalised form: docker.io/library/busybox:latest or repo@sha256:….
func (n Named) String() string {
	s := n.Name
	if n.Tag != "" {
		s += ":" + n.Tag
	}
	if n.Digest != "" {
		s += "@" + n.Digest.String()
	}
	return s
}

// Familiar is Docker's short form for display: busybox:latest, myreg:5000/app:v1.
func (n Named) Familiar() string {
	s := FamiliarName(n.Name)
	if n.Tag != "" {
		s += ":" + n.Tag
	}
	if n.Digest != "" {
		s += "@" + n.Digest.String()
	}
	return s
}

// FamiliarName shortens a repository name the way Docker prints it.
func FamiliarName(name string) string {
	r, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return name
	}
	return reference.FamiliarName(r)
}

// Parse normalises s. A reference with neither tag nor digest gets no tag; use ParseDefaultTag
// where Docker adds ":latest".
func Parse(s string) (Named, error) {
	if s == "" {
		return Named{}, errdefs.Invalidf("invalid reference format: empty name")
	}
	r, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return Named{}, errdefs.Invalidf("invalid reference format %q: %v", s, err)
	}
	n := Named{Name: r.Name()}
	if t, ok := r.(reference.Tagged); ok {
		n.Tag = t.Tag()
	}
	if d, ok := r.(reference.Digested); ok {
		n.Digest = d.Digest()
	}
	return n, nil
}

// ParseDefaultTag is Parse, then ":latest" when s names neither a tag nor a digest.
func ParseDefaultTag(s string) (Named, error) {
	n, err := Parse(s)
	if err != nil {
		return n, err
	}
	if n.Tag == "" && n.Digest == "" {
		n.Tag = "latest"
	}
	return n, nil
}

// ParseTag parses a REPOSITORY[:TAG] that must not carry a digest (tag, import, build -t).
func ParseTag(s string) (Named, error) {
	n, err := ParseDefaultTag(s)
	if err != nil {
		return n, err
	}
	if n.Digest != "" {
		return n, errdefs.Invalidf("invalid reference format %q: a tag cannot contain a digest", s)
	}
	return n, nil
}

// LooksLikeID reports whether s may be an image or container ID or an unambiguous prefix of one:
// lowercase hex, optionally "sha256:"-prefixed.
func LooksLikeID(s string) bool {
	s = strings.TrimPrefix(s, "sha256:")
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ShortID is the 12-character form Docker prints.
func ShortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// MatchFamiliar reports whether a full reference matches a Docker `reference=` filter pattern,
// which is matched against the familiar name with and without tag ("busybox", "busy*:1.*").
func MatchFamiliar(pattern string, n Named) (bool, error) {
	r, err := reference.ParseNormalizedNamed(n.String())
	if err != nil {
		return false, fmt.Errorf("match reference %s: %w", n, err)
	}
	return reference.FamiliarMatch(pattern, r)
}
