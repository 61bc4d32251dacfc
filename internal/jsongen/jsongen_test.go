package jsongen_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/image"
	"github.com/hako-dev/hako/internal/jsoncodec"
	"github.com/hako-dev/hako/internal/jsongen"
	"github.com/hako-dev/hako/internal/ocijson"
	"github.com/hako-dev/hako/internal/runtime"
	"github.com/hako-dev/hako/internal/snapshot"
	"github.com/hako-dev/hako/internal/spec"
)

// Each generated file is what the generator makes of the types as they are now: a change of
// them, or an upgrade of runtime-spec, runc or cgroups that adds a member, fails here until
// `go run ./tools/jsongen`.
func TestGeneratedIsCurrent(t *testing.T) {
	for _, target := range jsongen.Targets {
		want, err := jsongen.Source(target)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("..", "..", target.File()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what tools/jsongen makes of the types now: run `go run ./tools/jsongen`", target.File())
		}
	}
}

// Every value encodes as encoding/json encodes it: every member filled in turn with strings
// that need escaping, big and negative numbers, nil and empty pointers, slices and maps.
func TestSameAsEncodingJSON(t *testing.T) {
	for seed := range uint64(300) {
		f := filler{rand.New(rand.NewPCG(seed, 7)), seed%3 != 0}
		var s specs.Spec
		f.fill(reflect.ValueOf(&s).Elem(), 0)
		sameJSON(t, "spec", seed, &s, func() ([]byte, error) { return ocijson.MarshalSpec(&s) })
		if s.Linux != nil && s.Linux.Seccomp != nil {
			sc := s.Linux.Seccomp
			sameJSON(t, "seccomp", seed, sc, func() ([]byte, error) { return ocijson.MarshalSeccomp(sc) })
		}

		var st libcontainer.State
		f.fill(reflect.ValueOf(&st).Elem(), 0)
		sameJSON(t, "state", seed, ocijson.StateBody{State: &st}, func() ([]byte, error) { return ocijson.MarshalStateBody(&st) })

		var late ocijson.StateLate
		f.fill(reflect.ValueOf(&late).Elem(), 0)
		sameJSON(t, "late", seed, &late, func() ([]byte, error) { return ocijson.MarshalStateLate(&late) })

		var c container.Container
		f.fill(reflect.ValueOf(&c).Elem(), 0)
		sameJSON(t, "container", seed, &c, func() ([]byte, error) { return container.Encode(&c) })
		sameDecoded(t, "container", seed, &c, &container.Container{})

		var md snapshot.JSONMetadata
		f.fill(reflect.ValueOf(&md).Elem(), 0)
		sameJSON(t, "snapshot metadata", seed, &md, func() ([]byte, error) { return jsoncodec.Marshal(&md) })
		sameDecoded(t, "snapshot metadata", seed, &md, &snapshot.JSONMetadata{})

		var idx image.JSONIndex
		f.fill(reflect.ValueOf(&idx).Elem(), 0)
		sameDecoded(t, "image index", seed, &idx, &image.JSONIndex{})

		var mf image.JSONManifest
		f.fill(reflect.ValueOf(&mf).Elem(), 0)
		sameDecoded(t, "image manifest", seed, &mf, &image.JSONManifest{})

		var cfg image.Config
		f.fill(reflect.ValueOf(&cfg).Elem(), 0)
		sameDecoded(t, "image config", seed, &cfg, &image.Config{})

		var cs runtime.JSONSearchCache
		f.fill(reflect.ValueOf(&cs).Elem(), 0)
		sameJSON(t, "kept cgroup search", seed, &cs, func() ([]byte, error) { return jsoncodec.Marshal(&cs) })
		sameDecoded(t, "kept cgroup search", seed, &cs, &runtime.JSONSearchCache{})

		var vi snapshot.JSONVersionInfo
		f.fill(reflect.ValueOf(&vi).Elem(), 0)
		sameJSON(t, "version", seed, &vi, func() ([]byte, error) { return jsoncodec.Marshal(&vi) })
		sameDecoded(t, "version", seed, &vi, &snapshot.JSONVersionInfo{})
	}
	// The zero values, and a state without cgroup resources (encoding/json's way).
	sameJSON(t, "zero spec", 0, &specs.Spec{}, func() ([]byte, error) { return ocijson.MarshalSpec(&specs.Spec{}) })
	st := &libcontainer.State{}
	sameJSON(t, "zero state", 0, ocijson.StateBody{State: st}, func() ([]byte, error) { return ocijson.MarshalStateBody(st) })
	st.Config.Cgroups = &cgroups.Cgroup{Name: "no resources"}
	sameJSON(t, "state without resources", 0, ocijson.StateBody{State: st}, func() ([]byte, error) { return ocijson.MarshalStateBody(st) })
	sameJSON(t, "nil state", 0, ocijson.StateBody{}, func() ([]byte, error) { return ocijson.MarshalStateBody(nil) })
}

