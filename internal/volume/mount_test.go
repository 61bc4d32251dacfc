package volume

import (
	"errors"
	"testing"

	"github.com/hako-dev/hako/internal/errdefs"
)

func TestParseVolumeFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Mount
		err  bool
	}{
		{in: "/data", want: Mount{Type: TypeVolume, Target: "/data", Anonymous: true}},
		{in: "vol:/data", want: Mount{Type: TypeVolume, Source: "vol", Target: "/data"}},
		{in: "vol:/data/:ro,nocopy", want: Mount{Type: TypeVolume, Source: "vol", Target: "/data", ReadOnly: true, NoCopy: true}},
		{in: "/host/x/../y:/data:rw,rslave", want: Mount{Type: TypeBind, Source: "/host/y", Target: "/data", Propagation: "rslave"}},
		{in: "/h:/data:idmap,ro", want: Mount{Type: TypeBind, Source: "/h", Target: "/data", ReadOnly: true, IDMap: true}},
		{in: "/data:ro", err: true},
		{in: "a/b:/data", err: true},
		{in: "..:/data", err: true},
		{in: "./x:/data", err: true},
		{in: "vol:data", err: true},
		{in: "vol:/", err: true},
		{in: "vol:/data:rx", err: true},
		{in: "/h:/data:nocopy", err: true},
		{in: "a:b:c:d", err: true},
		{in: ":/data", err: true},
	} {
		got, err := ParseVolumeFlag(tc.in)
		if tc.err {
			if err == nil || !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("%q: want an invalid-argument error, got %+v, %v", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseMountFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Mount
		err  bool
	}{
		{in: "target=/data", want: Mount{Type: TypeVolume, Target: "/data", Anonymous: true}},
		{in: "type=volume,src=v1,dst=/data,readonly,volume-nocopy", want: Mount{Type: TypeVolume, Source: "v1", Target: "/data", ReadOnly: true, NoCopy: true}},
		{in: "type=bind,source=/h,target=/data,ro=false,bind-propagation=shared", want: Mount{Type: TypeBind, Source: "/h", Target: "/data", Propagation: "shared"}},
		{in: "type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770", want: Mount{Type: TypeTmpfs, Target: "/t", TmpfsSize: 1 << 20, TmpfsMode: 0o1770}},
		{in: "type=bind,src=/h,dst=/data,idmap", want: Mount{Type: TypeBind, Source: "/h", Target: "/data", IDMap: true}},
		{in: "type=bind,target=/data", err: true},
		{in: "type=tmpfs,target=/t,idmap", err: true},
		{in: "type=bind,source=rel,target=/data", err: true},
		{in: "type=tmpfs,source=x,target=/t", err: true},
		{in: "type=volume,target=/t,tmpfs-size=1m", err: true},
		{in: "type=volume,source=../x,target=/t", err: true},
		{in: "type=nfs,target=/t", err: true},
		{in: "type=volume,source=v", err: true},
		{in: "type=volume,target=/t,bogus=1", err: true},
		{in: "type=volume,target=/t,readonly=maybe", err: true},
	} {
		got, err := ParseMountFlag(tc.in)
		if tc.err {
			if err == nil || !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("%q: want an invalid-argument error, got %+v, %v", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestStore(t *testing.T) {
	s := &Store{Root: t.TempDir()}
	v, created, err := s.Create("data", map[string]string{"a": "b"})
	if err != nil || !created || v.Name != "data" || v.Labels["a"] != "b" || v.Mountpoint != s.Path("data") {
		t.Fatalf("create: %+v %v %v", v, created, err)
	}
	if _, created, err := s.Create("data", nil); err != nil || created {
		t.Fatalf("create again: %v %v", created, err)
	}
	anon, _, err := s.Create("", map[string]string{AnonymousLabel: ""})
	if err != nil || len(anon.Name) != 64 || !anon.Anonymous() {
		t.Fatalf("anonymous: %+v %v", anon, err)
	}
	for _, bad := range []string{"a/b", "..", ".", "x", "../x", "-x"} {
		if _, _, err := s.Create(bad, nil); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("create %q: %v", bad, err)
		}
		if err := s.Remove(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("remove %q: %v", bad, err)
		}
	}
	if l, _ := s.List(); len(l) != 2 {
		t.Fatalf("list: %v", l)
	}
	if err := s.Remove("nosuch"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("remove missing: %v", err)
	}
	if err := s.Remove("data"); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.List(); len(l) != 1 || l[0].Name != anon.Name {
		t.Fatalf("list after rm: %v", l)
	}
}
