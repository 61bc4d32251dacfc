// Package container keeps container records: one directory per container under the store root,
// with its configuration and state in a JSON file that is replaced atomically, and a lock file.
// There is no daemon: every hako process reads the records, and changes them under the
// container's lock; names are made unique under the store lock the caller holds.
//
// A container's monitor process holds monitor.lock for as long as it lives, so a record that
// says "running" while that lock is free belongs to a monitor that died (kill -9, a reboot): the
// first reader to see it records it as exited (monitorDied), and the truth survives any crash.
package container

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hako-dev/hako/internal/atomicfile"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/jsoncodec"
	"github.com/hako-dev/hako/internal/lockfile"
	"github.com/hako-dev/hako/internal/rawfd"
	"github.com/hako-dev/hako/internal/spec"
	"github.com/hako-dev/hako/internal/volume"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// Status values as Docker reports them.
const (
	Created    = "created"
	Running    = "running"
	Paused     = "paused"
	Restarting = "restarting"
	Exited     = "exited"
	Removing   = "removing"
	Dead       = "dead"
)

// State is Docker's container state object.
type State struct {
	Status     string
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time
	Health     *Health `json:",omitempty"`
}

// Config is what `create` was asked for: the image, the command and the run options.
type Config struct {
	Image          string // as the user typed it
	ImageID        digest.Digest
	Cmd            []string
	Entrypoint     *[]string
	Options        spec.Options // the spec generator's input (ID, env, user, limits, mounts...)
	Labels         map[string]string
	StopSignal     string
	StopTimeout    *int
	AutoRemove     bool
	LogOptions     map[string]string
	Tty, OpenStdin bool
	// Mounts are the -v and --mount mounts and the image's anonymous volumes, resolved to
	// volume names at create; the engine makes them OCI mounts at each start.
	Mounts []volume.Mount `json:",omitempty"`
	// RestartPolicy is --restart: "no" (or ""), "on-failure", "always", "unless-stopped".
	RestartPolicy RestartPolicy `json:",omitempty"`
	// Healthcheck overrides the image's HEALTHCHECK (--health-*; Test ["NONE"] for --no-healthcheck).
	Healthcheck *HealthConfig `json:",omitempty"`
	// UsernsMode is "host" when --userns=host was given; a private user namespace is
	// Options.UserNS, with its mappings.
	UsernsMode string `json:",omitempty"`
}

// Container is one record.
type Container struct {
	ID           string
	Name         string
	Created      time.Time
	Config       Config
	State        State
	RestartCount int
	// Path and Args are the resolved command, for ps and inspect.
	Path string
	Args []string
}

// Store is the containers directory.
type Store struct{ Root string }

