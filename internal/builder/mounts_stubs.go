package builder

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Mount stubs: the directories and empty files a RUN's mount points need in the rootfs. They
// are made here, before the container starts, so that exactly what was made is known, and
// removed after it ends when still empty, so that they never reach the step's layer (BuildKit
// does the same). The parent that receives a stub gets its times back.
//
// Removal happens after the RUN, which may have replaced a stub's parent by a symlink to a
// host directory: every path is therefore walked inside an os.Root, component by component,
// and a symlink anywhere on the way stops the removal (BuildKit's CVE-2024-23652). Nothing
// outside the rootfs is ever removed.
type stubs struct {
	root    *os.Root
	made    []stubEntry     // in creation order
	parents map[string]stat // the deepest existing parent of each stub chain, before
}

type stubEntry struct {
	rel string // slash-separated, relative to the rootfs
	dir bool
}

type stat struct{ atime, mtime time.Time }

// makeStubs makes the missing mount points of mounts in rootfs.
func makeStubs(rootfs string, mounts []specs.Mount) (*stubs, error) {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return nil, err
	}
	s := &stubs{root: root, parents: map[string]stat{}}
	for _, m := range mounts {
		// The runtime resolves a destination inside the rootfs, absolute symlinks included, as
		// a chroot would; resolve it the same way to find the real directories.
		p, err := securejoin.SecureJoin(rootfs, m.Destination)
		if err != nil {
			continue
		}
		rel, err := filepath.Rel(rootfs, p)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
			continue
		}
		rel = filepath.ToSlash(rel)
		comps := strings.Split(rel, "/")
		cur := "."
		for i, c := range comps {
			next := path.Join(cur, c)
			fi, err := root.Lstat(next)
			if err == nil {
				if !fi.IsDir() {
					break // a file (or a symlink the runtime refuses): nothing to make
				}
				cur = next
				continue
			}
			if !os.IsNotExist(err) {
				break
			}
			if _, ok := s.parents[cur]; !ok {
				if pfi, err := root.Lstat(cur); err == nil {
					s.parents[cur] = stat{atime: atime(pfi), mtime: pfi.ModTime()}
				}
			}
			last := i == len(comps)-1
			dir := !last || m.Type != "bind" || isDirSource(m.Source)
			if dir {
				err = root.Mkdir(next, 0o755)
			} else {
				var f *os.File
				if f, err = root.OpenFile(next, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
					f.Close()
				}
			}
			if err != nil {
				break
			}
			s.made = append(s.made, stubEntry{rel: next, dir: dir})
			cur = next
		}
	}
	return s, nil
}

func isDirSource(src string) bool {
	fi, err := os.Stat(src)
	return err == nil && fi.IsDir()
}

// remove removes the stubs that are still empty, deepest first, and gives their parents their
// times back.
func (s *stubs) remove() {
	if s == nil || s.root == nil {
		return
	}
	defer s.root.Close()
	for i := len(s.made) - 1; i >= 0; i-- {
		st := s.made[i]
		if !s.plain(path.Dir(st.rel)) {
			continue
		}
		fi, err := s.root.Lstat(st.rel)
		if err != nil {
			continue
		}
		switch {
		case st.dir && fi.IsDir():
			s.root.Remove(st.rel) // fails, as it should, when the RUN put something there
		case !st.dir && fi.Mode().IsRegular() && fi.Size() == 0:
			s.root.Remove(st.rel)
		}
	}
	for p, t := range s.parents {
		if s.plain(p) {
			s.root.Chtimes(p, t.atime, t.mtime)
		}
	}
}

// plain says rel and each directory above it is a real directory, not a symlink.
func (s *stubs) plain(rel string) bool {
	if rel == "." || rel == "" {
		return true
	}
	cur := "."
	for _, c := range strings.Split(rel, "/") {
		cur = path.Join(cur, c)
		fi, err := s.root.Lstat(cur)
		if err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// withSecretEnv adds the secrets given as variables to env; a secret wins over a variable of
// the same name.
func withSecretEnv(env, secret []string) []string {
	if len(secret) == 0 {
		return env
	}
	names := map[string]bool{}
	for _, kv := range secret {
		k, _, _ := strings.Cut(kv, "=")
		names[k] = true
	}
	var out []string
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); !names[k] {
			out = append(out, kv)
		}
	}
	return append(out, secret...)
}
