package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/cp"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/hako-dev/hako/internal/mount"
)

// CopyOptions are `cp`'s flags.
type CopyOptions struct {
	Archive    bool // -a: keep uid and gid
	FollowLink bool // -L: copy what a source symlink points to
}

// CopyFromContainer is `cp CONTAINER:SRC DST`: DST is a host path, or "-" to write a tar of SRC
// to w. SRC is read through the container's volumes and bind mounts, as Docker's cp does.
func (e *Engine) CopyFromContainer(ctx context.Context, ref, src, dst string, w io.Writer, o CopyOptions) error {
	c, err := e.Containers().Get(ref)
	if err != nil {
		return err
	}
	var hroot *cp.Root
	var hdst string
	if dst != "-" {
		if hroot, err = cp.OpenRoot("/"); err != nil {
			return err
		}
		defer hroot.Close()
		if hdst, err = filepath.Abs(dst); err != nil {
			return err
		}
		if strings.HasSuffix(dst, "/") && hdst != "/" {
			hdst += "/"
		}
	}
	return e.withContainerFS(ctx, c, func(croot *cp.Root) error {
		info, err := croot.Stat(src, o.FollowLink)
		if err == nil && !info.Exists {
			err = fs.ErrNotExist
		}
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				return errdefs.NotFoundf("Could not find the file %s in container %s", src, ref)
			}
			return fmt.Errorf("copy from container %s: %s: %w", ref, src, err)
		}
		if !info.IsDir && strings.HasSuffix(src, "/") {
			return errdefs.Invalidf("copy from container %s: %s: not a directory", ref, src)
		}
		if dst == "-" {
			return croot.WriteTar(ctx, w, src, o.FollowLink, tarName(src))
		}
		return copyTree(ctx, croot, src, info, hroot, hdst, o, dst)
	})
}

// CopyToContainer is `cp SRC CONTAINER:DST`: SRC is a host path, or "-" to read a tar from r
// and unpack it into the directory DST. DST is written through the container's volumes and bind
// mounts, as Docker's cp does; a read-only one refuses the copy before anything is written.
func (e *Engine) CopyToContainer(ctx context.Context, ref, src string, r io.Reader, dst string, o CopyOptions) error {
	c, err := e.Containers().Get(ref)
	if err != nil {
		return err
	}
	hroot, err := cp.OpenRoot("/")
	if err != nil {
		return err
	}
	defer hroot.Close()
	var info cp.Info
	var hsrc string
	if src != "-" {
		if hsrc, err = filepath.Abs(src); err != nil {
			return err
		}
		switch { // Abs cleans away what Docker's rules read
		case strings.HasSuffix(src, "/."):
			hsrc += "/."
		case strings.HasSuffix(src, "/"):
			hsrc += "/"
		}
		info, err = hroot.Stat(hsrc, o.FollowLink)
		if err == nil && !info.Exists {
			err = &fs.PathError{Op: "lstat", Path: src, Err: fs.ErrNotExist}
		}
		if err != nil {
			return errdefs.NotFound(fmt.Errorf("copy to container %s: %w", ref, unwrapPathErr(err, src)))
		}
	}
	return e.withContainerFS(ctx, c, func(croot *cp.Root) error {
		var err error
		if src == "-" {
			di, serr := croot.Stat(dst, true)
			if serr != nil || !di.Exists || !di.IsDir {
				return errdefs.Invalidf("copy to container %s: destination %s must be an existing directory when copying from stdin", ref, dst)
			}
			err = croot.ExtractTar(ctx, r, dst, cp.ExtractOptions{KeepOwner: o.Archive, Name: "stdin"})
		} else {
			err = copyTree(ctx, hroot, hsrc, info, croot, dst, o, ref+":"+dst)
		}
		if c.Config.Options.UserNS && errors.Is(err, syscall.EOVERFLOW) {
			// The destination was not idmapped (cp_view.go's writeCheck refuses one), but the
			// tar entered an idmapped mount below it (cp ./etc ctr:/ with a volume on /etc).
			return errIDMappedCopy()
		}
		return err
	})
}

func unwrapPathErr(err error, name string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("lstat %s: %w", name, pe.Err)
	}
	return err
}

