package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/hako-dev/hako/internal/build"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/layer"
	"github.com/hako-dev/hako/internal/mount"
	"golang.org/x/sys/unix"
)

// RUN --mount on the host. Every mount a RUN gets is prepared here, in the build's scratch
// directory, before the container starts, and taken down after it ends:
//
//   - bind from the context: a copy of the source (with .dockerignore applied), thrown away
//     after the run, so no write reaches the context;
//   - bind from a stage or an image: a read-only view of its filesystem, or for rw a temporary
//     writable snapshot on it, so no write reaches the image or the host;
//   - cache: a directory under root/cachemounts, kept between builds, locked per its sharing;
//   - secret and ssh: a file or a socket on a tmpfs private to the run, never on disk;
//   - tmpfs: a tmpfs.
//
// A source inside a tree (source=, in a view or a cache) is opened inside that tree without
// following any symlink out of it (openat2 RESOLVE_IN_ROOT, or its emulation), and the opened
// handle itself is bind-mounted at a staging path of ours: a symlink swapped in by a concurrent
// build between the check and the mount changes nothing (BuildKit's CVE-2024-23651).

// cacheMountsDir holds the cache mounts: one directory per id (named by its digest), with one
// numbered instance per concurrent private user.
func (bd *Builder) cacheMountsDir() string { return filepath.Join(bd.e.Root, "cachemounts") }

// preparedMounts are one run's mounts and what takes them down.
type preparedMounts struct {
	points  []build.MountPoint
	env     []string
	private string
	undo    []func()
}

func (p *preparedMounts) release() {
	for i := len(p.undo) - 1; i >= 0; i-- {
		p.undo[i]()
	}
	p.undo = nil
}

// checkRunMounts fails when a RUN needs a secret or an ssh agent that the build was not given.
func (b *job) checkRunMounts(run *build.RunSpec) error {
	for _, m := range run.Mounts {
		switch {
		case m.Type == build.MountSecret && m.Required && !b.secrets().Has(m.ID):
			return errdefs.Invalidf("RUN --mount=type=secret: the required secret %q was not given (hako build --secret id=%s,src=FILE or id=%s,env=VAR)", m.ID, m.ID, m.ID)
		case m.Type == build.MountSSH && m.Required && b.sshSource(m.ID) == nil:
			return errdefs.Invalidf("RUN --mount=type=ssh: the required ssh agent %q was not given (hako build --ssh %s[=SOCKET|KEY])", m.ID, m.ID)
		}
	}
	return nil
}

func (b *job) secrets() build.Secrets {
	byID := map[string]build.Secret{}
	for _, s := range b.opts.Secrets {
		byID[s.ID] = s
	}
	return build.Secrets{ByID: byID, LookupEnv: b.opts.LookupEnv}
}

func (b *job) sshSource(id string) *build.SSH {
	for i := range b.opts.SSH {
		if b.opts.SSH[i].ID == id {
			return &b.opts.SSH[i]
		}
	}
	return nil
}

// runMountSources is what a RUN's mounts read, for its cache key: the content of a context
// bind's source, the image of a stage or image it mounts from. Cache mounts, secrets and
// agents are not part of it (BuildKit's rule): a secret's value never reaches a key.
func (b *job) runMountSources(ctx context.Context, run *build.RunSpec) (string, error) {
	var parts []string
	for _, m := range run.Mounts {
		if m.Type != build.MountBind && m.Type != build.MountCache {
			continue
		}
		switch {
		case m.Type == build.MountBind && m.From == "":
			spec := &build.CopySpec{Instruction: "RUN --mount", Sources: []string{m.Source}, Dest: "/"}
			matches, err := spec.Resolve(b.context)
			if err != nil {
				return "", fmt.Errorf("RUN --mount=type=bind,source=%s: %w", m.Source, err)
			}
			d, err := spec.Digest(ctx, b.context, matches)
			if err != nil {
				return "", err
			}
			parts = append(parts, m.Target+"="+d)
		case m.From != "":
			si, err := b.mountFromImage(ctx, m)
			if err != nil {
				return "", err
			}
			parts = append(parts, m.Target+"="+si.id.String())
		}
	}
	return strings.Join(parts, " "), nil
}

