//go:build !linux

package snapshot

import "errors"

// RecycleLabel marks an active snapshot whose directory may be recycled (recycle_linux.go).
const RecycleLabel = "hako.snapshot.recycle"

const recycledName = "recycled"

func (s *store) recycle(dir, parent string, parentDirs []string) error {
	return errors.New("no recycling here")
}

func (s *store) takeRecycled(dir, parent, parentDir string) error {
	return errors.New("no recycling here")
}

func (s *store) dropStaleRecycled(md *metadata) {}
