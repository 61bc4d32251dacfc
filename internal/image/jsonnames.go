package image

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/hako-dev/hako/internal/jsoncodec"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The image store's JSON, under names of this package that the codec generator
// (internal/jsongen) can give decoders: image_easyjson.go holds them, for the store's index,
// an image's manifest and its config (Config itself), which resolving the image of every run
// reads. encoding/json's reflection at these types' first use in a process cost ~0.5 ms of every
// run's CPU, on the command's path (the image is resolved before the container is created).
// The decoders match member names exactly and refuse members they do not know (a Docker
// config's container_config, a name in another case): decodeJSON then reads the document with
// encoding/json, as before.
type (
	JSONIndex    ocispec.Index
	JSONManifest ocispec.Manifest
)

// decodeJSON is json.Unmarshal(b, v), by v's generated decoder where it reads b (valid UTF-8,
// which encoding/json would otherwise mend, and only members it knows, named exactly), else by
// encoding/json, into a fresh value: its result and its errors are encoding/json's.
func decodeJSON[T any, P interface {
	*T
	jsoncodec.Unmarshaler
}](b []byte, v P) error {
	if utf8.Valid(b) && jsoncodec.Unmarshal(b, v) == nil {
		return nil
	}
	var zero T
	*v = zero
	return json.Unmarshal(b, v)
}
