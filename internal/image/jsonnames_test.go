package image

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
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
	} {
		var want Config
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := ParseConfig([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, encoding/json's %+v", name, got, want)
		}
	}
	// Refused by both: encoding/json's error, after what the generated decoder had filled in.
	for _, doc := range []string{`{"os":"linux","config":{"Cmd":["sh"]}`, `{"os":"linux","config":{"Cmd":"sh"}}`, `{"os":1}`, `[]`} {
		var want Config
		werr := json.Unmarshal([]byte(doc), &want)
		_, err := ParseConfig([]byte(doc))
		if werr == nil || err == nil || !strings.HasSuffix(err.Error(), werr.Error()) {
			t.Errorf("%s: error %v, encoding/json's %v", doc, err, werr)
		}
	}
	var idx JSONIndex
	if err := decodeJSON([]byte(`{"schemaVersion":2,"Manifests":[{"digest":"sha256:x","size":1}]}`), &idx); err != nil || len(idx.Manifests) != 1 || idx.SchemaVersion != 2 {
		t.Errorf("index in another case: %+v, %v", idx, err)
	}
}
