package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hako-dev/hako/internal/atomicfile"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/jsoncodec"
	"github.com/hako-dev/hako/internal/mount"
	"github.com/hako-dev/hako/internal/topdir"
)

// formatVersion is the layout of a snapshotter root, recorded in its "version" file and in
// metadata.json. Bump it, and teach open to migrate or refuse, whenever the layout changes.
//
// 2 (2026-11-29): metadata-active.json. A binary of format 1 ignores it, and its cleanup would
// delete the directories of the active snapshots it alone names; open migrates a root of format
// 1 (metadata.json first, then the version file), which format 1 then refuses, in a process that
// opened it before too (its next load reads metadata.json's format).
const (
	formatVersion   = 2
	formatVersionV1 = 1
)

// A snapshotter root holds:
//
//	version          {"version":2,"driver":"overlay"}: which layout, and whose
//	lock             flock'ed exclusively for every mutation, by any process
//	metadata.json    every snapshot's record, replaced atomically (temp file, fsync, rename)
//	metadata-active.json
//	                 the same with the active snapshots made since, replaced atomically but never
//	                 synced (see create); taken only if it extends this metadata.json (its gen)
//	snapshots/<id>/  one directory per snapshot, named by a number, never by its key
//	tmp/             snapshot directories being built, and metadata being written
//
// A mutation builds a new snapshot's directory in tmp/, renames it into snapshots/, and only then
// writes metadata that names it; Remove writes metadata without the record before it deletes the
// directory. So metadata never names a missing directory, and what a kill -9 leaves behind (tmp/
// entries, directories that no record names) is deleted at the next open or mutation, which runs
// under the lock and so cannot race with another process's work in progress.
const (
	versionFile  = "version"
	lockFile     = "lock"
	metadataFile = "metadata.json"
	activeFile   = "metadata-active.json"
	snapshotsDir = "snapshots"
	tmpDir       = "tmp"
	// spareName, in snapshots/ (never a snapshot's number), is an active snapshot's directory
	// made ahead by a driver whose active snapshots all start alike (spareMaker): the next
	// active snapshot takes it, for a rename, instead of making its own. On ext4 a directory
	// made in tmp/ is spread over the block groups (package topdir), which scans every group's
	// counters (~300 µs here), and the overlay's two directories in it cost as much again,
	// under the lock, on every run's path. Remove of an active snapshot makes the next spare,
	// after the lock; cleanup keeps it.
	spareName = "spare"
)

type versionInfo struct {
	Version int    `json:"version"`
	Driver  string `json:"driver"`
}

// metadata is the content of metadata.json.
type metadata struct {
	Version int `json:"version"`
	// NextID is the next snapshot directory number to try.
	NextID uint64 `json:"nextID"`
	// Gen counts the saves of metadata.json: metadata-active.json counts only with the gen of
	// the metadata.json it extends.
	Gen       uint64             `json:"gen,omitempty"`
	Snapshots map[string]*record `json:"snapshots"`
}

type record struct {
	ID      string            `json:"id"`
	Kind    Kind              `json:"kind"`
	Parent  string            `json:"parent,omitempty"`
	Created time.Time         `json:"created"`
	Updated time.Time         `json:"updated"`
	Labels  map[string]string `json:"labels,omitempty"`
	// Usage is measured at Commit, after which the snapshot does not change.
	Usage *Usage `json:"usage,omitempty"`
}

// driver is what differs between overlay and native snapshots: how a new snapshot's directory is
// filled and how its mounts look.
type driver interface {
	name() string
	// create fills dir, a new empty directory that becomes the snapshot's, for a snapshot of kind on
	// top of parentDir (the parent snapshot's directory, "" for none).
	create(ctx context.Context, dir, parentDir string, kind Kind) error
	// mounts returns the mounts of a snapshot in dir whose committed ancestors are in parentDirs,
	// nearest first.
	mounts(dir string, kind Kind, parentDirs []string) []mount.Mount
	// usageDir is the directory whose disk usage is the snapshot's own.
	usageDir(dir string) string
}

