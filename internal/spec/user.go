package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"

	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hako-dev/hako/internal/errdefs"
)

// maxUserDBSize caps what ResolveUser reads of /etc/passwd or /etc/group: an image controls those
// files and must not make hako read gigabytes.
const maxUserDBSize = 16 << 20

// ResolveUser resolves a USER value (name, uid, name:group, uid:gid, or "" for root) against the
// rootfs' own /etc/passwd and /etc/group, with the user's supplementary groups, as Docker does.
//
// Both files are opened inside rootfs: symlinks are resolved as if rootfs were "/", so an image
// whose /etc/passwd links to a host path reads the file of that name inside the image, never the
// host's. A file that is missing or not a regular file counts as empty. A name that is not found
// is an errdefs.ErrInvalidArgument error in Docker's words: "unable to find user NAME: no
// matching entries in passwd file".
func ResolveUser(rootfs, userSpec string) (specs.User, error) {
	passwd, err := readInRoot(rootfs, "/etc/passwd")
	if err != nil {
		return specs.User{}, err
	}
	group, err := readInRoot(rootfs, "/etc/group")
	if err != nil {
		return specs.User{}, err
	}
	return resolveUser(userSpec, passwd, group)
}

// resolveUser resolves userSpec against the contents of passwd and group; nil means the file is
// missing.
func resolveUser(userSpec string, passwd, group []byte) (specs.User, error) {
	var passwdR, groupR io.Reader // GetExecUser wants untyped nils for missing files
	if passwd != nil {
		passwdR = bytes.NewReader(passwd)
	}
	if group != nil {
		groupR = bytes.NewReader(group)
	}
	defaults := &user.ExecUser{Uid: 0, Gid: 0, Home: "/"}
	u, err := user.GetExecUser(userSpec, defaults, passwdR, groupR)
	if err != nil {
		return specs.User{}, errdefs.InvalidArgument(err)
	}
	// The primary group is also a supplementary one, as Docker does since the fix for
	// GHSA-hmfx-3pcx-653p: otherwise the process could drop it with setgroups and get past a
	// file that denies that group.
	out := specs.User{UID: uint32(u.Uid), GID: uint32(u.Gid), AdditionalGids: []uint32{uint32(u.Gid)}}
	for _, g := range u.Sgids {
		if !slices.Contains(out.AdditionalGids, uint32(g)) {
			out.AdditionalGids = append(out.AdditionalGids, uint32(g))
		}
	}
	return out, nil
}

// readInRoot reads the regular file at name inside rootfs, or returns nil if it does not exist
// or is not a regular file (a FIFO there would block us, a device could be endless).
func readInRoot(rootfs, name string) ([]byte, error) {
	f, err := openInRoot(rootfs, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("resolve user: open %s in %s: %w", name, rootfs, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUserDBSize+1))
	if err != nil {
		return nil, fmt.Errorf("resolve user: read %s in %s: %w", name, rootfs, err)
	}
	if len(data) > maxUserDBSize {
		return nil, errdefs.Invalidf("resolve user: %s in %s is larger than %d bytes", name, rootfs, maxUserDBSize)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

var errNotRegular = fmt.Errorf("not a regular file: %w", fs.ErrNotExist)

func checkRegular(fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return errNotRegular
	}
	return nil
}
