package spec

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hako-dev/hako/internal/errdefs"
)

func rootfsWithUsers(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(
		"root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte(
		"root:x:0:\nbob:x:1000:\nstaff:x:50:bob\nwheel:x:10:root,bob\n"), 0o644)
	return root
}

func TestResolveUser(t *testing.T) {
	root := rootfsWithUsers(t)
	tests := []struct {
		spec      string
		uid, gid  uint32
		sgids     []uint32
		wantError string
	}{
		{spec: "", uid: 0, gid: 0, sgids: []uint32{0, 10}},
		{spec: "bob", uid: 1000, gid: 1000, sgids: []uint32{1000, 50, 10}},
		{spec: "1000", uid: 1000, gid: 1000, sgids: []uint32{1000, 50, 10}},
		{spec: "bob:staff", uid: 1000, gid: 50, sgids: []uint32{50}},
		{spec: "2000:3000", uid: 2000, gid: 3000, sgids: []uint32{3000}},
		{spec: "2000", uid: 2000, gid: 0, sgids: []uint32{0}},
		{spec: "alice", wantError: "unable to find user alice: no matching entries in passwd file"},
		{spec: "bob:nogroup", wantError: "unable to find group nogroup: no matching entries in group file"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			u, err := ResolveUser(root, tt.spec)
			if tt.wantError != "" {
				if err == nil || err.Error() != tt.wantError || !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want %q (InvalidArgument)", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.UID != tt.uid || u.GID != tt.gid || !slices.Equal(u.AdditionalGids, tt.sgids) {
				t.Errorf("got %+v, want %d:%d %v", u, tt.uid, tt.gid, tt.sgids)
			}
		})
	}
}

// An image whose /etc/passwd is a symlink to a host file must not read the host's file: the
// link resolves inside the rootfs.
func TestResolveUserSymlinkStaysInRoot(t *testing.T) {
	host := t.TempDir()
	hostPasswd := filepath.Join(host, "passwd")
	os.WriteFile(hostPasswd, []byte("hostonly:x:4242:4242::/:/bin/sh\n"), 0o644)

	for _, target := range []string{hostPasswd, "../../../../../../../../" + hostPasswd} {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "etc"), 0o755)
		if err := os.Symlink(target, filepath.Join(root, "etc/passwd")); err != nil {
			t.Fatal(err)
		}
		_, err := ResolveUser(root, "hostonly")
		if err == nil {
			t.Fatalf("symlink %s: host passwd was read", target)
		}
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("err = %v", err)
		}
		// The same path inside the rootfs is what the link means to the container.
		inside := filepath.Join(root, hostPasswd)
		os.MkdirAll(filepath.Dir(inside), 0o755)
		os.WriteFile(inside, []byte("img:x:77:77::/:/bin/sh\n"), 0o644)
		u, err := ResolveUser(root, "img")
		if err != nil || u.UID != 77 {
			t.Errorf("in-root target: %+v %v", u, err)
		}
	}
}

func TestResolveUserNotRegular(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/passwd"), 0o755) // a directory
	if _, err := ResolveUser(root, "0:0"); err != nil {
		t.Errorf("numeric user with odd passwd: %v", err)
	}
	if _, err := ResolveUser(root, "bob"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("err = %v", err)
	}
}
