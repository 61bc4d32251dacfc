// Package reference turns what a user types (busybox, alpine:3, name@sha256:…) into Docker's
// normalised names (docker.io/library/busybox:latest) and back into the short familiar form that
// Docker prints.
//
// The parser (grammar.go) is a hand-written scanner for the grammar of Docker's own parser,
// github.com/distribution/reference, with the same normalisation and the same errors. That package
// compiles a dozen regexps when it initialises, which every hako process (CLI, monitor, container
// init, exec) would pay; it stays the oracle of the differential and fuzz tests.
package reference

import (
	"fmt"
	"path"
	"strings"

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
	r, err := parseNormalized(name)
	if err != nil {
		return name
	}
	return r.familiarName()
}

// Parse normalises s. A reference with neither tag nor digest gets no tag; use ParseDefaultTag
// where Docker adds ":latest".
func Parse(s string) (Named, error) {
	if s == "" {
		return Named{}, errdefs.Invalidf("invalid reference format: empty name")
	}
	r, err := parseNormalized(s)
	if err != nil {
		return Named{}, errdefs.Invalidf("invalid reference format %q: %v", s, err)
	}
	return Named{Name: r.name(), Tag: r.tag, Digest: digest.Digest(r.digest)}, nil
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
// Like Docker, a malformed pattern is reported only by the match against the familiar string.
func MatchFamiliar(pattern string, n Named) (bool, error) {
	r, err := parseNormalized(n.String())
	if err != nil {
		return false, fmt.Errorf("match reference %s: %w", n, err)
	}
	name := r.familiarName()
	matched, err := path.Match(pattern, r.withTagDigest(name))
	if !matched {
		matched, _ = path.Match(pattern, name)
	}
	return matched, err
}
