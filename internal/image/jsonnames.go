package image

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/hako-dev/hako/internal/jsoncodec"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// JSONIndex is the store's index.json under a name of this package that the codec generator
// (internal/jsongen) can give a decoder: image_easyjson.go holds it, JSONManifest's and
// Config's, which resolving the image of every run reads. encoding/json's reflection at the
// index's and config's first use in a process cost ~0.45 ms of every run's CPU, on the
// command's path (the image is resolved before the container is created).
type JSONIndex ocispec.Index

// JSONManifest is an image manifest under a name of this package, for its generated decoder:
// every create reads its image's manifest (~0.2 ms of encoding/json's reflection at its first
// use in a process).
type JSONManifest ocispec.Manifest

// decodeJSON is json.Unmarshal(b, v): by v's generated decoder where that gives encoding/json's
// result, else by encoding/json itself, into a fresh value, whose result and errors are the rule.
// The generated decoder reads only valid UTF-8 (encoding/json mends the rest), only JSON that
// encoding/json's scanner accepts (easyjson takes control characters in strings and numbers
// such as 01), without a member given twice in one object (encoding/json merges the second
// into the first: a map's members, an array's objects), and only the members it knows, named
// exactly (it refuses the rest: a Docker config's container_config, a name in another case).
func decodeJSON[T any, P interface {
	*T
	jsoncodec.Unmarshaler
}](b []byte, v P) error {
	if utf8.Valid(b) && plainJSON(b) && jsoncodec.Unmarshal(b, v) == nil {
		return nil
	}
	var zero T
	*v = zero
	return json.Unmarshal(b, v)
}

// plainJSON tells whether b is one JSON value, as encoding/json's scanner reads it
// (json.Valid), in which no object has a member twice. A member name written with an escape
// counts as a repeat (encoding/json compares names unescaped): rare, and only slower.
func plainJSON(b []byte) bool {
	if !json.Valid(b) {
		return false
	}
	// Valid JSON: every string ends at its first unescaped quote, and one that a colon follows
	// is a member name of the innermost open object.
	var objects []map[string]bool // the open objects and arrays (nil), innermost last
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{':
			objects = append(objects, map[string]bool{})
		case '[':
			objects = append(objects, nil)
		case '}', ']':
			objects = objects[:len(objects)-1]
		case '"':
			start, escaped := i+1, false
			for i++; b[i] != '"'; i++ {
				if b[i] == '\\' {
					escaped = true
					i++
				}
			}
			j := i + 1
			for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r') {
				j++
			}
			if j == len(b) || b[j] != ':' {
				continue // a value
			}
			keys := objects[len(objects)-1]
			if escaped || keys[string(b[start:i])] {
				return false
			}
			keys[string(b[start:i])] = true
		}
	}
	return true
}