// nameRE is compiled on first use, not in every hako process's start.
var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`) })

// ValidName checks a --name the way Docker does.
func ValidName(n string) error {
	if !nameRE().MatchString(n) {
		return errdefs.Invalidf("invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", n)
	}
	return nil
}

// NewID makes a 64-hex container ID.
func NewID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Dir is the directory of a container.
func (s *Store) Dir(id string) string { return filepath.Join(s.Root, id) }

// Lock takes a container's lock: state changes to one container are serialised by it.
func (s *Store) Lock(id string) (*lockfile.Lock, error) {
	return lockfile.Exclusive(filepath.Join(s.Dir(id), "lock"))
}

// GetLocked finds a container as Get does, takes its lock and reads the record again under it,
// so that a change made meanwhile is not lost. The caller unlocks.
func (s *Store) GetLocked(ref string) (*Container, *lockfile.Lock, error) {
	c, err := s.Get(ref)
	if err != nil {
		return nil, nil, err
	}
	l, err := s.Lock(c.ID)
	if err != nil {
		return nil, nil, err
	}
	if c, err = s.Get(c.ID); err != nil {
		l.Unlock()
		return nil, nil, err
	}
	return c, l, nil
}

// MonitorLockPath is held by the container's monitor while it lives.
func (s *Store) MonitorLockPath(id string) string { return filepath.Join(s.Dir(id), "monitor.lock") }

// Save writes the record atomically but without fsync: readers see the old or the new record,
// never a part, and that is all a record needs. It is not the store's truth after a crash — a
// monitor that died is read from its free lock, a record a crash left empty is a half-created
// container that List skips — and an fsync costs milliseconds on the start path each time (a
// record is saved at create, when the container runs and when it exits).
func (s *Store) Save(c *Container) error {
	b, err := Encode(c)
	if err != nil {
		return err
	}
	return s.SaveEncoded(c.ID, b)
}

// Encode is a record as Save writes it: json.Marshal's encoding, by the encoder generated in
// container_easyjson.go (internal/jsongen), without encoding/json's reflection at the first
// use in a process (~0.4 ms a run). Compact, not indented: `ps -a` decodes every record, and
// the whitespace cost a fifth of it. Records are read by the generated decoder too (read):
// encoding/json's reflection cost a run's monitor ~0.6 ms as it read back the record that
// create had just written. They are only ever written here (and by encoding/json from the same
// types before it), with the exact member names that the generated decoder matches.
func Encode(c *Container) ([]byte, error) {
	return jsoncodec.Marshal(c)
}

// SaveEncoded is Save of a record that Encode made.
func (s *Store) SaveEncoded(id string, b []byte) error {
	if err := os.MkdirAll(s.Dir(id), 0o700); err != nil {
		return err
	}
	return atomicfile.Replace(filepath.Join(s.Dir(id), "container.json"), b, 0o600)
}

// load reads one record, correcting a stale running state (monitorDied).
func (s *Store) load(id string) (*Container, error) {
	c, err := s.read(id)
	if err != nil {
		return nil, err
	}
	if c.State.Running || c.State.Status == Restarting {
		alive, ml, err := s.checkMonitor(id)
		if errors.Is(err, fs.ErrNotExist) {
			// Removed since the read (a --rm container's monitor detached it): gone, not dead.
			return nil, errdefs.NotFoundf("No such container: %s", id)
		}
		if !alive {
			c = s.monitorDied(c, ml != nil)
			ml.Unlock()
		}
	}
	return c, nil
}

// read reads and decodes one record as it is on disk.
func (s *Store) read(id string) (*Container, error) {
	path := filepath.Join(s.Dir(id), "container.json")
	b, err := readRecord(path, true)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errdefs.NotFoundf("No such container: %s", id)
	}
	if err != nil {
		return nil, err
	}
	var c Container
	if err := jsoncodec.Unmarshal(b, &c); err != nil {
		// The one short read was not the whole record after all: read to the end.
		if b, err = readRecord(path, false); err == nil {
			c = Container{}
			err = jsoncodec.Unmarshal(b, &c)
		}
		if err != nil {
			return nil, fmt.Errorf("read container %s: %w", id, err)
		}
	}
	return &c, nil
}

// monitorDied is the record of c, which says running (or restarting) while no monitor holds its
// lock: the monitor died without recording the exit (kill -9, the machine stopped), and the
// container is gone with it. The first reader to see it records the death, once: FinishedAt
// is then the same for every later read (ps's "Exited (255) 2 hours ago", inspect), not the
// time of each read.
//
// monitorHeld says the caller holds the monitor lock (shared, checkMonitor): no monitor can
// start meanwhile — a monitor takes the lock exclusively before it records a run — so the
// death is recorded only then, and never over a live container. The record is also written
// only under the container's lock, as the other writers of a record that is not their own
// run's (rename, update, pause) take it; it is tried, not waited for, so a caller that holds
// it already (GetLocked reads again under it) or a writer busy with it costs no deadlock and no
// wait: such a reader answers from memory, and the next reader records the death. So does a
// reader that cannot write the store (a read-only filesystem): the read never fails for it.
func (s *Store) monitorDied(c *Container, monitorHeld bool) *Container {
	if monitorHeld {
		if l, err := lockfile.TryExclusiveNoMkdir(filepath.Join(s.Dir(c.ID), "lock")); err == nil {
			defer l.Unlock()
		} else {
			monitorHeld = false
		}
	}
	// Read again, now that the monitor is known to be gone: it may have recorded the exit
	// (or another reader the death) after the record was first read.
	if fresh, err := s.read(c.ID); err == nil {
		c = fresh
	}
	if !c.State.Running && c.State.Status != Restarting {
		return c
	}
	c.State.Status = Exited
	c.State.Running, c.State.Paused, c.State.Restarting = false, false, false
	c.State.Pid = 0
	if c.State.ExitCode == 0 {
		c.State.ExitCode = 255
	}
	c.State.Error = "the container's monitor died"
	// A restarting container keeps the end of its last run: the monitor died waiting to run it
	// again.
	if c.State.FinishedAt.IsZero() {
		c.State.FinishedAt = diedAt(c.State.StartedAt, time.Now()).UTC()
	}
	if monitorHeld {
		s.Save(c) // if it fails, the answer is the same, from memory
	}
	return c
}

// diedAt dates the death of a container whose monitor was found dead at now, the run having
// started at started. Nothing records when a monitor died: a flock leaves no trace in its file
// (monitor.lock's mtime is its creation), and the log's mtime is the container's last output,
// as old as its start for a quiet one, so it would date a death that came days later too early.
// What is known for sure is when it was noticed — Docker's answer too: a container whose
// process died with dockerd shows Exited (255) with the time the daemon noticed it — except
// after a reboot: a run that began before the machine's boot ended before the boot, which is
// then the better answer (the time that dockerd, starting with the machine, would notice).
// The margin keeps a container started just after the boot on the same side of it when the
// clock was stepped after the boot (NTP), since StartedAt and the boot time are both read from
// the wall clock.
func diedAt(started, now time.Time) time.Time {
	if boot := bootTime(now); !boot.IsZero() && !started.IsZero() && started.Before(boot.Add(-bootMargin)) {
		return boot
	}
	return now
}

const bootMargin = time.Minute

// bootTime is when the machine booted, on the wall clock of now (zero if unknown): now less
// CLOCK_BOOTTIME, which counts from the boot, suspends included.
func bootTime(now time.Time) time.Time {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return time.Time{}
	}
	return now.Add(-time.Duration(ts.Nano()))
}

// MonitorAlive tells whether a monitor holds the container's monitor lock.
func (s *Store) MonitorAlive(id string) bool {
	alive, l, _ := s.checkMonitor(id)
	l.Unlock()
	return alive
}

// checkMonitor tells whether a monitor holds the container's monitor lock. When none does, it
// returns the lock held shared if it could take it (nil otherwise, the container's directory
// being removed, say: err then says fs.ErrNotExist), for the caller to unlock: while it is held
// no monitor can start. The shared lock is a reader's: two readers asking at once do not take
// each other for a monitor.
func (s *Store) checkMonitor(id string) (alive bool, held *lockfile.Lock, err error) {
	l, err := lockfile.TryShared(s.MonitorLockPath(id))
	if err != nil {
		return errors.Is(err, lockfile.ErrLocked), nil, err
	}
	return false, l, nil
}

// List reads every record, newest first. `ps -a` on a thousand containers is a thousand small
// files: they are read and decoded on every CPU at once.
func (s *Store) List() ([]*Container, error) {
	ents, err := os.ReadDir(s.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.IsDir() && len(e.Name()) == 64 {
			ids = append(ids, e.Name())
		}
	}
	loaded := make([]*Container, len(ids))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := min(runtime.GOMAXPROCS(0), 8, len(ids)); w > 0; w-- {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return
				}
				// An error is a record half-created (kill -9 before the first save) or being
				// removed: not listed.
				loaded[i], _ = s.load(ids[i])
			}
		}()
	}
	wg.Wait()
	out := loaded[:0]
	for _, c := range loaded {
		if c != nil {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// readRecord reads a file through a bare descriptor (package rawfd): os.ReadFile's extra fcntl,
// fstat and poller calls doubled the cost of List.
//
// With shortIsEnd, a read that fills less than the buffer is taken as the end of the file (what
// Linux does for a regular file, and a record is never rewritten in place: it is replaced by a
// rename), which saves `ps -a` a read(2) per container; the caller reads again without it if the
// record does not parse.
func readRecord(path string, shortIsEnd bool) ([]byte, error) {
	f, err := rawfd.Open(path, syscall.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, 0, 8192)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := f.Read(b[len(b):cap(b)])
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		b = b[:len(b)+n]
		if shortIsEnd && len(b) < cap(b) {
			return b, nil
		}
	}
}

// Get finds a container by full ID, name, or unique ID prefix, as Docker does.
func (s *Store) Get(ref string) (*Container, error) {
	// A full ID is the record's directory: read that one record, not all of them. The monitor,
	// wait's polling and every command after `run` or `create` come this way.
	if id := strings.TrimPrefix(ref, "/"); len(id) == 64 && isHex(id) {
		c, err := s.load(id)
		if !errors.Is(err, errdefs.ErrNotFound) {
			return c, err
		}
	}
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	return Resolve(all, ref)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// Resolve finds ref among cs.
func Resolve(cs []*Container, ref string) (*Container, error) {
	ref = strings.TrimPrefix(ref, "/")
	if ref == "" {
		return nil, errdefs.Invalidf("empty container reference")
	}
	for _, c := range cs {
		if c.ID == ref || c.Name == ref {
			return c, nil
		}
	}
	var found []*Container
	for _, c := range cs {
		if strings.HasPrefix(c.ID, ref) {
			found = append(found, c)
		}
	}
	if len(found) > 1 {
		return nil, errdefs.Invalidf("multiple containers match the ID prefix %q", ref)
	}
	if len(found) == 1 {
		return found[0], nil
	}
	return nil, errdefs.NotFoundf("No such container: %s", ref)
}

// Remove deletes a record's directory.
func (s *Store) Remove(id string) error { return os.RemoveAll(s.Dir(id)) }

// removingPrefix names a record's directory that Detach took out of the store: List and Get only
// see 64-hex-digit names, so the record is gone, name and all, the moment it is renamed.
const removingPrefix = ".removing-"

// Detach removes a record at once, by renaming its directory out of the store's sight, and
// returns the function that deletes its files: `run --rm` answers with the exit code in between.
// A directory whose deletion never ran (its process was killed) is deleted by Sweep.
func (s *Store) Detach(id string) (reclaim func(), err error) {
	gone := s.DetachedDir(id)
	if _, err := os.Lstat(gone); err == nil {
		s.deleteDetached(gone) // an earlier detached copy of the same ID, left by a kill
	}
	if err := os.Rename(s.Dir(id), gone); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return func() {}, nil
		}
		return nil, err
	}
	return func() { s.reclaim(gone) }, nil
}

// reclaim deletes gone, a detached record's directory, or makes it the spare where there is
// none: emptied of its files, it keeps the directories a spare holds. On ext4, each directory
// deleted costs a discard of its block (~100 µs of waiting here) and each one made an inode
// table scan (40-200 µs of CPU, more where many inodes were freed lately): a run's record, deleted
// and then made again as the next spare, was eight of them, after the answer but beside the
// next run's start. It claims gone first (claim): if another process did, it leaves it to it.
func (s *Store) reclaim(gone string) {
	claimed := s.claim(gone)
	if claimed == "" {
		return
	}
	spare := filepath.Join(s.Root, spareName)
	if _, err := os.Lstat(spare); errors.Is(err, fs.ErrNotExist) && emptyForSpare(claimed) == nil && os.Rename(claimed, spare) == nil {
		return
	}
	os.RemoveAll(claimed)
}

// claimPrefix names a detached record's directory that a process claimed to delete it or make
// it the spare.
const claimPrefix = ".claimed-"

// claim renames gone, a detached record's directory, to a name of this process's alone and
// returns that name, or "" if another process claimed it (or deleted it) first. Every deletion
// of a detached directory claims it first (reclaim's, Sweep's, Detach's of an earlier copy), so
// that no two processes ever work in one: a deletion that had listed the directory could
// otherwise go on deleting in it after reclaim made it the spare and a new container took it,
// its record and mounted root filesystem with it. A claimed directory that a kill left is
// deleted by Sweep once it is a minute old (its times are set as it is claimed).
func (s *Store) claim(gone string) string {
	claimed := filepath.Join(s.Root, claimPrefix+NewID()[:16])
	if os.Rename(gone, claimed) != nil {
		return ""
	}
	now := time.Now()
	os.Chtimes(claimed, now, now)
	return claimed
}

// deleteDetached deletes gone, a detached record's directory, unless another process claimed it
// first.
func (s *Store) deleteDetached(gone string) {
	if claimed := s.claim(gone); claimed != "" {
		os.RemoveAll(claimed)
	}
}

// recordDirMode is a record directory's mode, and spareDirs the directories in it that every run
// makes, with their modes (the engine's): what a spare holds.
const recordDirMode = 0o700

var spareDirs = map[string]os.FileMode{"rootfs": 0o755, "etc": 0o755, "bundle": 0o700}

var errNotSpare = errors.New("not a record's directory as the engine leaves it")

// emptyForSpare makes dir, a detached record's directory, what MakeSpare makes but for the lock
// files (which a process may still hold, and which are made when they are first taken): it
// deletes every file, in it and in its etc and bundle directories, and sets the directories'
// modes. It fails, leaving dir for deletion, if dir is anything else: a directory of another
// name, a root filesystem that is not empty or still a mountpoint, another owner.
func emptyForSpare(dir string) error {
	// One statx a directory: it must be one, ours, and on dir's mount (by mount ID where
	// statx gives one, else by device: a root filesystem still mounted, even an empty one, is
	// not); its mode is then set to mode.
	var top unix.Statx_t
	ownDir := func(path string, mode os.FileMode, st *unix.Statx_t) error {
		if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS|unix.STATX_MNT_ID, st); err != nil {
			return &os.PathError{Op: "statx", Path: path, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() || int(st.Gid) != os.Getegid() {
			return errNotSpare
		}
		if st != &top && (st.Mask&top.Mask&unix.STATX_MNT_ID != 0 && st.Mnt_id != top.Mnt_id ||
			st.Dev_major != top.Dev_major || st.Dev_minor != top.Dev_minor) {
			return errNotSpare
		}
		if os.FileMode(st.Mode&0o7777) != mode {
			return os.Chmod(path, mode)
		}
		return nil
	}
	// Only regular files in dir, deleted; none at all in a root filesystem.
	removeFiles := func(dir string, none bool) error {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if none || !e.Type().IsRegular() {
				return errNotSpare
			}
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
		return nil
	}
	if err := ownDir(dir, recordDirMode, &top); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	kept := 0
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		mode, ok := spareDirs[e.Name()]
		if !ok {
			if !e.Type().IsRegular() {
				return errNotSpare
			}
			if err := os.Remove(p); err != nil {
				return err
			}
			continue
		}
		var st unix.Statx_t
		if err := ownDir(p, mode, &st); err != nil {
			return err
		}
		if err := removeFiles(p, e.Name() == "rootfs"); err != nil {
			return err
		}
		kept++
	}
	if kept != len(spareDirs) {
		return errNotSpare
	}
	return nil
}

// A spare is a record's directory made ahead, empty but for what every run of a container makes
// in it (its lock files, and the directories of its root filesystem, /etc files and bundle):
// Create takes it (TakeSpare) instead of making its own, and the next one is the record that a
// removal detached, emptied (Detach's reclaim), or, where that is not one, made by a monitor once
// its command has the answer (MakeSpare). A reclaimed spare has no lock files: they are made as
// they are first taken. On ext4, the record's directory is spread over the
// block groups (package topdir), which costs a scan of every group's counters (~300 µs here),
// and the five inodes in it as much again: a spare takes them off a run's path, for a rename.
// List and Get never see it (not an ID); Sweep deletes the half-made ones that a kill left.
const (
	spareName      = ".spare"
	spareTmpPrefix = ".spare-new-"
)

// TakeSpare moves the spare, if there is one, to be the directory of id (which must not exist):
// false when there was none (another Create took it), and the caller makes its own.
func (s *Store) TakeSpare(id string) bool {
	return os.Rename(filepath.Join(s.Root, spareName), s.Dir(id)) == nil
}

// MakeSpare makes a spare unless there is one. It is best effort: a failure leaves the next
// Create to make its own directory.
func (s *Store) MakeSpare() {
	spare := filepath.Join(s.Root, spareName)
	if _, err := os.Lstat(spare); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	tmp, err := os.MkdirTemp(s.Root, spareTmpPrefix) // recordDirMode, as SaveEncoded's
	if err != nil {
		return
	}
	// The engine's modes for each, exactly: the umask here is this process's, not that of the
	// command that will take the spare.
	err = errors.Join(touch(filepath.Join(tmp, "lock")), touch(filepath.Join(tmp, "monitor.lock")))
	for name, mode := range spareDirs {
		err = errors.Join(err, mkdirMode(filepath.Join(tmp, name), mode))
	}
	// Onto a spare made meanwhile, the rename fails (not empty): this one goes.
	if err != nil || os.Rename(tmp, spare) != nil {
		os.RemoveAll(tmp)
	}
}

// mkdirMode makes dir with exactly mode.
func mkdirMode(dir string, mode os.FileMode) error {
	if err := os.Mkdir(dir, mode); err != nil {
		return err
	}
	return os.Chmod(dir, mode)
}

// touch makes an empty file as lockfile does.
func touch(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// DetachedDir is where Detach moved the record of id.
func (s *Store) DetachedDir(id string) string { return filepath.Join(s.Root, removingPrefix+id) }

// Sweep deletes the directories that detached records left because their deletion never ran,
// and exit notes older than exitNoteLife. detached, unless nil, is called with the ID of each
// such record first (the engine removes the container's snapshot): a record whose detached
// returns an error stays, for the next Sweep to try again.
func (s *Store) Sweep(detached func(id string) error) {
	ents, err := os.ReadDir(s.Root)
	if err != nil {
		return
	}
	for _, e := range ents {
		switch {
		case strings.HasPrefix(e.Name(), removingPrefix):
			if detached != nil && detached(strings.TrimPrefix(e.Name(), removingPrefix)) != nil {
				continue
			}
			s.deleteDetached(filepath.Join(s.Root, e.Name()))
		case strings.HasPrefix(e.Name(), exitNotePrefix):
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > exitNoteLife {
				os.Remove(filepath.Join(s.Root, e.Name()))
			}
		case strings.HasPrefix(e.Name(), spareTmpPrefix), strings.HasPrefix(e.Name(), claimPrefix):
			// A spare being made, or a claimed directory being deleted or made the spare,
			// takes milliseconds: one a minute old was left by a kill.
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Minute {
				os.RemoveAll(filepath.Join(s.Root, e.Name()))
			}
		}
	}
}

// An exit note keeps the exit code of a container removed when it ended (--rm) for a while
// after its record is gone, for `wait`, which polls the record and then finds no record to read
// the code from: .exit-ID, written by its monitor before the removal. Sweep (every removal's,
// and every --rm monitor's once it is done) deletes the notes older than exitNoteLife.
const (
	exitNotePrefix = ".exit-"
	exitNoteLife   = time.Second
)

// WriteExitNote leaves the exit code of the container id, about to be removed.
func (s *Store) WriteExitNote(id string, code int) {
	os.WriteFile(filepath.Join(s.Root, exitNotePrefix+id), []byte(strconv.Itoa(code)), 0o600)
}

// ExitNote reads the exit code that the monitor of the removed container id left, if any.
func (s *Store) ExitNote(id string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(s.Root, exitNotePrefix+id))
	if err != nil {
		return 0, false
	}
	code, err := strconv.Atoi(string(b))
	return code, err == nil
}

// StatusLine is ps's STATUS column: "Up 3 minutes", "Exited (0) 2 seconds ago", "Created".
func (c *Container) StatusLine(human func(time.Duration) string) string {
	switch {
	case c.State.Paused:
		return "Up " + human(time.Since(c.State.StartedAt)) + " (Paused)"
	case c.State.Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", c.State.ExitCode, human(time.Since(c.State.FinishedAt)))
	case c.State.Running:
		return "Up " + human(time.Since(c.State.StartedAt)) + c.State.Health.suffix()
	case c.State.Status == Created:
		return "Created"
	case c.State.Status == Dead:
		return "Dead"
	}
	return fmt.Sprintf("Exited (%d) %s ago", c.State.ExitCode, human(time.Since(c.State.FinishedAt)))
}
