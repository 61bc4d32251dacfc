package mount

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// flag is what an option does to mount(2)'s flags and, for the new mount API, to a mount's
// attributes.
type flag struct {
	clear bool
	flag  uintptr
	attr  uint64 // MOUNT_ATTR_* for fsmount; 0 when the option has no attribute
}

var flags = map[string]flag{
	"async":         {clear: true, flag: unix.MS_SYNCHRONOUS},
	"atime":         {clear: true, flag: unix.MS_NOATIME},
	"bind":          {flag: unix.MS_BIND},
	"defaults":      {},
	"dev":           {clear: true, flag: unix.MS_NODEV},
	"diratime":      {clear: true, flag: unix.MS_NODIRATIME},
	"dirsync":       {flag: unix.MS_DIRSYNC},
	"exec":          {clear: true, flag: unix.MS_NOEXEC},
	"mand":          {flag: unix.MS_MANDLOCK},
	"noatime":       {flag: unix.MS_NOATIME, attr: unix.MOUNT_ATTR_NOATIME},
	"nodev":         {flag: unix.MS_NODEV, attr: unix.MOUNT_ATTR_NODEV},
	"nodiratime":    {flag: unix.MS_NODIRATIME, attr: unix.MOUNT_ATTR_NODIRATIME},
	"noexec":        {flag: unix.MS_NOEXEC, attr: unix.MOUNT_ATTR_NOEXEC},
	"nomand":        {clear: true, flag: unix.MS_MANDLOCK},
	"norelatime":    {clear: true, flag: unix.MS_RELATIME},
	"nostrictatime": {clear: true, flag: unix.MS_STRICTATIME},
	"nosuid":        {flag: unix.MS_NOSUID, attr: unix.MOUNT_ATTR_NOSUID},
	"rbind":         {flag: unix.MS_BIND | unix.MS_REC},
	"relatime":      {flag: unix.MS_RELATIME},
	"remount":       {flag: unix.MS_REMOUNT},
	"ro":            {flag: unix.MS_RDONLY, attr: unix.MOUNT_ATTR_RDONLY},
	"rw":            {clear: true, flag: unix.MS_RDONLY},
	"strictatime":   {flag: unix.MS_STRICTATIME, attr: unix.MOUNT_ATTR_STRICTATIME},
	"suid":          {clear: true, flag: unix.MS_NOSUID},
	"sync":          {flag: unix.MS_SYNCHRONOUS},
}

var propagation = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// parsed is a Mount's options sorted into mount(2) flags, attributes for fsmount, propagation
// changes and the filesystem's own options.
type parsed struct {
	flags uintptr
	attrs uint64
	prop  []uintptr
	data  []string
	// uidmap and gidmap are the values of the uidmap= and gidmap= options (see IDMapOptions).
	uidmap, gidmap string
}

func parse(options []string) parsed {
	var p parsed
	for _, o := range options {
		if f, ok := flags[o]; ok {
			if f.clear {
				p.flags &^= f.flag
				p.attrs &^= attrFor(f.flag)
			} else {
				p.flags |= f.flag
				p.attrs |= f.attr
			}
			continue
		}
		if pr, ok := propagation[o]; ok {
			p.prop = append(p.prop, pr)
			continue
		}
		if v, ok := strings.CutPrefix(o, "uidmap="); ok {
			p.uidmap = v
			continue
		}
		if v, ok := strings.CutPrefix(o, "gidmap="); ok {
			p.gidmap = v
			continue
		}
		p.data = append(p.data, o)
	}
	return p
}

// attrFor maps a cleared mount(2) flag to the attribute it cancels.
func attrFor(f uintptr) uint64 {
	switch f {
	case unix.MS_RDONLY:
		return unix.MOUNT_ATTR_RDONLY
	case unix.MS_NOSUID:
		return unix.MOUNT_ATTR_NOSUID
	case unix.MS_NODEV:
		return unix.MOUNT_ATTR_NODEV
	case unix.MS_NOEXEC:
		return unix.MOUNT_ATTR_NOEXEC
	case unix.MS_NOATIME:
		return unix.MOUNT_ATTR_NOATIME
	case unix.MS_NODIRATIME:
		return unix.MOUNT_ATTR_NODIRATIME
	case unix.MS_STRICTATIME:
		return unix.MOUNT_ATTR_STRICTATIME
	}
	return 0
}

// Mount mounts m at target, which must exist.
//
// A bind ("bind" or "rbind", as type or option) is a bind mount, remounted afterwards when flags
// such as "ro" must apply to it, since the kernel ignores them on the bind itself. An overlay goes
// through the new mount API, one fsconfig call per lower layer, so that up to the kernel's 500
// layers fit whatever the length of their paths; on kernels without that API (or without
// "lowerdir+", before Linux 6.8) it falls back to mount(2) when the options fit in one page.
// Anything else is a plain mount(2). With uidmap= and gidmap= options, a bind or the lower layers
// of an overlay are idmapped first: see IDMapOptions.
func (m Mount) Mount(target string) error {
	p := parse(m.Options)
	if p.uidmap != "" || p.gidmap != "" {
		return m.mountIDMapped(target, p)
	}
	return m.mount(target, p)
}

func (m Mount) mount(target string, p parsed) error {
	if bind, _ := isBind(m); bind {
		return m.mountBind(target, p)
	}
	if m.Type == "overlay" {
		err := m.mountOverlay(target, p)
		if !errors.Is(err, errNoNewAPI) {
			return err
		}
		data := strings.Join(p.data, ",")
		if len(data) >= os.Getpagesize() {
			return errorf("mount overlay on", target, fmt.Errorf(
				"options are %d bytes, over mount(2)'s limit of one page (%d bytes), and this kernel lacks the new mount API with lowerdir+ (Linux 6.8): %w",
				len(data), os.Getpagesize(), err))
		}
	}
	return m.mountLegacy(target, p)
}

