package runcheck

import (
	"strings"
	"testing"
)

func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want []string
	}{
		{Config{}, nil},
		{Config{Binds: []Bind{{Source: "/srv/data", Target: "/data"}, {Source: "/etc/hosts.d", Target: "/x"}}}, nil},
		{Config{Privileged: true}, []string{"--privileged"}},
		{Config{Binds: []Bind{{Source: "/var/run/docker.sock", Target: "/var/run/docker.sock", ReadOnly: true}}}, []string{"engine socket /var/run/docker.sock", "read-only does not help"}},
		{Config{Binds: []Bind{{Source: "/run/hako.sock", Target: "/s"}}}, []string{"engine socket /run/hako.sock"}},
		{Config{Binds: []Bind{{Source: "/", Target: "/host"}}}, []string{"host's / exposes"}},
		{Config{Binds: []Bind{{Source: "/etc/", Target: "/host"}}}, []string{"host's /etc exposes"}},
		{Config{Binds: []Bind{{Source: "/proc", Target: "/host"}}}, []string{"host's /proc"}},
		{Config{Binds: []Bind{{Source: "/var/run", Target: "/host"}}}, []string{"/var/run"}},
		{Config{Binds: []Bind{{Source: "/var/lib", Target: "/host"}}, StoreRoot: "/var/lib/hako"}, []string{"hako's store"}},
	} {
		got := strings.Join(Warnings(tc.c), "\n")
		if len(tc.want) == 0 && got != "" {
			t.Errorf("%+v: unexpected %q", tc.c, got)
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%+v: %q lacks %q", tc.c, got, w)
			}
		}
	}
}