// mountFromImage is the stage or image a mount's from= names.
func (b *job) mountFromImage(ctx context.Context, m build.RunMount) (*stepImage, error) {
	if m.FromStage != nil {
		si, err := b.stageResult(ctx, m.FromStage.Index)
		if err != nil {
			return nil, fmt.Errorf("RUN --mount from=%s: %w", m.From, err)
		}
		return si, nil
	}
	img, _, err := b.baseImage(ctx, m.From)
	if err != nil {
		return nil, fmt.Errorf("RUN --mount from=%s: %w", m.From, err)
	}
	return b.imageState(ctx, img)
}

// prepareRunMounts makes a RUN's mounts on the host; release takes them down.
func (b *job) prepareRunMounts(ctx context.Context, run *build.RunSpec, id string) (*preparedMounts, error) {
	p := &preparedMounts{}
	done := false
	defer func() {
		if !done {
			p.release()
		}
	}()
	secrets := b.secrets()
	for i, m := range run.Mounts {
		stage := filepath.Join(b.tmp, fmt.Sprintf("mnt-%s-%d", id, i))
		var err error
		switch m.Type {
		case build.MountTmpfs:
			opts := []string{"nosuid", "nodev", "mode=1777"}
			if m.Size > 0 {
				opts = append(opts, "size="+strconv.FormatInt(m.Size, 10))
			}
			p.points = append(p.points, build.MountPoint{Target: m.Target, Type: "tmpfs", Source: "tmpfs", Options: opts})
		case build.MountBind:
			err = b.prepareBind(ctx, p, m, stage)
		case build.MountCache:
			err = b.prepareCache(ctx, p, m, stage)
		case build.MountSecret:
			if !secrets.Has(m.ID) {
				continue // not required (checkRunMounts): the RUN goes without it
			}
			err = b.prepareSecret(p, m, secrets, id, i)
		case build.MountSSH:
			src := b.sshSource(m.ID)
			if src == nil {
				continue
			}
			err = b.prepareSSH(p, m, *src, id, i)
		default:
			err = errdefs.Invalidf("RUN --mount: unknown type %q", m.Type)
		}
		if err != nil {
			return nil, err
		}
	}
	done = true
	return p, nil
}

func bindOptions(rw bool) []string {
	if rw {
		return []string{"rbind", "rw"}
	}
	return []string{"rbind", "ro"}
}

// prepareBind: from the context, a throwaway copy of the source; from a stage or an image, its
// filesystem (a temporary writable snapshot for rw), with the source opened inside it.
func (b *job) prepareBind(ctx context.Context, p *preparedMounts, m build.RunMount, stage string) error {
	if m.From == "" {
		dir := stage + "-ctx"
		if err := os.Mkdir(dir, 0o700); err != nil {
			return err
		}
		p.undo = append(p.undo, func() { os.RemoveAll(dir) })
		spec := &build.CopySpec{Instruction: "RUN --mount", Sources: []string{m.Source}, Dest: "/src"}
		matches, err := spec.Resolve(b.context)
		if err != nil {
			return fmt.Errorf("RUN --mount=type=bind,source=%s: %w", m.Source, err)
		}
		if err := spec.Copy(ctx, b.context, matches, dir, build.CopyOptions{}); err != nil {
			return err
		}
		p.points = append(p.points, build.MountPoint{Target: m.Target, Type: "bind", Source: filepath.Join(dir, "src"), Options: bindOptions(m.ReadWrite)})
		return nil
	}
	si, err := b.mountFromImage(ctx, m)
	if err != nil {
		return err
	}
	root, release, err := b.imageTree(ctx, si, m.ReadWrite)
	if err != nil {
		return err
	}
	p.undo = append(p.undo, release)
	if err := bindInRoot(p, root, m.Source, stage, nil); err != nil {
		return fmt.Errorf("RUN --mount=type=bind,from=%s,source=%s: %w", m.From, m.Source, err)
	}
	p.points = append(p.points, build.MountPoint{Target: m.Target, Type: "bind", Source: stage, Options: bindOptions(m.ReadWrite)})
	return nil
}

