// Package lockfile provides advisory file locks (flock) that serialise hako processes sharing one
// store: there is no daemon to do it. A lock dies with its process, so a kill -9 never leaves a
// store locked.
package lockfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Lock is a held lock on a file; Unlock releases it.
type Lock struct{ f *os.File }

func lock(path string, how int) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return lockOpen(path, os.O_RDWR|os.O_CREATE, how)
}

// lockOpen opens path with flag and locks it.
func lockOpen(path string, flag, how int) (*Lock, error) {
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// ErrLocked is returned by TryExclusive when another process holds the lock.
var ErrLocked = errors.New("locked by another process")

// Exclusive blocks until it holds the only lock on path (created if missing).
func Exclusive(path string) (*Lock, error) { return lock(path, unix.LOCK_EX) }

// Shared blocks until it holds a shared lock on path: many readers, no exclusive holder.
func Shared(path string) (*Lock, error) { return lock(path, unix.LOCK_SH) }

// TryExclusive takes the exclusive lock or fails at once with ErrLocked.
func TryExclusive(path string) (*Lock, error) { return lock(path, unix.LOCK_EX|unix.LOCK_NB) }

// TryExclusiveNoMkdir is TryExclusive that does not create path's directory: in a directory
// removed meanwhile (a container's, by rm) it fails (fs.ErrNotExist) instead of making the
// directory again. The file itself is created if missing.
func TryExclusiveNoMkdir(path string) (*Lock, error) {
	return lockOpen(path, os.O_RDWR|os.O_CREATE, unix.LOCK_EX|unix.LOCK_NB)
}

// TryShared takes a shared lock on path, opened read-only (created if missing, but not its
// directory), or fails at once: ErrLocked while another process holds it exclusively. It is
// how a reader asks whether the holder of an exclusive lock lives: shared locks do not exclude
// one another, so two readers asking at once both get the true answer, and while a reader
// holds it no process can take the lock exclusively. Read-only, it needs only read permission
// on an existing file, and works on a read-only filesystem.
func TryShared(path string) (*Lock, error) {
	return lockOpen(path, os.O_RDONLY|os.O_CREATE, unix.LOCK_SH|unix.LOCK_NB)
}

// File is the locked file's descriptor, to hand the lock over to another program (a process
// that execs keeps its flock on a descriptor it keeps open); nil once unlocked.
func (l *Lock) File() *os.File {
	if l == nil {
		return nil
	}
	return l.f
}

// Adopt takes over the exclusive lock on path that f, a descriptor inherited from the program
// that locked it, holds. It checks that f is path's file and that the lock is f's (taking it
// again through the same open file succeeds; another holder's makes it ErrLocked), and makes f
// close-on-exec, so that no child inherits the lock.
func Adopt(f *os.File, path string) (*Lock, error) {
	var fst, pst unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &fst); err != nil {
		return nil, fmt.Errorf("adopt lock %s: %w", path, err)
	}
	if err := unix.Stat(path, &pst); err != nil {
		return nil, fmt.Errorf("adopt lock %s: %w", path, err)
	}
	if fst.Dev != pst.Dev || fst.Ino != pst.Ino {
		return nil, fmt.Errorf("adopt lock %s: descriptor %d is another file", path, f.Fd())
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("adopt lock %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("adopt lock %s: %w", path, err)
	}
	unix.CloseOnExec(int(f.Fd()))
	return &Lock{f: f}, nil
}

// Unlock releases the lock. It is safe to call on nil.

func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the only descriptor releases the flock
	l.f = nil
	return err
}