func (m Mount) mountLegacy(target string, p parsed) error {
	data := strings.Join(p.data, ",")
	if err := unix.Mount(m.Source, target, m.Type, p.flags, data); err != nil {
		return errorf("mount "+m.Type+" "+m.Source+" on", target, err)
	}
	return setPropagation(target, p.prop)
}

func (m Mount) mountBind(target string, p parsed) error {
	bindFlags := p.flags & (unix.MS_BIND | unix.MS_REC)
	if err := unix.Mount(m.Source, target, "", bindFlags, ""); err != nil {
		return errorf("bind "+m.Source+" on", target, err)
	}
	// The kernel ignores every flag but MS_REC on a new bind: read-only and friends take a
	// remount. Without MS_REC here, submounts of an rbind stay writable; mount_setattr with
	// AT_RECURSIVE would reach them, but containerd's semantics, which we follow, are the same.
	if rest := p.flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT); rest != 0 {
		if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|rest, ""); err != nil {
			err = errorf("remount "+target+" with flags of", m.Source, err)
			if uerr := unix.Unmount(target, unix.MNT_DETACH); uerr != nil {
				err = errors.Join(err, uerr)
			}
			return err
		}
	}
	return setPropagation(target, p.prop)
}

func setPropagation(target string, prop []uintptr) error {
	for _, pr := range prop {
		if err := unix.Mount("", target, "", pr, ""); err != nil {
			return errorf("set propagation of", target, err)
		}
	}
	return nil
}

// errNoNewAPI says the kernel cannot mount an overlay through fsopen and lowerdir+.
var errNoNewAPI = errors.New("new mount API unavailable")

// forceLegacy makes mountOverlay act as on a kernel without the new mount API, for tests.
var forceLegacy = false

func (m Mount) mountOverlay(target string, p parsed) error {
	if forceLegacy {
		return fmt.Errorf("%w: disabled for a test", errNoNewAPI)
	}
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
			return fmt.Errorf("%w: fsopen: %w", errNoNewAPI, err)
		}
		return errorf("mount overlay on", target, fmt.Errorf("fsopen: %w", err))
	}
	// Both descriptors pin the new superblock and mount: left open, umount of target says EBUSY.
	defer unix.Close(fsfd)

	config := func(key, value string, isFlag bool) error {
		var err error
		if isFlag {
			err = unix.FsconfigSetFlag(fsfd, key)
		} else {
			err = unix.FsconfigSetString(fsfd, key, value)
		}
		if err != nil {
			return fmt.Errorf("fsconfig %s=%q: %w%s", key, value, err, kernelLog(fsfd))
		}
		return nil
	}
	for _, o := range p.data {
		key, value, hasValue := strings.Cut(o, "=")
		if key == "lowerdir" {
			lower, data := splitLowerdir(value)
			for i, l := range lower {
				if err := config("lowerdir+", l, false); err != nil {
					if i == 0 && errors.Is(err, unix.EINVAL) && strings.Contains(err.Error(), "nknown parameter") {
						// Kernels before 6.8 know no "lowerdir+".
						return fmt.Errorf("%w: %w", errNoNewAPI, err)
					}
					return errorf("mount overlay on", target, err)
				}
			}
			for _, d := range data {
				if err := config("datadir+", d, false); err != nil {
					return errorf("mount overlay on", target, err)
				}
			}
			continue
		}
		if err := config(key, value, !hasValue); err != nil {
			return errorf("mount overlay on", target, err)
		}
	}
	if p.flags&unix.MS_RDONLY != 0 {
		if err := config("ro", "", true); err != nil {
			return errorf("mount overlay on", target, err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return errorf("mount overlay on", target, fmt.Errorf("fsconfig create: %w%s", err, kernelLog(fsfd)))
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, int(p.attrs))
	if err != nil {
		return errorf("mount overlay on", target, fmt.Errorf("fsmount: %w%s", err, kernelLog(fsfd)))
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return errorf("mount overlay on", target, fmt.Errorf("move_mount: %w", err))
	}
	return setPropagation(target, p.prop)
}

// kernelLog reads what the filesystem said about a failed fsconfig from the fs context, which is
// where the reason lives ("overlayfs: failed to resolve ...").
func kernelLog(fsfd int) string {
	var b strings.Builder
	buf := make([]byte, 4096)
	for i := 0; i < 16; i++ {
		n, err := unix.Read(fsfd, buf)
		if err != nil || n <= 0 {
			break
		}
		b.WriteString("; ")
		b.WriteString(strings.TrimSpace(string(buf[:n])))
	}
	return b.String()
}

// Unmount takes down every mount stacked at target until target is no longer a mount point. A
// target that is not mounted or does not exist is not an error. A mount that stays busy after
// about a second is detached lazily: the kernel frees it when its last user goes.
func Unmount(target string) error {
	const busyTries = 50
	busy := 0
	for {
		mounted, err := mountinfo.Mounted(target)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return errorf("unmount", target, err)
		}
		if !mounted {
			return nil
		}
		err = unix.Unmount(target, 0)
		switch {
		case err == nil, errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EBUSY) && busy < busyTries:
			busy++
			time.Sleep(20 * time.Millisecond)
		case errors.Is(err, unix.EBUSY):
			if err := unix.Unmount(target, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				return errorf("unmount", target, err)
			}
		default:
			return errorf("unmount", target, err)
		}
	}
}
