package builder

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hako-dev/hako/internal/errdefs"
	"golang.org/x/sys/unix"
)

// SourceDateEpochArg is the build arg (BuildKit's, and the reproducible-builds.org variable)
// that makes a build reproducible: every time the build writes (the config's and history's
// created, the mtimes of layer entries newer than it) is clamped to it, so two builds of one
// context without the cache give the same image digest. The CLI passes the environment's
// SOURCE_DATE_EPOCH as this build arg when --build-arg does not set it, as buildx does.
const SourceDateEpochArg = "SOURCE_DATE_EPOCH"

// sourceDateEpoch reads the build arg: nil when unset or empty.
func sourceDateEpoch(args map[string]string) (*time.Time, error) {
	v, ok := args[SourceDateEpochArg]
	if !ok || v == "" {
		return nil, nil
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil || sec < 0 {
		return nil, errdefs.Invalidf("invalid %s %q: seconds since 1970-01-01 UTC", SourceDateEpochArg, v)
	}
	t := time.Unix(sec, 0).UTC()
	return &t, nil
}

// now is the time a step's image records: the epoch, when the build has one.
func (b *job) now() time.Time {
	if b.epoch != nil {
		return *b.epoch
	}
	return time.Now().UTC()
}

// keyPlatform is the platform part of the cache keys; with an epoch, the epoch too, since it
// is written into every step's config.
func (b *job) keyPlatform() string {
	if b.epoch != nil {
		return fmt.Sprintf("%s sde=%d", b.platform, b.epoch.Unix())
	}
	return b.platform
}

// clampTimes sets the mtime (and atime) of every entry under dir that is newer than epoch to
// epoch, without following symlinks. The layer tar clamps its own times; this makes the
// committed snapshot, which containers of the image run on, say the same.
func clampTimes(dir string, epoch time.Time) error {
	ts := unix.NsecToTimespec(epoch.UnixNano())
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if !fi.ModTime().After(epoch) {
			return nil
		}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	})
}
