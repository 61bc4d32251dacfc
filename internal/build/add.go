package build

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/hako-dev/hako/internal/archive"
	"github.com/hako-dev/hako/internal/errdefs"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/sys/user"
)

// addStep prepares an ADD: COPY from the context, except that a local tar archive (plain or
// compressed) is extracted into the destination. URLs and git sources need a network that
// hako builds do not have, and are refused when the step runs.
func (s *Stage) addStep(st *Step, x *instructions.AddCommand) error {
	spec, err := s.copySpec("ADD", x.SourcesAndDest, x.Chown, x.Chmod)
	if err != nil {
		return err
	}
	var local []string
	for _, p := range spec.Sources {
		r, ok, err := parseRemote(p)
		if err != nil {
			return err
		}
		if ok {
			spec.Remote = append(spec.Remote, r)
		} else {
			local = append(local, p)
		}
	}
	spec.Sources = local
	spec.Link = x.Link
	if err := spec.setExcludes(x.ExcludePatterns); err != nil {
		return err
	}
	spec.Unpack = true
	if x.Unpack != nil {
		spec.Unpack, spec.UnpackURL = *x.Unpack, *x.Unpack
	}
	if x.KeepGitDir != nil {
		spec.KeepGitDir = *x.KeepGitDir
	}
	if err := spec.setChecksum(x.Checksum); err != nil {
		return err
	}
	return s.finishCopy(st, spec)
}

// setChecksum checks ADD --checksum: BuildKit's rule is one remote source; a URL takes
// "sha256:HEX", a git source a commit hash (or a prefix of at least 7 digits).
func (c *CopySpec) setChecksum(sum string) error {
	if sum == "" {
		return nil
	}
	if len(c.Remote) != 1 || len(c.Sources)+len(c.Contents) > 0 {
		return errdefs.Invalidf("ADD --checksum=%s: checksum can only be given for one URL or git source", sum)
	}
	if c.Remote[0].Git != nil {
		if !isCommitish(strings.TrimPrefix(sum, "sha1:")) {
			return errdefs.Invalidf("ADD --checksum=%s: a git source takes a commit hash", sum)
		}
	} else if d, ok := strings.CutPrefix(sum, "sha256:"); !ok || len(d) != 64 || !isHex(d) {
		return errdefs.Invalidf("ADD --checksum=%s: expected sha256:<64 hex digits>", sum)
	}
	c.Checksum = strings.ToLower(sum)
	return nil
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// unpackArchive extracts the file at host into dest (a directory in root) when it is a tar
// archive, plain or compressed; ok is false when it is not one, and it is then copied as a file.
func unpackArchive(ctx context.Context, host, root, dest string, opts CopyOptions) (ok bool, err error) {
	f, err := os.Open(host)
	if err != nil {
		return false, err
	}
	defer f.Close()
	rc, _, err := archive.DecompressStream(bufio.NewReader(f))
	if err != nil {
		return false, nil
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 1024)
	head, _ := br.Peek(512)
	if !isTarHeader(head) {
		return false, nil
	}
	w := &copier{root: root, opts: opts}
	dir, err := w.mkdirAll(dest)
	if err != nil {
		return false, err
	}
	if _, err := archive.Apply(ctx, dir, br, archive.ApplyOptions{Whiteouts: archive.OCIWhiteouts, Name: host}); err != nil {
		return false, err
	}
	return true, nil
}

// isTarHeader checks a tar header block's checksum, as Docker's archive detection does.
func isTarHeader(b []byte) bool {
	if len(b) < 512 {
		return false
	}
	if bytes.Equal(b[257:262], []byte("ustar")) {
		return true
	}
	// Old (v7) tars have no magic: check the header checksum.
	sum, err := strconv.ParseUint(strings.TrimRight(strings.TrimSpace(string(b[148:156])), "\x00"), 8, 32)
	if err != nil {
		return false
	}
	var u uint64
	for i, c := range b[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		u += uint64(c)
	}
	return u == sum
}

// ResolveChown reads a --chown value, "user[:group]" by name or number; names are looked up in
// the /etc/passwd and /etc/group of root (the step's filesystem), resolved inside it. As in
// Docker, a user without a group takes the user's uid as gid.
func ResolveChown(root, spec string) (*Owner, error) {
	if spec == "" {
		return nil, nil
	}
	u, g, hasGroup := strings.Cut(spec, ":")
	uid, err := lookupID(root, "/etc/passwd", u, func(r io.Reader, name string) (int, bool, error) {
		users, err := user.ParsePasswdFilter(r, func(x user.User) bool { return x.Name == name })
		if err != nil || len(users) == 0 {
			return 0, false, err
		}
		return users[0].Uid, true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("--chown=%s: %w", spec, err)
	}
	gid := uid
	if hasGroup {
		gid, err = lookupID(root, "/etc/group", g, func(r io.Reader, name string) (int, bool, error) {
			groups, err := user.ParseGroupFilter(r, func(x user.Group) bool { return x.Name == name })
			if err != nil || len(groups) == 0 {
				return 0, false, err
			}
			return groups[0].Gid, true, nil
		})
		if err != nil {
			return nil, fmt.Errorf("--chown=%s: %w", spec, err)
		}
	}
	return &Owner{UID: uid, GID: gid}, nil
}

func lookupID(root, file, name string, find func(io.Reader, string) (int, bool, error)) (int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		if n < 0 {
			return 0, errdefs.Invalidf("negative id %d", n)
		}
		return n, nil
	}
	p, err := securejoin.SecureJoin(root, file)
	if err != nil {
		return 0, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, errdefs.NotFoundf("unable to find %q: no %s in the image", name, file)
	} else if err != nil {
		return 0, err
	}
	defer f.Close()
	id, ok, err := find(f, name)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, errdefs.NotFoundf("unable to find %q in %s", name, file)
	}
	return id, nil
}