// Files that hako wrote with encoding/json before the generated codecs (a `create` with most of
// run's options, an exited container with its health log, the snapshotter's metadata, active
// and committed, with a layer's usage, and its version file; the image store's index and an
// image's configs, which it still writes so; a kept cgroup search): the generated decoders read them
// as encoding/json does, so a member renamed in a way encoding/json would still read (its case)
// fails here.
func TestGoldenFiles(t *testing.T) {
	for name, into := range map[string]func() any{
		"record-created.json":  func() any { return &container.Container{} },
		"record-exited.json":   func() any { return &container.Container{} },
		"metadata.json":        func() any { return &snapshot.JSONMetadata{} },
		"metadata-active.json": func() any { return &snapshot.JSONMetadata{} },
		"version.json":         func() any { return &snapshot.JSONVersionInfo{} },
		"image-index.json":     func() any { return &image.JSONIndex{} }, // three images, four tags, a build's steps
		// What `import -c` and `build` write: manifests, and configs (the Dockerfile's every
		// config instruction).
		"image-manifest-imported.json": func() any { return &image.JSONManifest{} },
		"image-manifest-built.json":    func() any { return &image.JSONManifest{} }, // two layers
		"image-config-imported.json":   func() any { return &image.Config{} },
		"image-config-built.json":      func() any { return &image.Config{} },
		// A monitor's kept cgroup search, of a hybrid v1 machine.
		"cgroup-search.json": func() any { return &runtime.JSONSearchCache{} },
	} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		want, got := into(), into()
		if err := json.Unmarshal(b, want); err != nil {
			t.Fatal(err)
		}
		if err := jsoncodec.Unmarshal(b, got.(jsoncodec.Unmarshaler)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded %+v, encoding/json's %+v", name, got, want)
		}
		var all map[string]any // every member the file has is in the value
		json.Unmarshal(b, &all)
		again, _ := json.Marshal(want)
		var back map[string]any
		json.Unmarshal(again, &back)
		if !reflect.DeepEqual(all, back) {
			t.Errorf("%s: members the types do not have:\n%s\n%s", name, b, again)
		}
	}
}

// A spec as hako makes them, and its libcontainer configuration.
func TestRealSpec(t *testing.T) {
	s, err := spec.Generate(ocispec.ImageConfig{Env: []string{"A=<b>&c"}, User: "1:2"}, spec.Options{ID: "x", Rootfs: "/tmp/x", Cmd: []string{"sh", "-c", "echo \"hi\"\n"}, Hostname: "h", Memory: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "spec", 0, s, func() ([]byte, error) { return ocijson.MarshalSpec(s) })
	config, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{CgroupName: "x", Spec: s})
	if err != nil {
		t.Fatal(err)
	}
	st := &libcontainer.State{CgroupPaths: map[string]string{"memory": "/sys/fs/cgroup/memory/x"}}
	st.ID, st.Config = "x", *config
	sameJSON(t, "state", 0, ocijson.StateBody{State: st}, func() ([]byte, error) { return ocijson.MarshalStateBody(st) })
	late := &ocijson.StateLate{InitProcessPid: 42, Created: time.Now(), NamespacePaths: map[configs.NamespaceType]string{configs.NEWNET: "/proc/42/ns/net"}}
	sameJSON(t, "late", 0, late, func() ([]byte, error) { return ocijson.MarshalStateLate(late) })
}

// sameJSON checks that enc gives what json.Marshal(v) gives, as JSON values (members in any
// order); with no map of more than one key, byte for byte but for the members' order.
func sameJSON(t *testing.T, what string, seed uint64, v any, enc func() ([]byte, error)) {
	t.Helper()
	want, werr := json.Marshal(v)
	got, err := enc()
	if (werr != nil) != (err != nil) {
		t.Fatalf("%s, seed %d: error %v, encoding/json's %v", what, seed, err, werr)
	}
	if werr != nil {
		return
	}
	var a, b any // numbers as written: int64s beyond 2^53 compared exactly
	if err := decodeNumbers(got, &a); err != nil {
		t.Fatalf("%s, seed %d: not JSON: %v\n%s", what, seed, err, got)
	}
	if err := decodeNumbers(want, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("%s, seed %d: differs from encoding/json's:\n%s\n%s", what, seed, got, want)
	}
	if len(got) != len(want) {
		t.Fatalf("%s, seed %d: %d bytes, encoding/json's %d (escapes differ?):\n%s\n%s", what, seed, len(got), len(want), got, want)
	}
}