// imageTree mounts an image's filesystem in the scratch directory: read-only, or writable on
// a temporary snapshot whose writes are dropped with it.
func (b *job) imageTree(ctx context.Context, si *stepImage, writable bool) (string, func(), error) {
	if !writable {
		return b.view(ctx, si)
	}
	e := b.e
	parentChain := ""
	if diffIDs := si.cfg.RootFS.DiffIDs; len(diffIDs) > 0 {
		if err := b.unpack(ctx, si.layers, diffIDs); err != nil {
			return "", nil, err
		}
		chain := layer.ChainIDs(diffIDs)
		parentChain = chain[len(chain)-1].String()
	}
	key := "tmp-mount-" + randomHex()
	mounts, err := e.Snapshots.Prepare(ctx, key, parentChain, layer.TempLabels(b.lease))
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp(b.tmp, "rwview-")
	if err == nil {
		err = mount.All(mounts, dir)
	}
	if err != nil {
		e.Snapshots.Remove(context.WithoutCancel(ctx), key)
		return "", nil, err
	}
	return dir, func() {
		mount.Unmount(dir)
		os.Remove(dir)
		e.Snapshots.Remove(context.WithoutCancel(ctx), key)
	}, nil
}

// dirPerm is the mode, owner and group to give a directory bindInRoot creates.
type dirPerm struct {
	mode     os.FileMode
	uid, gid int
}

// bindInRoot opens sub inside root without leaving it (creating it as a directory with perm
// when perm is set) and bind-mounts the opened handle at stage, a path of ours. The caller
// then hands stage to the runtime: what the container sees was fixed when sub was opened.
func bindInRoot(p *preparedMounts, root, sub string, stage string, perm *dirPerm) error {
	rootf, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer rootf.Close()
	var h *os.File
	if perm != nil {
		existed := true
		if f, err := pathrs.OpenatInRoot(rootf, sub); err == nil {
			f.Close()
		} else {
			existed = false
		}
		if h, err = pathrs.MkdirAllHandle(rootf, sub, 0o755); err != nil {
			return err
		}
		if !existed {
			fd := int(h.Fd())
			// The handle is O_PATH: change it through its /proc link, which is the opened inode.
			link := "/proc/self/fd/" + strconv.Itoa(fd)
			if err := os.Chown(link, perm.uid, perm.gid); err != nil {
				h.Close()
				return err
			}
			if err := os.Chmod(link, perm.mode); err != nil {
				h.Close()
				return err
			}
		}
	} else if h, err = pathrs.OpenatInRoot(rootf, sub); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: no such file or directory", sub)
		}
		return err
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		err = os.Mkdir(stage, 0o700)
	case unix.S_IFREG:
		var f *os.File
		if f, err = os.OpenFile(stage, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
			f.Close()
		}
	default:
		return errdefs.Invalidf("%s is neither a file nor a directory", sub)
	}
	if err != nil {
		return err
	}
	if err := unix.Mount("/proc/self/fd/"+strconv.Itoa(int(h.Fd())), stage, "", unix.MS_BIND, ""); err != nil {
		os.Remove(stage)
		return fmt.Errorf("bind %s: %w", sub, err)
	}
	p.undo = append(p.undo, func() {
		mount.Unmount(stage)
		os.Remove(stage)
	})
	return nil
}

// prepareCache takes an instance of the cache id per its sharing, seeds a new one from from=,
// and mounts its source= subdirectory.
func (b *job) prepareCache(ctx context.Context, p *preparedMounts, m build.RunMount, stage string) error {
	inst, release, fresh, err := b.bd.cacheInstance(ctx, m.ID, m.Sharing)
	if err != nil {
		return fmt.Errorf("RUN --mount=type=cache,id=%s: %w", m.ID, err)
	}
	p.undo = append(p.undo, release)
	if fresh && m.From != "" {
		si, err := b.mountFromImage(ctx, m)
		if err != nil {
			return err
		}
		root, rel, err := b.imageTree(ctx, si, false)
		if err != nil {
			return err
		}
		err = seedCache(ctx, root, m.Source, inst)
		rel()
		if err != nil {
			os.RemoveAll(inst) // made again, whole, by the next build
			return fmt.Errorf("RUN --mount=type=cache,id=%s,from=%s: %w", m.ID, m.From, err)
		}
	}
	perm := &dirPerm{mode: 0o755}
	if m.Mode != nil {
		perm.mode = build.FileMode(*m.Mode)
	}
	if m.UID != nil {
		perm.uid = int(*m.UID)
	}
	if m.GID != nil {
		perm.gid = int(*m.GID)
	}
	if fresh && m.Source == "/" {
		// The instance's root is the mounted directory: give it the mount's mode and owner.
		if err := os.Chown(inst, perm.uid, perm.gid); err != nil {
			return err
		}
		if err := os.Chmod(inst, perm.mode); err != nil {
			return err
		}
	}
	if err := bindInRoot(p, inst, m.Source, stage, perm); err != nil {
		return fmt.Errorf("RUN --mount=type=cache,id=%s,source=%s: %w", m.ID, m.Source, err)
	}
	p.points = append(p.points, build.MountPoint{Target: m.Target, Type: "bind", Source: stage, Options: bindOptions(m.ReadWrite)})
	return nil
}

