package snapshot

// The metadata's types, under names that the codec generator (internal/jsongen) can reach:
// snapshot_easyjson.go holds their generated encoders and decoders, which the store uses
// (package jsoncodec): encoding/json's reflection at the types' first use in a process cost
// ~0.6 ms of every run (create and removal each read and write the metadata). The files are
// the store's own, so the decoders' exact member names (encoding/json also takes other cases)
// read everything it writes.
type (
	JSONMetadata    = metadata
	JSONVersionInfo = versionInfo
)
