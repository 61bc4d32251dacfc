// Package atomicfile replaces files whole: data goes to a temporary file beside the target,
// which a rename puts in place, so that a reader — another hako process, a container — sees the
// old content or the new, never a part. It is the one implementation of that pattern for the
// store's records (image index, container records, volumes), the files hako writes for
// containers, and the archives the CLI writes (save -o, export -o, build --output).
package atomicfile

import (
	"io"
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

// WriteStream replaces path with what write writes (into a temporary file beside path), once
// write returns nil: a failed or interrupted write leaves no partial file under the name, and
// whatever was there stays. write's error comes back as it is. It is not durable (no fsync): it
// is for archives a user asked for (save -o, export -o, build --output), which a machine crash
// only leaves to be made again, and whose fsync would cost seconds for gigabytes.
func WriteStream(path string, perm os.FileMode, write func(io.Writer) error) error {
	return replace(path, perm, false, func(f *os.File) error { return write(f) })
}

func write(path string, data []byte, perm os.FileMode, durable bool) error {
	return replace(path, perm, durable, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// replace fills a temporary file beside path and renames it over path.
func replace(path string, perm os.FileMode, durable bool, fill func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	err = fill(f)
	if err == nil {
		err = f.Chmod(perm) // exactly perm, whatever the umask made of CreateTemp's 0600
	}
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		// Only then: a removal after the rename is one more lookup, on every write of a run.
		os.Remove(f.Name())
	}
	return err
}