// seedCache copies source= of an image's tree into a new cache instance, at the same path.
func seedCache(ctx context.Context, root, source, inst string) error {
	src := &build.Source{Root: root, KeepOwner: true, Name: "cache mount source"}
	spec := &build.CopySpec{Instruction: "RUN --mount=type=cache", Sources: []string{source}, Dest: source}
	matches, err := spec.Resolve(src)
	if err != nil {
		return err
	}
	return spec.Copy(ctx, src, matches, inst, build.CopyOptions{})
}

// cacheInstance locks and returns an instance directory of cache id. shared: instance 0, with
// a shared lock; locked: instance 0, alone (waits for the others); private: the first instance
// no one holds (made if needed). fresh says the instance was just made. release unlocks it.
func (bd *Builder) cacheInstance(ctx context.Context, id, sharing string) (dir string, release func(), fresh bool, err error) {
	sum := sha256.Sum256([]byte(id))
	base := filepath.Join(bd.cacheMountsDir(), hex.EncodeToString(sum[:16]))
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", nil, false, err
	}
	if _, err := os.Stat(filepath.Join(base, "id")); err != nil {
		os.WriteFile(filepath.Join(base, "id"), []byte(id+"\n"), 0o600)
	}
	var lk *os.File
	n := 0
	switch sharing {
	case build.SharingPrivate:
		for ; ; n++ {
			lk, err = flock(ctx, filepath.Join(base, strconv.Itoa(n)+".lock"), unix.LOCK_EX, false)
			if err == nil || !errors.Is(err, errLockBusy) {
				break
			}
		}
	case build.SharingLocked:
		lk, err = flock(ctx, filepath.Join(base, "0.lock"), unix.LOCK_EX, true)
	default:
		lk, err = flock(ctx, filepath.Join(base, "0.lock"), unix.LOCK_SH, true)
	}
	if err != nil {
		return "", nil, false, err
	}
	release = func() { lk.Close() }
	dir = filepath.Join(base, strconv.Itoa(n))
	now := time.Now()
	os.Chtimes(filepath.Join(base, strconv.Itoa(n)+".lock"), now, now) // last use, for prune --filter until
	if _, err := os.Lstat(dir); err == nil {
		return dir, release, false, nil
	}
	// Two shared users may both find it missing: one makes it, under a lock of its own.
	mk, err := flock(ctx, filepath.Join(base, "create.lock"), unix.LOCK_EX, true)
	if err != nil {
		release()
		return "", nil, false, err
	}
	defer mk.Close()
	if _, err := os.Lstat(dir); err == nil {
		return dir, release, false, nil
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		release()
		return "", nil, false, err
	}
	return dir, release, true, nil
}

var errLockBusy = errors.New("lock busy")

// flock locks path (created if missing) with how; wait polls until ctx ends, otherwise a held
// lock is errLockBusy.
func flock(ctx context.Context, path string, how int, wait bool) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !wait && errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, errLockBusy
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// privateDir is the run's tmpfs for secrets, agent sockets and the runtime bundle: memory only.
func (b *job) privateDir(p *preparedMounts, id string) (string, error) {
	if p.private != "" {
		return p.private, nil
	}
	dir := filepath.Join(b.tmp, "priv-"+id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", err
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0711,size=16m"); err != nil {
		os.Remove(dir)
		return "", fmt.Errorf("mount a tmpfs for secrets: %w", err)
	}
	p.undo = append(p.undo, func() {
		mount.Unmount(dir)
		os.Remove(dir)
	})
	p.private = dir
	return dir, nil
}

