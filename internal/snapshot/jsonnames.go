package snapshot

import (
	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/jwriter"
)

// The metadata's types, under names that the codec generator (internal/jsongen) can reach:
// snapshot_easyjson.go holds their generated encoders and decoders.
type (
	JSONMetadata    = metadata
	JSONVersionInfo = versionInfo
)

// encode and decode are json.Marshal and json.Unmarshal for the metadata's files, by the
// generated codecs: encoding/json's reflection at the types' first use in a process cost
// ~0.6 ms of every run (create and removal each read and write the metadata). The files are
// the store's own, so the codecs' exact member names (encoding/json also takes other cases)
// read everything it writes. (They are easyjson's Marshal and Unmarshal, whose package would
// bring net/http into hako-monitor.)
func encode(v interface{ MarshalEasyJSON(*jwriter.Writer) }) ([]byte, error) {
	var w jwriter.Writer
	v.MarshalEasyJSON(&w)
	return w.BuildBytes()
}

func decode(b []byte, v interface{ UnmarshalEasyJSON(*jlexer.Lexer) }) error {
	l := jlexer.Lexer{Data: b}
	v.UnmarshalEasyJSON(&l)
	return l.Error()
}
