package runlint

import (
	"strings"
	"testing"
)

func TestRunWarnings(t *testing.T) {
	for _, tc := range []struct {
		c    RunConfig
		want []string
	}{
		{RunConfig{}, nil},
		{RunConfig{Binds: []Bind{{Source: "/srv/data", Target: "/data"}, {Source: "/etc/hosts.d", Target: "/x"}}}, nil},
		{RunConfig{Privileged: true}, []string{"--privileged"}},
		{RunConfig{Binds: []Bind{{Source: "/var/run/docker.sock", Target: "/var/run/docker.sock", ReadOnly: true}}}, []string{"engine socket /var/run/docker.sock", "read-only does not help"}},
		{RunConfig{Binds: []Bind{{Source: "/run/hako.sock", Target: "/s"}}}, []string{"engine socket /run/hako.sock"}},
		{RunConfig{Binds: []Bind{{Source: "/", Target: "/host"}}}, []string{"host's / exposes"}},
		{RunConfig{Binds: []Bind{{Source: "/etc/", Target: "/host"}}}, []string{"host's /etc exposes"}},
		{RunConfig{Binds: []Bind{{Source: "/proc", Target: "/host"}}}, []string{"host's /proc"}},
		{RunConfig{Binds: []Bind{{Source: "/var/run", Target: "/host"}}}, []string{"/var/run"}},
		{RunConfig{Binds: []Bind{{Source: "/var/lib", Target: "/host"}}, StoreRoot: "/var/lib/hako"}, []string{"hako's store"}},
	} {
		got := strings.Join(RunWarnings(tc.c), "\n")
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
