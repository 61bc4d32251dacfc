package volume

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
	"time"
)

// Seed copies the image's content at target (a path inside rootfs, already resolved there) into
// the volume's data directory dst when dst is empty, as Docker does on a volume's first use:
// files, directories and symlinks with their modes, owners and times, and the ownership and mode
// of the directory itself. A target that does not exist or is not a directory seeds nothing.
//
// owner, when not nil, maps the owners of the copies: for a container in a user namespace, whose
// rootfs shows host IDs (100000 for its root, say) but whose volumes are idmapped binds that
// store the IDs the container sees (0), it maps the first to the second.
//
// Both trees are walked through os.Root, without following a symlink: an image whose target or
// content holds symlinks to the host cannot make Seed read or write outside the two roots.
func Seed(rootfs, target, dst string, owner func(uid, gid int) (int, int)) error {
	d, err := os.OpenRoot(dst)
	if err != nil {
		return fmt.Errorf("seed volume: %w", err)
	}
	defer d.Close()
	if empty, err := isEmpty(d); err != nil || !empty {
		return err
	}
	r, err := os.OpenRoot(rootfs)
	if err != nil {
		return fmt.Errorf("seed volume: %w", err)
	}
	defer r.Close()
	rel := path.Clean("./" + target)
	fi, err := r.Lstat(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("seed volume from %s: %w", target, err)
	}
	if !fi.IsDir() {
		return nil
	}
	src, err := r.OpenRoot(rel)
	if err != nil {
		return fmt.Errorf("seed volume from %s: %w", target, err)
	}
	defer src.Close()
	if err := copyTree(src, d, ".", owner); err != nil {
		return fmt.Errorf("seed volume from %s: %w", target, err)
	}
	return nil
}

func isEmpty(r *os.Root) (bool, error) {
	f, err := r.Open(".")
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return len(names) == 0, err
}

// copyTree copies the directory name from src to dst (where name already exists) and then
// applies the directory's own metadata.
func copyTree(src, dst *os.Root, name string, owner func(uid, gid int) (int, int)) error {
	dir, err := src.OpenFile(name, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	ents, err := dir.ReadDir(-1)
	dir.Close()
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := path.Join(name, e.Name())
		fi, err := src.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			if err := dst.Mkdir(p, 0o700); err != nil {
				return err
			}
			if err := copyTree(src, dst, p, owner); err != nil {
				return err
			}
			continue
		case fi.Mode().IsRegular():
			if err := copyFile(src, dst, p, fi); err != nil {
				return err
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			link, err := src.Readlink(p)
			if err != nil {
				return err
			}
			if err := dst.Symlink(link, p); err != nil {
				return err
			}
		default:
			continue // devices, sockets and FIFOs: Docker copies them; nothing needs them in a volume
		}
		if err := setMeta(dst, p, fi, owner); err != nil {
			return err
		}
	}
	fi, err := src.Lstat(name)
	if err != nil {
		return err
	}
	return setMeta(dst, name, fi, owner)
}

func copyFile(src, dst *os.Root, p string, fi fs.FileInfo) error {
	in, err := src.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := dst.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func setMeta(dst *os.Root, p string, fi fs.FileInfo, owner func(uid, gid int) (int, int)) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok {
		uid, gid := int(st.Uid), int(st.Gid)
		if owner != nil {
			uid, gid = owner(uid, gid)
		}
		if err := dst.Lchown(p, uid, gid); err != nil {
			return err
		}
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil
	}
	// Chmod after chown: chown clears the set-id bits.
	if err := dst.Chmod(p, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	if ok {
		at := time.Unix(st.Atim.Unix())
		return dst.Chtimes(p, at, fi.ModTime())
	}
	return nil
}
