package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hako-dev/hako/internal/image"
)

func TestRunMounts(t *testing.T) {
	src := `FROM busybox AS deps
FROM busybox
ARG CACHE=gocache
WORKDIR /w
RUN --mount=type=cache,id=$CACHE,target=.cache,sharing=locked,mode=0700,uid=10,gid=20 --mount=type=bind,from=deps,source=../../x,target=/d,rw --mount=type=bind,target=/ctx --mount=type=tmpfs,target=/t,size=1m --mount=type=secret,id=tok --mount=type=secret,id=key,env=KEY --mount=type=secret,target=/etc/npmrc,required --mount=type=ssh --mount=type=ssh,id=gh,target=/gh.sock,required true
`
	p := plan(t, src, PlanOptions{})
	if len(p.Stages) != 2 || p.Stages[1].Deps[0] != p.Stages[0] {
		t.Fatalf("RUN --mount=from= does not make the stage a dependency: %+v", p.Stages)
	}
	run := steps(t, p)["stage-1"][2].Run
	want := []string{
		"type=cache,target=/w/.cache,source=/,rw=true,id=gocache,sharing=locked,mode=0700,uid=10,gid=20",
		"type=bind,target=/d,from=deps,source=/x,rw=true",
		"type=bind,target=/ctx,source=/,rw=false",
		"type=tmpfs,target=/t,size=1048576",
		"type=secret,target=/run/secrets/tok,id=tok",
		"type=secret,id=key,env=KEY",
		"type=secret,target=/etc/npmrc,id=npmrc,required",
		"type=ssh,target=/run/buildkit/ssh_agent.0,id=default",
		"type=ssh,target=/gh.sock,id=gh,required",
	}
	if len(run.Mounts) != len(want) {
		t.Fatalf("%d mounts: %+v", len(run.Mounts), run.Mounts)
	}
	for i, w := range want {
		if got := run.Mounts[i].String(); got != w {
			t.Errorf("mount %d: %s\nwant     %s", i, got, w)
		}
	}
	if run.Mounts[1].FromStage != p.Stages[0] {
		t.Error("from=deps is not the stage")
	}
	if !strings.Contains(strings.Join(run.Env, " "), "SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0") {
		t.Errorf("env %q", run.Env)
	}
}

func TestRunMountErrors(t *testing.T) {
	for _, c := range []struct{ mount, msg string }{
		{"type=cache,target=/", "invalid mount target"},
		{"type=bind,source=x", "a target is required"},
		{"type=tmpfs,target=/a --mount=type=cache,target=/a", "two mounts at /a"},
		{"type=$T,target=/t,size=1m", "size"},
	} {
		src := "FROM busybox\nARG T=bind\nRUN --mount=" + c.mount + " true\n"
		p := plan(t, src, PlanOptions{})
		s, err := p.NewStage(p.Stages[0], imageConfigWithPath(), false)
		if err != nil {
			t.Fatal(err)
		}
		s.Next()
		_, err = s.Next()
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("--mount=%s: %v, want %q", c.mount, err, c.msg)
		}
	}
}

// TestCacheKeyMounts: a RUN's key covers its mounts, and never a secret's value (a RunMount
// has none to give).
func TestCacheKeyMounts(t *testing.T) {
	key := func(src string) string {
		return steps(t, plan(t, src, PlanOptions{}))["stage-0"][0].CacheKey("sha256:p", "linux/amd64", "").String()
	}
	plain := key("FROM busybox\nRUN true\n")
	cache := key("FROM busybox\nRUN --mount=type=cache,target=/c true\n")
	cache2 := key("FROM busybox\nRUN --mount=type=cache,target=/c,sharing=private true\n")
	secret := key("FROM busybox\nRUN --mount=type=secret,id=a true\n")
	if plain == cache || cache == cache2 || secret == plain {
		t.Error("mount specs are not part of the key")
	}
	st := steps(t, plan(t, "FROM busybox\nRUN --mount=type=secret,id=a,env=A true\n", PlanOptions{}))["stage-0"][0]
	if strings.Contains(st.KeyText, "VALUE") || !strings.Contains(st.KeyText, "id=a") {
		t.Errorf("key text %s", st.KeyText)
	}
}

func TestParseSecret(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "tok")
	os.WriteFile(f, []byte("VALUE"), 0o600)
	env := map[string]string{"TOKEN": "from-env", "tok": "x"}
	look := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cases := []struct {
		in   string
		want Secret
		err  string
	}{
		{"id=a,src=" + f, Secret{ID: "a", File: f}, ""},
		{"id=a,source=" + f + ",type=file", Secret{ID: "a", File: f}, ""},
		{"id=a,env=TOKEN", Secret{ID: "a", Env: "TOKEN"}, ""},
		{"id=a,type=env,src=TOKEN", Secret{ID: "a", Env: "TOKEN"}, ""},
		{"id=TOKEN", Secret{ID: "TOKEN", Env: "TOKEN"}, ""},
		{"id=" + f, Secret{ID: f, File: f}, ""},
		{"src=" + f, Secret{}, "id is required"},
		{"id=a,src=" + dir + "/none", Secret{}, "no such file"},
		{"id=a,env=NOPE", Secret{}, "NOPE is not set"},
		{"id=a,src=" + f + ",env=TOKEN", Secret{}, "exclusive"},
		{"id=a,what=1", Secret{}, `"what"`},
		{"id=a,type=x", Secret{}, `type "x"`},
	}
	for _, c := range cases {
		got, err := ParseSecret(c.in, look)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %+v %v", c.in, got, err)
		}
	}
	s := Secrets{ByID: map[string]Secret{"f": {ID: "f", File: f}, "e": {ID: "e", Env: "TOKEN"}}, LookupEnv: look}
	if v, err := s.Value("f"); err != nil || string(v) != "VALUE" {
		t.Errorf("file secret %q %v", v, err)
	}
	if v, err := s.Value("e"); err != nil || string(v) != "from-env" {
		t.Errorf("env secret %q %v", v, err)
	}
	if _, err := s.Value("none"); err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("missing secret: %v", err)
	}
	os.WriteFile(f, make([]byte, MaxSecretSize+1), 0o600)
	if _, err := s.Value("f"); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("big secret: %v", err)
	}
}

func TestParseSSH(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	os.WriteFile(key, []byte("not a key"), 0o600)
	env := map[string]string{"SSH_AUTH_SOCK": key}
	look := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if s, err := ParseSSH("default", look); err != nil || s.ID != "default" || s.Paths[0] != key {
		t.Errorf("default: %+v %v", s, err)
	}
	if s, err := ParseSSH("gh="+key+","+key, look); err != nil || s.ID != "gh" || len(s.Paths) != 2 {
		t.Errorf("gh=: %+v %v", s, err)
	}
	if _, err := ParseSSH("default", func(string) (string, bool) { return "", false }); err == nil || !strings.Contains(err.Error(), "SSH_AUTH_SOCK") {
		t.Errorf("no agent: %v", err)
	}
	if _, err := ParseSSH("x="+dir+"/none", look); err == nil {
		t.Error("a missing path was accepted")
	}
	if _, err := NewSSHAgent(SSH{ID: "gh", Paths: []string{key}}); err == nil || !strings.Contains(err.Error(), key) {
		t.Errorf("bad key file: %v", err)
	}
}

func imageConfigWithPath() image.Config {
	var c image.Config
	c.Config.Env = []string{"PATH=/bin"}
	return c
}
