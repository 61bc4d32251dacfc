package build

import (
	"encoding/json"

	digest "github.com/opencontainers/go-digest"
)

// CacheKeyVersion is part of every cache key: a change to what keys cover, or to how steps are
// carried out, bumps it so that old cache entries simply stop matching.
const CacheKeyVersion = "hako.build.cache.v1"

// CacheKey identifies a step's result: the image it starts from (its ID covers the whole
// config and every layer), the expanded instruction, the build args it uses, the platform and,
// for COPY and ADD, the digest of its sources (Digest). Two steps with one key make one image.
func (st *Step) CacheKey(parent digest.Digest, platform, sources string) digest.Digest {
	b, _ := json.Marshal(struct {
		Version  string   `json:"v"`
		Parent   string   `json:"parent"`
		Platform string   `json:"platform"`
		Step     string   `json:"step"`
		Args     []string `json:"args,omitempty"`
		Sources  string   `json:"sources,omitempty"`
	}{CacheKeyVersion, parent.String(), platform, st.KeyText, st.Args, sources})
	return digest.FromBytes(b)
}
