package content

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hako-dev/hako/internal/lockfile"
	digest "github.com/opencontainers/go-digest"
)

// A Lease protects the blobs one operation writes (a load, an import, a build step) from garbage
// collection until the operation has recorded them in an image, or has failed. It is a file under
// leases/ that lists the digests, plus a file lock held for the lease's life: a lease whose lock
// is free belongs to a dead process and no longer protects anything.
type Lease struct {
	dir  string
	id   string
	lock *lockfile.Lock
	f    *os.File
	mu   sync.Mutex // a build's stages add to one lease from several goroutines
	set  map[digest.Digest]bool
}

// Lease starts a lease in dir (the store root's leases directory).
func NewLease(dir string) (*Lease, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	id := randomID()
	l, err := lockfile.Exclusive(filepath.Join(dir, id+".lock"))
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, id+".list"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		l.Unlock()
		return nil, err
	}
	return &Lease{dir: dir, id: id, lock: l, f: f, set: map[digest.Digest]bool{}}, nil
}

// Protect adds a blob that is already in the store to the lease.
func (l *Lease) Protect(d digest.Digest) error { return l.add(d) }

func (l *Lease) add(d digest.Digest) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.set[d] {
		return nil
	}
	l.set[d] = true
	// No fsync: a lease only has to be visible to other live processes (the page cache is
	// shared); after a crash its owner is dead and it protects nothing anyway.
	if _, err := fmt.Fprintln(l.f, d); err != nil {
		return fmt.Errorf("record blob %s in lease: %w", d, err)
	}
	return nil
}

// Digests are the blobs this lease protects.
func (l *Lease) Digests() []digest.Digest {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []digest.Digest
	for d := range l.set {
		out = append(out, d)
	}
	return out
}

// Release ends the lease: its blobs are protected only by the images that reference them.
func (l *Lease) Release() error {
	if l == nil {
		return nil
	}
	l.f.Close()
	os.Remove(filepath.Join(l.dir, l.id+".list"))
	os.Remove(filepath.Join(l.dir, l.id+".lock"))
	return l.lock.Unlock()
}

// LiveLeases returns the digests protected by leases whose owners are alive, and removes the
// files of dead ones. Callers hold the store's exclusive lock (so no lease is being created
// between the lock probe and the read in a way that matters: a new lease's blobs are not yet
// visible).
func LiveLeases(dir string) (live map[digest.Digest]bool, dead []string, err error) {
	live = map[digest.Digest]bool{}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return live, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".lock")
		if !ok {
			continue
		}
		lk, err := lockfile.TryExclusive(filepath.Join(dir, e.Name()))
		if err == nil {
			// Dead owner: its blobs are unprotected now, and its unfinished writes are garbage.
			dead = append(dead, id)
			os.Remove(filepath.Join(dir, id+".list"))
			os.Remove(filepath.Join(dir, e.Name()))
			lk.Unlock()
			continue
		}
		f, err := os.Open(filepath.Join(dir, id+".list"))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if d, err := digest.Parse(strings.TrimSpace(sc.Text())); err == nil {
				live[d] = true
			}
		}
		f.Close()
	}
	return live, dead, nil
}

// LockPath is the file whose lock proves the lease's owner alive; other stores (snapshots) label
// their temporary records with it.
func (l *Lease) LockPath() string { return filepath.Join(l.dir, l.id+".lock") }

// ID names the lease; ingest files of its writers carry it.
func (l *Lease) ID() string { return l.id }
