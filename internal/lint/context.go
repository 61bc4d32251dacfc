package lint

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// BuildContext is the directory a build sends: its .dockerignore and, on demand, its files.
type BuildContext struct {
	Dir string
	// IgnoreFile is the ignore file in use ("" when there is none): <Dockerfile>.dockerignore
	// beside the Dockerfile wins over .dockerignore at the context root, as in BuildKit.
	IgnoreFile string
	Patterns   []string
	ignore     *patternmatcher.PatternMatcher

	files   []string // slash paths relative to Dir, walked lazily
	walked  bool
	walkErr error
}

// maxContextFiles bounds the walk of a context for the rules that look at its files.
const maxContextFiles = 50000

func openContext(dir, dockerfile string) *BuildContext {
	c := &BuildContext{Dir: dir}
	var candidates []string
	if dockerfile != "" && dockerfile != "-" {
		candidates = append(candidates, dockerfile+".dockerignore")
	}
	candidates = append(candidates, filepath.Join(dir, ".dockerignore"))
	for _, p := range candidates {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		pats, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			continue
		}
		c.IgnoreFile, c.Patterns = p, pats
		if pm, err := patternmatcher.New(pats); err == nil {
			c.ignore = pm
		}
		break
	}
	return c
}

func (c *BuildContext) rootIgnored() bool {
	if c.ignore == nil {
		return false
	}
	for _, p := range c.ignore.Patterns() {
		if p.Exclusion() {
			continue
		}
		switch p.String() {
		case "*", "**", "**/*":
			return true
		}
	}
	return false
}

// Ignored reports whether .dockerignore keeps rel (slash path) out of the context.
func (c *BuildContext) Ignored(rel string) bool {
	if c.ignore == nil {
		return false
	}
	ok, err := c.ignore.MatchesOrParentMatches(rel)
	return err == nil && ok
}

// Files lists the files the context sends (ignored ones left out), up to maxContextFiles.
func (c *BuildContext) Files() []string {
	if c.walked {
		return c.files
	}
	c.walked = true
	c.walkErr = filepath.WalkDir(c.Dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(c.Dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if c.Ignored(rel) {
			if de.IsDir() && !c.ignore.Exclusions() {
				return filepath.SkipDir
			}
			return nil
		}
		if de.IsDir() {
			return nil
		}
		c.files = append(c.files, rel)
		if len(c.files) >= maxContextFiles {
			return fs.SkipAll
		}
		return nil
	})
	return c.files
}

// excludesGit reports whether the ignore patterns keep .git out.
func (c *BuildContext) excludesGit() bool {
	return c.Ignored(".git") || c.Ignored(".git/HEAD")
}

// under lists context files at or below src (a COPY source relative to the context).
func (c *BuildContext) under(src string) []string {
	src = strings.Trim(filepath.ToSlash(filepath.Clean("/"+src)), "/")
	var out []string
	for _, f := range c.Files() {
		if src == "" || f == src || strings.HasPrefix(f, src+"/") {
			out = append(out, f)
		} else if m, _ := filepath.Match(src, f); m {
			out = append(out, f)
		}
	}
	return out
}
