package container

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MakeSpare makes one spare record directory with what every run makes in it, List never shows
// it, TakeSpare moves it to a new ID once, and Sweep deletes a half-made one that a kill left.
func TestSpare(t *testing.T) {
	s := &Store{Root: t.TempDir()}
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	if s.TakeSpare(id) {
		t.Fatal("a spare taken before any was made")
	}
	s.MakeSpare()
	s.MakeSpare() // one is enough
	ents, _ := os.ReadDir(s.Root)
	if len(ents) != 1 || ents[0].Name() != spareName {
		t.Fatalf("after MakeSpare: %v", ents)
	}
	if l, err := s.List(); err != nil || len(l) != 0 {
		t.Fatalf("List shows the spare: %v %v", l, err)
	}
	if !s.TakeSpare(id) {
		t.Fatal("the spare not taken")
	}
	if s.TakeSpare(id[:63] + "0") {
		t.Error("one spare taken twice")
	}
	var got []string
	for _, name := range []string{".", "rootfs", "etc", "bundle", "lock", "monitor.lock"} {
		fi, err := os.Stat(filepath.Join(s.Dir(id), name))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, name+" "+fi.Mode().String())
	}
	// What the engine makes without a spare, under this process's umask as the spare.
	ref := t.TempDir()
	var want []string
	for _, m := range []struct {
		name, path string
		mode       os.FileMode
	}{{".", "d", 0o700}, {"rootfs", "rootfs", 0o755}, {"etc", "etc", 0o755}, {"bundle", "bundle", 0o700}} {
		if err := os.Mkdir(filepath.Join(ref, m.path), m.mode); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(filepath.Join(ref, m.path))
		want = append(want, m.name+" "+fi.Mode().String())
	}
	want = append(want, "lock -rw-------", "monitor.lock -rw-------")
	if !slices.Equal(got, want) {
		t.Errorf("the spare: %v, want %v", got, want)
	}
	// A record saved into it.
	if err := s.SaveEncoded(id, []byte(`{"ID":"`+id+`"}`)); err != nil {
		t.Fatal(err)
	}
	// What a kill while making a spare leaves: deleted by the sweep once it is old.
	sweptOnceOld(t, s, spareTmpPrefix+"123", "rootfs")
}

// sweptOnceOld checks that Sweep keeps the directory name (with sub in it), as a kill would
// leave it in the middle of its work, while it is fresh, and deletes it once a minute old.
func sweptOnceOld(t *testing.T, s *Store, name, sub string) {
	t.Helper()
	dir := filepath.Join(s.Root, name)
	if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
		t.Fatal(err)
	}
	s.Sweep(nil)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("%s was swept while fresh: %v", name, err)
	}
	old := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(dir, old, old); err != nil {
		t.Fatal(err)
	}
	s.Sweep(nil)
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s, a minute old, stays: %v", name, err)
	}
}

// A detached record's directory becomes the spare where there is none (emptied of its files,
// its directories with the spare's modes), and is deleted where there is one or where it is not
// as the engine leaves it.
func TestReclaimMakesSpare(t *testing.T) {
	s := &Store{Root: t.TempDir()}
	record := func(id string, extra func(dir string)) func() {
		t.Helper()
		dir := s.Dir(id)
		for _, d := range []string{"rootfs", "etc", "bundle"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o777); err != nil { // not the spare's modes
				t.Fatal(err)
			}
		}
		for _, f := range []string{"container.json", id + "-json.log", "lock", "monitor.lock", "etc/hosts", "etc/hostname", "etc/resolv.conf", "bundle/config.json"} {
			if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if extra != nil {
			extra(dir)
		}
		reclaim, err := s.Detach(id)
		if err != nil {
			t.Fatal(err)
		}
		return reclaim
	}
	id := func(c byte) string { return string(slices.Repeat([]byte{c}, 64)) }
	spare := filepath.Join(s.Root, spareName)
	entries := func(dir string) (names []string) {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && p != dir {
				fi, _ := d.Info()
				rel, _ := filepath.Rel(dir, p)
				names = append(names, rel+" "+fi.Mode().String())
			}
			return nil
		})
		return names
	}
	record(id('a'), nil)()
	want := []string{"bundle drwx------", "etc drwxr-xr-x", "rootfs drwxr-xr-x"}
	if got := entries(spare); !slices.Equal(got, want) {
		t.Fatalf("the reclaimed spare holds %v, want %v", got, want)
	}
	if fi, err := os.Stat(spare); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("the spare: %v %v", fi, err)
	}
	// One spare: the next reclaimed record goes, as do records that are not as the engine
	// leaves them (a root filesystem with files, as when it is still mounted; a directory of
	// another name).
	record(id('b'), nil)()
	if got := entries(spare); !slices.Equal(got, want) {
		t.Fatalf("the spare after a second reclaim holds %v", got)
	}
	os.RemoveAll(spare)
	record(id('c'), func(dir string) { os.WriteFile(filepath.Join(dir, "rootfs", "bin"), nil, 0o644) })()
	record(id('d'), func(dir string) { os.Mkdir(filepath.Join(dir, "volumes"), 0o700) })()
	if ents, _ := os.ReadDir(s.Root); len(ents) != 0 {
		t.Fatalf("left in the store: %v", ents)
	}
	// A root filesystem still mounted, even an empty one, is not kept (as root only).
	if os.Geteuid() == 0 {
		t.Cleanup(func() { // wherever the mount went, even if the test failed
			b, _ := os.ReadFile("/proc/self/mountinfo")
			for _, l := range strings.Split(string(b), "\n") {
				if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], s.Root+"/") {
					syscall.Unmount(f[4], syscall.MNT_DETACH)
				}
			}
		})
		var mounted string
		reclaim := record(id('g'), func(dir string) {
			if err := syscall.Mount("tmpfs", filepath.Join(dir, "rootfs"), "tmpfs", 0, ""); err == nil {
				mounted = filepath.Join(dir, "rootfs")
			}
		})
		if mounted != "" {
			reclaim()
			if _, err := os.Stat(spare); !errors.Is(err, fs.ErrNotExist) {
				t.Error("a record whose root filesystem is a mountpoint became the spare")
			}
			ms, _ := filepath.Glob(filepath.Join(s.Root, claimPrefix+"*", "rootfs"))
			for _, m := range ms {
				syscall.Unmount(m, syscall.MNT_DETACH)
			}
			ents, _ := os.ReadDir(s.Root)
			for _, e := range ents {
				os.RemoveAll(filepath.Join(s.Root, e.Name()))
			}
		}
	}
	// A detached record that another process claimed first (Sweep here) is left to it: no
	// spare, nothing left.
	reclaim := record(id('h'), nil)
	s.Sweep(nil)
	reclaim()
	if ents, _ := os.ReadDir(s.Root); len(ents) != 0 {
		t.Fatalf("after a sweep and the reclaim of one record: %v", ents)
	}
	// A claimed directory that a kill left goes with the sweep once a minute old.
	sweptOnceOld(t, s, claimPrefix+"0123", "etc")
	// A reclaimed spare is taken as a made one is.
	record(id('e'), nil)()
	if !s.TakeSpare(id('f')) {
		t.Fatal("the reclaimed spare not taken")
	}
	if err := s.SaveEncoded(id('f'), []byte(`{"ID":"`+id('f')+`"}`)); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Get(id('f')); err != nil || c.ID != id('f') {
		t.Fatalf("the record saved into the reclaimed spare: %v %v", c, err)
	}
}
