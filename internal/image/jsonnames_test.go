package image

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// decodeJSON reads what its generated decoder refuses as encoding/json does: a Docker config's
// members hako's types do not have, a member named in another case, invalid UTF-8 (which
// encoding/json mends), and an error is encoding/json's.
func TestDecodeJSONFallsBackToEncodingJSON(t *testing.T) {
	for name, doc := range map[string]string{
		"docker's members": `{"architecture":"amd64","os":"linux","container":"3f2a","container_config":{"Hostname":"3f2a","Cmd":["/bin/sh","-c","#(nop) CMD [\"sh\"]"]},"docker_version":"20.10.7","config":{"Cmd":["sh"],"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:471cc0ddd08069c00b8a49822300e4526f70dfbc910d10865a4fa80e08e14594"]}}`,
		"another case":     `{"architecture":"amd64","OS":"linux","config":{"cmd":["sh"],"workingdir":"/w","Healthcheck":{"test":["CMD","true"],"interval":5000000000}},"rootfs":{"type":"layers","diff_ids":[]}}`,
		"invalid utf-8":    "{\"os\":\"linux\",\"config\":{\"Env\":[\"A=\xff\xfe\"],\"Labels\":{\"k\":\"v \xc3\"}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
		"exact":            `{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"],"ExposedPorts":{"80/tcp":{}},"Healthcheck":{"Test":["CMD","true"],"Interval":5000000000},"OnBuild":["RUN x"],"Shell":["/bin/sh","-c"]},"rootfs":{"type":"layers","diff_ids":[]},"docker_version":"x"}`,
		// Empty maps stay empty, not nil (`image inspect` prints {}).
		"empty maps": `{"os":"linux","config":{"ExposedPorts":{},"Volumes":{},"Labels":{},"Env":[]},"rootfs":{"type":"layers","diff_ids":[]}}`,
		// A member given twice: encoding/json adds a map's second members to the first's, and
		// decodes an array's objects into those it has.
		"twice":        `{"os":"linux","config":{"Labels":{"a":"1"},"Labels":{"b":"2"}},"history":[{"created_by":"x","comment":"c"}],"history":[{"created_by":"y"}],"rootfs":{"type":"layers","diff_ids":[]}}`,
		"twice nested": `{"os":"linux","config":{"Labels":{"a":"1","a":"2"}},"rootfs":{"type":"layers","diff_ids":[]}}`,
		"escapes":      `{"os":"linux","config":{"Env":["A=\ud800 \u00e9 \n \u2028 \/"],"Labels":{"\u0041":"\ud83d\ude00"}},"rootfs":{"type":"layers","diff_ids":[]}}`,
		"null maps":    `{"os":"linux","config":{"Labels":null,"Volumes":null,"Cmd":null,"Healthcheck":null},"created":null,"rootfs":{"type":"layers","diff_ids":null}}`,
	} {
		sameAsEncodingJSON(t, "config "+name, doc, ParseConfig)
	}
	// Refused by both: encoding/json's error, after what the generated decoder had filled in.
	for _, doc := range []string{`{"os":"linux","config":{"Cmd":["sh"]}`, `{"os":"linux","config":{"Cmd":"sh"}}`, `{"os":1}`, `[]`,
		// What easyjson takes and encoding/json does not: a control character in a string, a
		// number with a leading zero, a value after the value.
		"{\"os\":\"li\x01nux\"}", `{"config":{"Healthcheck":{"Retries":01}}}`, `{"os":"linux"} {}`, `{"os":"linux"}]`} {
		var want Config
		werr := json.Unmarshal([]byte(doc), &want)
		_, err := ParseConfig([]byte(doc))
		if werr == nil || err == nil || !strings.HasSuffix(err.Error(), werr.Error()) {
			t.Errorf("%s: error %v, encoding/json's %v", doc, err, werr)
		}
	}
	// Manifests: what the generated decoder reads (empty and null maps and lists among them),
	// and what it leaves to encoding/json (a member of another name or case, a member twice).
	for name, doc := range map[string]string{
		"oci":            `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:f15d3960a2248d3fdb8947c164cf4d25c931a4b9cc8b23db4a7cb76cc15dceaf","size":351},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:471cc0ddd08069c00b8a49822300e4526f70dfbc910d10865a4fa80e08e14594","size":1234,"annotations":{"a":"b"}}],"annotations":{"org.opencontainers.image.created":"2026-11-30T00:00:00Z"}}`,
		"docker schema2": `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1,"digest":"sha256:x"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":2,"digest":"sha256:y","urls":["https://example.com/y"]}]}`,
		"other members":  `{"schemaVersion":2,"config":{"digest":"sha256:x","size":1,"platform":{"os":"linux","architecture":"amd64","os.features":["f"]}},"layers":[],"signatures":[{"x":1}],"Subject":{"digest":"sha256:s","size":3}}`,
		"twice":          `{"schemaVersion":2,"config":{"digest":"sha256:x","size":1},"annotations":{"a":"1"},"annotations":{"b":"2"},"layers":[{"digest":"sha256:y"}],"layers":[{"size":5}]}`,
		"empty and null": `{"schemaVersion":2,"config":{"digest":"sha256:x","size":1,"annotations":{}},"layers":null,"annotations":{}}`,
	} {
		sameAsEncodingJSON(t, "manifest "+name, doc, ParseManifest)
	}
	for _, doc := range []string{`{"config":{"digest":"sha256:x"}`, `{"config":{"digest":1}}`, `{"config":{"size":01,"digest":"sha256:x"}}`} {
		var want ocispec.Manifest
		werr := json.Unmarshal([]byte(doc), &want)
		_, err := ParseManifest([]byte(doc))
		if werr == nil || err == nil || !strings.HasSuffix(err.Error(), werr.Error()) {
			t.Errorf("manifest %s: error %v, encoding/json's %v", doc, err, werr)
		}
	}
	var idx JSONIndex
	if err := decodeJSON([]byte(`{"schemaVersion":2,"Manifests":[{"digest":"sha256:x","size":1}]}`), &idx); err != nil || len(idx.Manifests) != 1 || idx.SchemaVersion != 2 {
		t.Errorf("index in another case: %+v, %v", idx, err)
	}
}

// sameAsEncodingJSON checks that parse reads doc as json.Unmarshal does.
func sameAsEncodingJSON[T any](t *testing.T, name, doc string, parse func([]byte) (T, error)) {
	t.Helper()
	var want T
	if err := json.Unmarshal([]byte(doc), &want); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	got, err := parse([]byte(doc))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: %+v, encoding/json's %+v", name, got, want)
	}
}

// plainJSON finds what the generated decoder would read otherwise than encoding/json.
func TestPlainJSON(t *testing.T) {
	for doc, want := range map[string]bool{
		`{"a":1,"b":{"a":2,"c":[{"a":1},{"a":2}]},"c":[]}`: true,
		`{}`:                  true,
		`[{"a":1,"a":2}]`:     false,
		`{"a":{"b":1,"b":2}}`: false,
		`{"a":[1,2],"a":[3]}`: false,
		`{"a":1,"b":[{"c":1},{"c":1}],"c":{"a":1}}`: true,
		`{"a":01}`:             false,
		"{\"a\":\"\x7f\x01\"}": false,
		`{"a":1} 2`:            false,
		`{"a":1`:               false,
		`{"a":"\u0000"}`:       true,
	} {
		if got := plainJSON([]byte(doc)); got != want {
			t.Errorf("plainJSON(%s) = %v, want %v", doc, got, want)
		}
	}
}