// spareMaker is a driver whose active snapshots start as the same directories whatever their
// parent: made ahead (makeSpare), then given to a parent (adoptSpare), they are what create
// makes.
type spareMaker interface {
	makeSpare(dir string) error
	adoptSpare(dir, parentDir string) error
}

// store implements Snapshotter on a root directory, with a driver for what differs.
type store struct {
	root string
	drv  driver

	mu     sync.Mutex // serialises this process's mutations; flock serialises processes
	lockf  *os.File
	closed bool
}

func open(root string, drv driver) (*store, error) {
	if root == "" {
		return nil, errdefs.Invalidf("open %s snapshotter: empty root", drv.name())
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open %s snapshotter: %w", drv.name(), err)
	}
	for _, d := range []string{root, filepath.Join(root, snapshotsDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open %s snapshotter: %w", drv.name(), err)
		}
	}
	// New snapshots' directories are made in tmp/: spread over ext4's block groups (package
	// topdir), they keep where they were made when they are renamed into snapshots/.
	if err := topdir.Mark(filepath.Join(root, tmpDir), 0o700); err != nil {
		return nil, fmt.Errorf("open %s snapshotter: %w", drv.name(), err)
	}
	lf, err := os.OpenFile(filepath.Join(root, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s snapshotter: %w", drv.name(), err)
	}
	s := &store{root: root, drv: drv, lockf: lf}
	err = s.withLock(context.Background(), func() error {
		if err := s.checkVersion(); err != nil {
			return err
		}
		md, err := s.load()
		if err != nil {
			return err
		}
		s.cleanup(md)
		return nil
	})
	if err != nil {
		lf.Close()
		return nil, fmt.Errorf("open %s snapshotter at %s: %w", drv.name(), root, err)
	}
	return s, nil
}

// checkVersion writes the version file of a new root and refuses a root of another layout or
// driver. It runs under the lock.
func (s *store) checkVersion() error {
	p := filepath.Join(s.root, versionFile)
	want := versionInfo{Version: formatVersion, Driver: s.drv.name()}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		b, _ = jsoncodec.Marshal(want)
		return s.writeAtomic(p, append(b, '\n'), true)
	}
	if err != nil {
		return err
	}
	var got versionInfo
	if err := jsoncodec.Unmarshal(b, &got); err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	if got == (versionInfo{Version: formatVersionV1, Driver: want.Driver}) {
		// metadata.json first, in the new format: a process of format 1 that opened the root
		// before reads it at its next mutation, and stops there. Then the version file, which
		// a process of format 1 checks when it opens the root.
		md, err := s.load()
		if err != nil {
			return err
		}
		if err := s.save(md, synced); err != nil {
			return err
		}
		b, _ = jsoncodec.Marshal(want)
		return s.writeAtomic(p, append(b, '\n'), true)
	}
	if got != want {
		return errdefs.Invalidf("root holds %s snapshots of format %d, not %s snapshots of format %d",
			got.Driver, got.Version, want.Driver, want.Version)
	}
	return nil
}

func (s *store) snapshotDir(id string) string { return filepath.Join(s.root, snapshotsDir, id) }