func (b *job) prepareSecret(p *preparedMounts, m build.RunMount, secrets build.Secrets, id string, i int) error {
	val, err := secrets.Value(m.ID)
	if err != nil {
		return err
	}
	if m.Env != "" {
		p.env = append(p.env, m.Env+"="+string(val))
	}
	if m.Target == "" {
		return nil
	}
	dir, err := b.privateDir(p, id)
	if err != nil {
		return err
	}
	f := filepath.Join(dir, "secret-"+strconv.Itoa(i))
	mode := os.FileMode(0o400)
	if m.Mode != nil {
		mode = build.FileMode(*m.Mode)
	}
	if err := os.WriteFile(f, val, 0o600); err != nil {
		return fmt.Errorf("secret %s: %w", m.ID, err)
	}
	uid, gid := 0, 0
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	if err := os.Chown(f, uid, gid); err != nil {
		return err
	}
	if err := os.Chmod(f, mode); err != nil {
		return err
	}
	p.points = append(p.points, build.MountPoint{Target: m.Target, Type: "bind", Source: f, Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}})
	return nil
}

func (b *job) prepareSSH(p *preparedMounts, m build.RunMount, src build.SSH, id string, i int) error {
	a, err := build.NewSSHAgent(src)
	if err != nil {
		return err
	}
	dir, err := b.privateDir(p, id)
	if err != nil {
		return err
	}
	mode := os.FileMode(0o600)
	if m.Mode != nil {
		mode = os.FileMode(*m.Mode & 0o777)
	}
	uid, gid := 0, 0
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	sock := filepath.Join(dir, "ssh-"+strconv.Itoa(i))
	stop, err := a.Serve(sock, uid, gid, mode)
	if err != nil {
		return err
	}
	p.undo = append(p.undo, stop)
	p.points = append(p.points, build.MountPoint{Target: m.Target, Type: "bind", Source: sock, Options: []string{"rbind", "nosuid", "nodev", "noexec"}})
	return nil
}

// pruneCacheMounts removes the cache mount instances no build holds (last used before until,
// when set) and returns how many went and the bytes they held.
func (bd *Builder) pruneCacheMounts(until time.Time) (int, int64) {
	ids, _ := os.ReadDir(bd.cacheMountsDir())
	n, bytes := 0, int64(0)
	for _, d := range ids {
		base := filepath.Join(bd.cacheMountsDir(), d.Name())
		locks, _ := filepath.Glob(filepath.Join(base, "[0-9]*.lock"))
		for _, l := range locks {
			if fi, err := os.Stat(l); err == nil && !until.IsZero() && fi.ModTime().After(until) {
				continue
			}
			lk, err := flock(context.Background(), l, unix.LOCK_EX, false)
			if err != nil {
				continue // in use
			}
			inst := strings.TrimSuffix(l, ".lock")
			if _, err := os.Lstat(inst); err == nil {
				bytes += treeSize(inst)
				if os.RemoveAll(inst) == nil {
					n++
				}
			}
			lk.Close()
		}
		// The lock files stay: removing one that another process has open would let two
		// processes hold "the" lock on two different files.
	}
	return n, bytes
}

func treeSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func atime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Atim.Sec, st.Atim.Nsec)
	}
	return fi.ModTime()
}

// runWithMounts runs a RUN step with its mounts prepared, and takes them down after.
func (b *job) runWithMounts(ctx context.Context, run *build.RunSpec, id, rootfs string, out io.Writer) error {
	ex := &runExecutor{e: b.e, tmp: b.tmp}
	if len(run.Mounts) == 0 {
		return build.Run(ctx, ex, "hako-build-"+id, rootfs, run, out)
	}
	p, err := b.prepareRunMounts(ctx, run, id)
	if err != nil {
		return err
	}
	defer p.release()
	req := build.RunRequest{ID: "hako-build-" + id, Rootfs: rootfs, Spec: *run, Mounts: p.points, SecretEnv: p.env, Private: p.private}
	if len(p.env) > 0 && req.Private == "" {
		if req.Private, err = b.privateDir(p, id); err != nil {
			return err
		}
	}
	return build.RunWith(ctx, ex, req, out)
}
