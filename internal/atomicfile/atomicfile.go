// Package atomicfile replaces small files whole: data goes to a temporary file beside the
// target, which a rename puts in place, so that a reader — another hako process, a container —
// sees the old content or the new, never a part. It is the one implementation of that pattern
// for the store's records (image index, container records, volumes, cache entries) and the
// files hako writes for containers.
package atomicfile

import (
	"os"
	"path/filepath"
)

// WriteFile replaces path with data durably: the file is fsynced before the rename, for records
// that must survive a machine crash (the image index, volume records).
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, true)
}

// Replace replaces path with data without fsync: atomic for readers, not durable across a
// machine crash. For files that are rebuilt or judged stale after a crash (container records,
// a container's /etc/hosts), where an fsync on the container start path costs milliseconds.
func Replace(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

func write(path string, data []byte, perm os.FileMode, durable bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing left to remove
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if durable {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