// load reads the metadata: metadata-active.json where it extends metadata.json, else
// metadata.json. Readers need no lock: each file is only ever replaced by rename, and each is a
// whole state. metadata-active.json is read first: a synced save between the two reads (which
// deletes it, or makes it stale) then shows as a newer metadata.json, never as an older state.
func (s *store) load() (*metadata, error) {
	amd, aerr := s.read(activeFile)
	// Never synced: after a power loss it may be torn or missing, and it is then ignored, with
	// the active snapshots made since the last metadata.json. Any other failure to read it is
	// the load's: taken for torn, the cleanup would delete the directories it names.
	if aerr != nil && !errors.Is(aerr, fs.ErrNotExist) && !errors.Is(aerr, errTorn) {
		return nil, fmt.Errorf("read snapshot metadata: %w", aerr)
	}
	md, err := s.read(metadataFile)
	if errors.Is(err, fs.ErrNotExist) {
		md, err = &metadata{Version: formatVersion, NextID: 1, Snapshots: map[string]*record{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshot metadata: %w", err)
	}
	if aerr == nil && amd.Gen == md.Gen {
		md = amd
	}
	return md, nil
}

// errTorn is a metadata file that does not decode.
var errTorn = errors.New("metadata does not decode")

// read decodes one metadata file (of format 1 too, which the next save writes as the current
// format).
func (s *store) read(name string) (*metadata, error) {
	b, err := os.ReadFile(filepath.Join(s.root, name))
	if err != nil {
		return nil, err
	}
	var md metadata
	if err := jsoncodec.Unmarshal(b, &md); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", name, errTorn, err)
	}
	switch md.Version {
	case formatVersion:
	case formatVersionV1:
		md.Version = formatVersion
	default:
		return nil, errdefs.Invalidf("%s: format %d, want %d", name, md.Version, formatVersion)
	}
	if md.Snapshots == nil {
		md.Snapshots = map[string]*record{}
	}
	return &md, nil
}

// durability is how a mutation's metadata is saved.
type durability int

const (
	// synced: metadata.json, its content and its rename synced.
	synced durability = iota
	// unsynced: metadata-active.json, nothing synced; for a mutation that only adds active
	// snapshots, which a power loss may then undo (create).
	unsynced
)

// save writes md as d says.
func (s *store) save(md *metadata, d durability) error {
	name := activeFile
	if d == synced {
		md.Gen++
		name = metadataFile
	}
	b, err := jsoncodec.Marshal(md)
	if err == nil {
		err = s.writeAtomic(filepath.Join(s.root, name), b, d == synced)
	}
	if err != nil {
		return fmt.Errorf("write snapshot metadata: %w", err)
	}
	if d == synced {
		// It extends the metadata.json before: ignored from now on, and gone.
		os.Remove(filepath.Join(s.root, activeFile))
	}
	return nil
}

// writeAtomic replaces path with data: written to tmp/ and renamed, the content and the rename
// synced if sync. Unsynced (metadata-active.json, which a crash may leave torn anyway), it is
// swapped in rather than renamed over the old one (atomicfile.Swap): no write of it starts.
func (s *store) writeAtomic(path string, data []byte, sync bool) error {
	f, err := os.CreateTemp(filepath.Join(s.root, tmpDir), filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && sync {
		err = os.Rename(tmp, path)
	} else if err == nil {
		err = atomicfile.Swap(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if !sync {
		return nil
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// cleanup deletes what interrupted mutations left: everything in tmp/ and every snapshot
// directory that no record names. It runs under the lock, when no mutation is in progress. It is
// best effort: what cannot be deleted now (a directory still mounted somewhere) is tried again
// next time.
func (s *store) cleanup(md *metadata) {
	if entries, err := os.ReadDir(filepath.Join(s.root, tmpDir)); err == nil {
		for _, e := range entries {
			os.RemoveAll(filepath.Join(s.root, tmpDir, e.Name()))
		}
	}
	known := make(map[string]bool, len(md.Snapshots))
	for _, r := range md.Snapshots {
		known[r.ID] = true
	}
	s.dropStaleRecycled(md)
	if entries, err := os.ReadDir(filepath.Join(s.root, snapshotsDir)); err == nil {
		synced := false
		for _, e := range entries {
			if known[e.Name()] || e.Name() == spareName || e.Name() == recycledName {
				continue
			}
			// The metadata that dropped it may not be durable yet (a Remove killed before it
			// synced the rename): made so before the directory goes, or a crash could bring
			// back a record of it.
			if !synced {
				if syncDir(s.root) != nil {
					return
				}
				synced = true
			}
			os.RemoveAll(filepath.Join(s.root, snapshotsDir, e.Name()))
		}
	}
}

// withLock runs fn holding this process's mutex and the root's flock.
func (s *store) withLock(ctx context.Context, fn func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("snapshotter is closed")
	}
	if err := flock(ctx, s.lockf); err != nil {
		return fmt.Errorf("lock %s: %w", s.lockf.Name(), err)
	}
	defer funlock(s.lockf)
	return fn()
}

// update runs a mutation: under the lock, on freshly loaded metadata (after cleaning up what an
// interrupted mutation left), saving the metadata when fn succeeds; then, after the lock, the
// after func fn returned, if any.
func (s *store) update(ctx context.Context, fn func(md *metadata) (after func(), err error)) error {
	d := synced
	return s.mutate(ctx, fn, &d)
}

// mutate is update, with the new metadata saved as *d says once fn returned (fn may set it).
func (s *store) mutate(ctx context.Context, fn func(md *metadata) (after func(), err error), d *durability) error {
	var after func()
	err := s.withLock(ctx, func() error {
		md, err := s.load()
		if err != nil {
			return err
		}
		s.cleanup(md)
		if after, err = fn(md); err != nil {
			return err
		}
		if *d == unsynced && s.syncDue() {
			// What metadata.json names must be on disk first: the directories of the
			// active snapshots made since, whose renames were not synced (create).
			if err := syncDir(filepath.Join(s.root, snapshotsDir)); err != nil {
				return err
			}
			*d = synced
		}
		return s.save(md, *d)
	})
	// after runs without the lock: deleting a removed snapshot's files can take long, and
	// nothing names them any more (another process's cleanup may delete them too).
	if err == nil && after != nil {
		after()
	}
	return err
}

// syncInterval bounds how long active snapshots live only in metadata-active.json: an unsynced
// mutation made when metadata.json is older is saved synced instead (all records to
// metadata.json, fsynced). Without it, a store that only makes and removes containers (run,
// rm) would never sync a long-running container's record again, and every later rewrite of
// metadata-active.json would be another moment when a power loss could tear it, and lose that
// container's writable layer with it. The same order as the kernel's writeback of dirty data:
// one fsync'ed save per half-minute of a loop of runs (~2 ms), and what a power loss may undo
// is the last half-minute's containers, as before the removals were unsynced.
const syncInterval = 30 * time.Second

// syncDue says whether metadata.json was last saved more than syncInterval ago (or is missing).
func (s *store) syncDue() bool {
	fi, err := os.Stat(filepath.Join(s.root, metadataFile))
	return err != nil || time.Since(fi.ModTime()) > syncInterval
}

// view loads the metadata for a read.
func (s *store) view() (*metadata, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, errors.New("snapshotter is closed")
	}
	return s.load()
}

func get(md *metadata, key string) (*record, error) {
	r, ok := md.Snapshots[key]
	if !ok {
		return nil, errdefs.NotFoundf("snapshot %q does not exist", key)
	}
	return r, nil
}

func infoOf(key string, r *record) Info {
	info := Info{Name: key, Parent: r.Parent, Kind: r.Kind, Created: r.Created, Updated: r.Updated}
	if len(r.Labels) > 0 {
		info.Labels = make(map[string]string, len(r.Labels))
		for k, v := range r.Labels {
			info.Labels[k] = v
		}
	}
	return info
}

// parentDirs returns the directories of r's ancestors, nearest first.
func (s *store) parentDirs(md *metadata, r *record) ([]string, error) {
	var dirs []string
	for p := r.Parent; p != ""; {
		pr, ok := md.Snapshots[p]
		if !ok {
			return nil, fmt.Errorf("snapshot metadata is inconsistent: parent %q is missing", p)
		}
		dirs = append(dirs, s.snapshotDir(pr.ID))
		p = pr.Parent
		if len(dirs) > len(md.Snapshots) {
			return nil, fmt.Errorf("snapshot metadata is inconsistent: parent chain of %q loops", r.Parent)
		}
	}
	return dirs, nil
}

func (s *store) Stat(ctx context.Context, key string) (Info, error) {
	md, err := s.view()
	if err != nil {
		return Info{}, fmt.Errorf("stat snapshot %q: %w", key, err)
	}
	r, err := get(md, key)
	if err != nil {
		return Info{}, fmt.Errorf("stat snapshot: %w", err)
	}
	return infoOf(key, r), nil
}

func (s *store) Usage(ctx context.Context, key string) (Usage, error) {
	md, err := s.view()
	if err != nil {
		return Usage{}, fmt.Errorf("usage of snapshot %q: %w", key, err)
	}
	r, err := get(md, key)
	if err != nil {
		return Usage{}, fmt.Errorf("usage of snapshot: %w", err)
	}
	if r.Usage != nil {
		return *r.Usage, nil
	}
	u, err := diskUsage(ctx, s.drv.usageDir(s.snapshotDir(r.ID)))
	if err != nil {
		return Usage{}, fmt.Errorf("usage of snapshot %q: %w", key, err)
	}
	return u, nil
}

func (s *store) Mounts(ctx context.Context, key string) ([]mount.Mount, error) {
	md, err := s.view()
	if err != nil {
		return nil, fmt.Errorf("mounts of snapshot %q: %w", key, err)
	}
	r, err := get(md, key)
	if err != nil {
		return nil, fmt.Errorf("mounts of snapshot: %w", err)
	}
	if r.Kind == KindCommitted {
		return nil, errdefs.Invalidf("mounts of snapshot %q: it is committed; Prepare or View on top of it", key)
	}
	return s.mountsOf(md, r)
}

func (s *store) mountsOf(md *metadata, r *record) ([]mount.Mount, error) {
	parents, err := s.parentDirs(md, r)
	if err != nil {
		return nil, err
	}
	return s.drv.mounts(s.snapshotDir(r.ID), r.Kind, parents), nil
}

func (s *store) Prepare(ctx context.Context, key, parent string, opts ...Opt) ([]mount.Mount, error) {
	m, err := s.create(ctx, KindActive, key, parent, opts)
	if err != nil {
		return nil, fmt.Errorf("prepare snapshot %q: %w", key, err)
	}
	return m, nil
}

func (s *store) View(ctx context.Context, key, parent string, opts ...Opt) ([]mount.Mount, error) {
	m, err := s.create(ctx, KindView, key, parent, opts)
	if err != nil {
		return nil, fmt.Errorf("view snapshot %q: %w", key, err)
	}
	return m, nil
}

func (s *store) create(ctx context.Context, kind Kind, key, parent string, opts []Opt) ([]mount.Mount, error) {
	if key == "" {
		return nil, errdefs.Invalidf("empty key")
	}
	var mounts []mount.Mount
	// An active snapshot (a container's writable layer, a build step's) is made without an
	// fsync: its directory's rename is not synced, and the new metadata goes to
	// metadata-active.json, not synced either (metadata.json, whose content must never be
	// torn, is not written). Three fsyncs were ~1.6 ms of every `run` here, the last one
	// ~1.1 ms (2026-11-29). Until the filesystem writes them out, a power loss may undo the
	// snapshot, as it may undo the container record made with it (container.Store.Save): a
	// torn or lost metadata-active.json is ignored, with every active snapshot made since the
	// last metadata.json, whose directories, unnamed, are deleted at the next open; on a
	// filesystem that reorders renames a record may instead outlive its directory, and its
	// container then fails to mount and is removed as any other. The next synced mutation
	// (Commit, a committed snapshot's Remove, a view, or any mutation once metadata.json is
	// older than syncInterval) writes every record to metadata.json. Commit syncs the
	// directory before metadata names it as committed. A killed process leaves the store
	// consistent either way (only the kernel's view counts then: TestKillMidMutation).
	d := synced
	if kind == KindActive {
		d = unsynced
	}
	err := s.mutate(ctx, func(md *metadata) (func(), error) {
		if _, ok := md.Snapshots[key]; ok {
			return nil, errdefs.AlreadyExists(errors.New("key already exists"))
		}
		parentDir := ""
		if parent != "" {
			pr, ok := md.Snapshots[parent]
			if !ok {
				return nil, errdefs.NotFoundf("parent %q does not exist", parent)
			}
			if pr.Kind != KindCommitted {
				return nil, errdefs.Invalidf("parent %q is %s, not committed", parent, pr.Kind)
			}
			parentDir = s.snapshotDir(pr.ID)
		}
		id := s.allocateID(md)
		dir := s.snapshotDir(id)
		now := time.Now().UTC()
		info := Info{Name: key, Parent: parent, Kind: kind, Created: now, Updated: now}
		for _, o := range opts {
			o(&info)
		}
		// A recycled snapshot for a container on the same image (recycle_linux.go), or the
		// spare, or a directory of its own.
		recycled := kind == KindActive && info.Labels[RecycleLabel] != "" && s.takeRecycled(dir, parent, parentDir) == nil
		if !recycled && s.takeSpare(spareName, dir, parentDir, kind) != nil {
			tmp, err := os.MkdirTemp(filepath.Join(s.root, tmpDir), "new-")
			if err != nil {
				return nil, err
			}
			if err := s.drv.create(ctx, tmp, parentDir, kind); err != nil {
				os.RemoveAll(tmp)
				return nil, err
			}
			if err := os.Rename(tmp, dir); err != nil {
				os.RemoveAll(tmp)
				return nil, err
			}
		}
		// The directory must be on disk before metadata that names it (for an active
		// snapshot: before metadata names it as committed, Commit).
		if d == synced {
			if err := syncDir(filepath.Dir(dir)); err != nil {
				return nil, err
			}
		}
		r := &record{ID: id, Kind: kind, Parent: parent, Created: now, Updated: now, Labels: info.Labels}
		md.Snapshots[key] = r
		var err error
		mounts, err = s.mountsOf(md, r)
		return nil, err
	}, &d)
	return mounts, err
}

// errNoSpare says that create makes the directory itself.
var errNoSpare = errors.New("no spare")

// takeSpare moves the directory made ahead in snapshots/slot (the spare, or the recycled
// snapshot), if the driver makes them and there is one, to dir (a free snapshot number's) for a
// new snapshot of kind on parentDir. It fails when dir is not made: the caller makes it as it
// would without spares.
func (s *store) takeSpare(slot, dir, parentDir string, kind Kind) error {
	sm, ok := s.drv.(spareMaker)
	if !ok || kind != KindActive {
		return errNoSpare
	}
	if err := os.Rename(s.snapshotDir(slot), dir); err != nil {
		return err
	}
	if err := sm.adoptSpare(dir, parentDir); err != nil {
		os.RemoveAll(dir)
		return err
	}
	return nil
}

// makeSpare makes the spare, unless there is one or the driver makes none. Best effort, without
// the lock: it is built in tmp/ (which a cleanup may empty meanwhile: then there is no spare)
// and renamed into place (not over a spare made meanwhile).
func (s *store) makeSpare() {
	sm, ok := s.drv.(spareMaker)
	spare := s.snapshotDir(spareName)
	if _, err := os.Lstat(spare); !ok || !errors.Is(err, fs.ErrNotExist) {
		return
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.root, tmpDir), "spare-")
	if err != nil {
		return
	}
	if sm.makeSpare(tmp) != nil || os.Rename(tmp, spare) != nil {
		os.RemoveAll(tmp)
	}
}

// allocateID returns the next free directory number. A directory that cleanup could not remove
// is skipped rather than reused.
func (s *store) allocateID(md *metadata) string {
	for {
		id := strconv.FormatUint(md.NextID, 10)
		md.NextID++
		if _, err := os.Lstat(s.snapshotDir(id)); errors.Is(err, fs.ErrNotExist) {
			return id
		}
	}
}

func (s *store) Commit(ctx context.Context, name, key string, opts ...Opt) error {
	if name == "" {
		return errdefs.Invalidf("commit snapshot %q: empty name", key)
	}
	err := s.update(ctx, func(md *metadata) (func(), error) {
		r, err := get(md, key)
		if err != nil {
			return nil, err
		}
		if r.Kind != KindActive {
			return nil, errdefs.Invalidf("snapshot is %s, only an active one can be committed", r.Kind)
		}
		if _, ok := md.Snapshots[name]; ok {
			return nil, errdefs.AlreadyExists(fmt.Errorf("a snapshot named %q already exists", name))
		}
		u, err := diskUsage(ctx, s.drv.usageDir(s.snapshotDir(r.ID)))
		if err != nil {
			return nil, err
		}
		// Prepare did not sync the rename that made the directory (create).
		if err := syncDir(filepath.Join(s.root, snapshotsDir)); err != nil {
			return nil, err
		}
		now := time.Now().UTC()
		info := infoOf(name, r)
		for _, o := range opts {
			o(&info)
		}
		delete(md.Snapshots, key)
		md.Snapshots[name] = &record{
			ID: r.ID, Kind: KindCommitted, Parent: r.Parent,
			Created: now, Updated: now, Labels: info.Labels, Usage: &u,
		}
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("commit snapshot %q as %q: %w", key, name, err)
	}
	return nil
}

// Remove drops key from the metadata, then, after the lock (mutate's after), deletes the
// directory that no record names any more: failing to delete it now (something still mounted
// in it) leaves it to the next mutation's cleanup.
//
// An active snapshot (a container's writable layer) goes as it came (create): the metadata
// without it is saved to metadata-active.json, unsynced. The metadata.json rewrite and its two
// fsyncs were ~2 ms of every `run --rm` after its answer, under the lock that the next run's
// create waits for (2026-11-29). A power loss may then bring the record back without its
// directory: its container, whose removal the same power loss may undo, fails to mount and is
// removed again, and a record whose container is gone is collected (the engine's gc). Its
// removal also makes the spare for the next container's.
func (s *store) Remove(ctx context.Context, key string) error {
	d := synced
	err := s.mutate(ctx, func(md *metadata) (func(), error) {
		r, err := get(md, key)
		if err != nil {
			return nil, err
		}
		for child, c := range md.Snapshots {
			if c.Parent == key {
				return nil, errdefs.Conflictf("snapshot %q is the parent of %q", key, child)
			}
		}
		var parentDirs []string
		recyclable := r.Kind == KindActive && r.Labels[RecycleLabel] != ""
		if recyclable {
			parentDirs, err = s.parentDirs(md, r)
			recyclable = err == nil
		}
		delete(md.Snapshots, key)
		dir, active := s.snapshotDir(r.ID), r.Kind == KindActive
		if active {
			d = unsynced
		}
		return func() {
			// A container's that changed nothing: kept for the next one (recycle_linux.go).
			if recyclable && s.recycle(dir, r.Parent, parentDirs) == nil {
				return
			}
			os.RemoveAll(dir)
			if active {
				s.makeSpare()
			}
		}, nil
	}, &d)
	if err != nil {
		return fmt.Errorf("remove snapshot %q: %w", key, err)
	}
	return nil
}

func (s *store) Walk(ctx context.Context, fn func(context.Context, Info) error) error {
	md, err := s.view()
	if err != nil {
		return fmt.Errorf("walk snapshots: %w", err)
	}
	keys := make([]string, 0, len(md.Snapshots))
	for k := range md.Snapshots {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(ctx, infoOf(k, md.Snapshots[k])); err != nil {
			return err
		}
	}
	return nil
}

func (s *store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.lockf.Close()
}
