package runtime

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/specconv"

	"github.com/hako-dev/hako/internal/spec"
)

// The state file the C path writes (encodeState, then complete) is what encoding/json makes of
// libcontainer's State with the init's members set: the same members, each once, the same
// values.
func TestStateEncoding(t *testing.T) {
	s, err := spec.Generate(ocispec.ImageConfig{}, spec.Options{ID: "x", Rootfs: "/tmp/x", Cmd: []string{"true"}, Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	config, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{CgroupName: "x", Spec: s})
	if err != nil {
		t.Fatal(err)
	}
	st := &libcontainer.State{Rootless: true, CgroupPaths: map[string]string{"memory": "/sys/fs/cgroup/memory/x"}, IntelRdtPath: "/rdt"}
	st.ID = "x"
	st.Config = *config
	parts := encodeState(st)
	if parts.err != nil {
		t.Fatal(parts.err)
	}
	stdio := []string{"/dev/null", "pipe:[1]", "pipe:[2]"}
	js, err := parts.complete(4242, 987654, config, stdio)
	if err != nil {
		t.Fatal(err)
	}

	var got libcontainer.State
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatalf("%v: %s", err, js)
	}
	if got.InitProcessPid != 4242 || got.InitProcessStartTime != 987654 || got.Created.IsZero() ||
		!slices.Equal(got.ExternalDescriptors, stdio) || len(got.NamespacePaths) == 0 || got.ID != "x" || !got.Rootless {
		t.Errorf("decoded state: pid %d start %d created %v stdio %q ns %v id %q rootless %v",
			got.InitProcessPid, got.InitProcessStartTime, got.Created, got.ExternalDescriptors, got.NamespacePaths, got.ID, got.Rootless)
	}
	want := *st
	want.InitProcessPid, want.InitProcessStartTime, want.Created = 4242, 987654, got.Created
	want.NamespacePaths, want.ExternalDescriptors = parts.nsPaths, stdio
	wantJS, err := json.Marshal(&want)
	if err != nil {
		t.Fatal(err)
	}
	var a, b map[string]any
	if err := json.Unmarshal(js, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(wantJS, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("the state differs from encoding/json's:\n%s\n%s", js, wantJS)
	}
	// Each member once: a duplicate would decode, the last one winning.
	keys := topKeys(t, js)
	if len(slices.Compact(slices.Sorted(slices.Values(keys)))) != len(keys) {
		t.Errorf("a member more than once: %q", keys)
	}
	if wk := topKeys(t, wantJS); len(keys) != len(wk) {
		t.Errorf("members %q, encoding/json's %q", keys, wk)
	}
}

// topKeys lists the members of the JSON object js, in order.
func topKeys(t *testing.T, js []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(js))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v %v", tok, err)
	}
	var keys []string
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}