func decodeNumbers(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// sameDecoded checks that the generated decoder reads what encoding/json writes of v as
// encoding/json reads it, into a new value like into.
func sameDecoded[T any, P interface {
	*T
	jsoncodec.Unmarshaler
}](t *testing.T, what string, seed uint64, v P, into P) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var want T
	werr := json.Unmarshal(b, &want)
	err = jsoncodec.Unmarshal(b, into)
	if (err != nil) != (werr != nil) {
		t.Fatalf("%s, seed %d: error %v, encoding/json's %v\n%s", what, seed, err, werr, b)
	}
	if werr != nil {
		return // a zero Kind, which neither reads back
	}
	if !reflect.DeepEqual(*into, want) {
		t.Fatalf("%s, seed %d: decoded %+v, encoding/json's %+v", what, seed, *into, want)
	}
}

// filler sets a value's exported members at random; sparse leaves about half of them zero.
type filler struct {
	r      *rand.Rand
	sparse bool
}

var strs = []string{"", "a", "<html>&amp;", "quote\" back\\slash", "nl\n tab\t cr\r", "\x01\x1f\x7f", "é ü 日本", "\u2028\u2029", "bad \xff\xfe utf8", "/proc/self/fd/3"}

func (f filler) fill(v reflect.Value, depth int) {
	if depth > 30 {
		panic("filler: a type nested deeper than 30 levels: raise the limit") // never left unfilled
	}
	if v.Type() == reflect.TypeFor[snapshot.Kind]() { // only its names decode
		v.Set(reflect.ValueOf([]snapshot.Kind{snapshot.KindView, snapshot.KindActive, snapshot.KindCommitted}[f.r.IntN(3)]))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(strs[f.r.IntN(len(strs))])
	case reflect.Bool:
		v.SetBool(f.r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := f.r.Int64()
		if f.r.IntN(2) == 0 {
			n = -n
		}
		if f.r.IntN(3) == 0 {
			n = int64(f.r.IntN(3) - 1)
		}
		v.SetInt(n >> (64 - v.Type().Bits()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n := f.r.Uint64()
		if f.r.IntN(3) == 0 {
			n = uint64(f.r.IntN(2))
		}
		v.SetUint(n >> (64 - v.Type().Bits()))
	case reflect.Float32, reflect.Float64: // none of the types has one yet
		v.SetFloat([]float64{f.r.Float64(), f.r.Float64() * 1e9, f.r.Float64() * 1e-9}[f.r.IntN(3)])
	case reflect.Pointer:
		if f.sparse && f.r.IntN(4) == 0 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		if f.r.IntN(5) != 0 {
			f.fill(v.Elem(), depth+1)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte(strs[f.r.IntN(len(strs))]))
			return
		}
		n := f.r.IntN(3)
		if n == 0 && f.r.IntN(2) == 0 {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0)) // empty, not nil
			return
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			f.fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			f.fill(v.Index(i), depth+1)
		}
	case reflect.Map:
		n := f.r.IntN(4)
		m := reflect.MakeMapWithSize(v.Type(), n)
		for range n {
			k := reflect.New(v.Type().Key()).Elem()
			e := reflect.New(v.Type().Elem()).Elem()
			f.fill(k, depth+1)
			f.fill(e, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Interface:
		if v.NumMethod() == 0 && f.r.IntN(2) == 0 {
			v.Set(reflect.ValueOf(map[string]any{"k": strs[f.r.IntN(len(strs))], "n": 1.5}))
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(f.r.Int64N(1<<34), f.r.Int64N(1e9)).UTC()))
			return
		}
		for i := range v.NumField() {
			sf := v.Type().Field(i)
			if !sf.IsExported() || f.sparse && f.r.IntN(2) == 0 && !(sf.Anonymous && sf.Type.Kind() == reflect.Pointer) {
				continue
			}
			f.fill(v.Field(i), depth+1)
		}
	}
}