// tarName is the name a copied path takes in a tar stream: its base name, "." for the root.
func tarName(p string) string {
	b := path.Base(path.Clean("/" + p))
	if b == "/" {
		return "."
	}
	return b
}

// copyTree copies src of one root to dst of another with Docker's rules: a file replaces a file
// or lands in a directory under its own name, or is saved as dst when that does not exist; a
// directory lands in an existing directory under its own name (its contents with "SRC/."), or
// becomes dst. The copy streams as a tar from one side to the other.
func copyTree(ctx context.Context, from *cp.Root, src string, info cp.Info, to *cp.Root, dst string, o CopyOptions, dstName string) error {
	di, err := to.Stat(dst, true)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return errdefs.NotFoundf("copy to %s: the parent directory does not exist", dstName)
		}
		return fmt.Errorf("copy to %s: %w", dstName, err)
	}
	contents := info.IsDir && (strings.HasSuffix(src, "/.") || tarName(src) == ".")
	var destDir, name string
	switch {
	case di.Exists && di.IsDir:
		destDir, name = dst, tarName(src)
		if contents {
			name = "."
		}
	case di.Exists && info.IsDir:
		return errdefs.Invalidf("cannot copy a directory to a file: %s", dstName)
	case !di.Exists && strings.HasSuffix(dst, "/"):
		if !info.IsDir {
			return errdefs.NotFoundf("copy to %s: no such directory", dstName)
		}
		fallthrough
	default:
		destDir, name = path.Dir(path.Clean("/"+dst)), path.Base(path.Clean("/"+dst))
	}
	pr, pw := io.Pipe()
	written := make(chan struct{})
	go func() {
		defer close(written)
		pw.CloseWithError(from.WriteTar(ctx, pw, src, o.FollowLink, name))
	}()
	err = to.ExtractTar(ctx, pr, destDir, cp.ExtractOptions{KeepOwner: o.Archive, Name: "copy of " + src})
	pr.CloseWithError(io.ErrClosedPipe)
	// The writer holds descriptors in the container's view: it is done with them before the
	// view is taken down.
	<-written
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dstName, err)
	}
	return nil
}

// withContainerRoot runs fn with a host directory that holds the container's root filesystem,
// without its volumes and bind mounts (see withContainerFS for cp's view with them). A running
// container's is the monitor's mount at containers/ID/rootfs, the very tree the container sees (a
// second overlay mount of a live upper dir is undefined behaviour in overlayfs). A stopped one's
// snapshot is mounted read-write at a temporary directory for the call and unmounted after, so
// the rootfs mount point stays free for a start that races with it; the mount is made in a mount
// namespace of its own (mount.InPrivateNamespace), as cp's view is, so that a hako killed before
// it unmounts leaves nothing mounted behind. fn then runs on that namespace's thread: what it
// starts on other goroutines does not see the directory's content.
func (e *Engine) withContainerRoot(ctx context.Context, c *container.Container, fn func(dir string) error) error {
	if c.State.Running {
		return fn(filepath.Join(e.Containers().Dir(c.ID), "rootfs"))
	}
	return mount.InPrivateNamespace(func() error {
		tmp, err := e.mountStopped(ctx, c)
		if err != nil {
			return err
		}
		defer os.Remove(tmp)
		// Detached in one call, as cp's view is (mount.Unmount may read /proc/self/mountinfo,
		// the process's namespace rather than this thread's); nothing holds it by then.
		defer unix.Unmount(tmp, unix.MNT_DETACH)
		return fn(tmp)
	})
}

// mountStopped mounts a stopped container's snapshot read-write at a new private directory in
// the container's directory, idmapped as it runs when it has a user namespace (its files then
// show host IDs throughout, as a running one's); the caller unmounts it and removes the
// directory.
func (e *Engine) mountStopped(ctx context.Context, c *container.Container) (string, error) {
	mounts, err := e.Snapshots.Mounts(ctx, c.ID)
	if err != nil {
		return "", err
	}
	mounts = userNSMounts(mounts, c.Config.Options) // userns.go
	tmp, err := os.MkdirTemp(e.Containers().Dir(c.ID), "mnt-")
	if err != nil {
		return "", err
	}
	if err := mount.All(mounts, tmp); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}
