package build

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Source is a tree that COPY and ADD read from: the build context (with its .dockerignore), or
// the filesystem of a stage or an image (COPY --from).
type Source struct {
	// Root is the tree's directory on the host. Every path is resolved inside it; symlinks never
	// lead out of it.
	Root string
	// ignore excludes paths (the .dockerignore patterns); nil excludes nothing.
	ignore *matcher
	// KeepOwner keeps each file's owner (COPY --from); the context's files become root's.
	KeepOwner bool
	// Name is how errors name the tree: "build context", "stage build", "image busybox".
	Name string
	// IsContext says relative paths that climb out ("../x") are refused rather than clamped.
	IsContext bool
}

// IgnoreFile finds the ignore file for a Dockerfile: `<Dockerfile name>.dockerignore` beside it
// wins over the context's `.dockerignore`, as in BuildKit. It returns "" when there is none.
func IgnoreFile(contextDir, dockerfilePath string) string {
	if dockerfilePath != "" {
		p := dockerfilePath + ".dockerignore"
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p := filepath.Join(contextDir, ".dockerignore")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// NewContext opens a build context directory with the ignore file at ignorePath ("" for none).
func NewContext(dir, ignorePath string) (*Source, error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("unable to prepare context: path %q not found", dir)
	} else if err != nil {
		return nil, fmt.Errorf("unable to prepare context: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("unable to prepare context: %s is not a directory", dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	src := &Source{Root: abs, Name: "build context", IsContext: true}
	if ignorePath != "" {
		b, err := os.ReadFile(ignorePath)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", ignorePath, err)
		}
		pats, err := ignorefile.ReadAll(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", ignorePath, err)
		}
		if src.ignore, err = newMatcher(pats); err != nil {
			return nil, fmt.Errorf("%s: %w", ignorePath, err)
		}
	}
	return src, nil
}

// ignored reports whether rel (slash-separated, relative to the root) is excluded.
func (s *Source) ignored(rel string) bool {
	return s.ignore.matches(rel)
}

// skipDir reports whether a whole excluded directory can be skipped: only when no exception
// pattern ("!x") could bring something inside it back.
func (s *Source) skipDir(rel string) bool {
	return s.ignored(rel) && !s.ignore.exceptions()
}

// matcher is a patternmatcher.PatternMatcher (.dockerignore and --exclude patterns) that several
// walks can match at once: stages built in parallel share the build context, and a --no-cache
// step digests its sources while it copies them.
//
// The PatternMatcher itself cannot be shared: it compiles each pattern the first time a match
// evaluates it, and a match skips the patterns that cannot change its answer (an exception "!x"
// is evaluated only for a path an earlier pattern matched), so no probe made where the matcher is
// built compiles them all. Matches are therefore serialized; they cost little beside the reads
// of the walks.
type matcher struct {
	mu sync.Mutex
	pm *patternmatcher.PatternMatcher
}

// newMatcher checks pats; with no pattern it returns nil, which matches nothing.
func newMatcher(pats []string) (*matcher, error) {
	if len(pats) == 0 {
		return nil, nil
	}
	pm, err := patternmatcher.New(pats)
	if err != nil {
		return nil, err
	}
	return &matcher{pm: pm}, nil
}

// matches reports whether rel (slash-separated) or one of its parents matches a pattern and no
// later exception brings it back. The root ("." or "") never matches.
func (m *matcher) matches(rel string) bool {
	if m == nil || rel == "." || rel == "" {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ok, err := m.pm.MatchesOrParentMatches(filepath.FromSlash(rel))
	return err == nil && ok
}

// exceptions reports whether there is an exception pattern ("!x"), which can bring back
// something inside a matched directory.
func (m *matcher) exceptions() bool {
	return m != nil && m.pm.Exclusions()
}
