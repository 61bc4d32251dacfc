// Package jsoncodec runs the JSON codecs that internal/jsongen generates with easyjson (hako's
// container records, snapshot metadata, OCI spec and libcontainer state: docs/run.md, "JSON
// without reflection"). It is easyjson's own Marshal and Unmarshal, which hako does not take
// from easyjson's root package: that package imports net/http, whose initialisers (crypto/tls,
// x509, http2) would then run in every container's monitor.
package jsoncodec

import (
	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/jwriter"
)

// Marshaler is a type with a generated encoder.
type Marshaler interface{ MarshalEasyJSON(*jwriter.Writer) }

// Unmarshaler is a type with a generated decoder.
type Unmarshaler interface{ UnmarshalEasyJSON(*jlexer.Lexer) }

// Marshal is json.Marshal(v), by v's generated encoder.
func Marshal(v Marshaler) ([]byte, error) {
	var w jwriter.Writer
	v.MarshalEasyJSON(&w)
	return w.BuildBytes()
}

// Unmarshal is json.Unmarshal(b, v), by v's generated decoder, which matches member names
// exactly (encoding/json also takes other cases): for files hako writes itself. Anything but
// one JSON value and white space is an error, a cut one included.
func Unmarshal(b []byte, v Unmarshaler) error {
	l := jlexer.Lexer{Data: b}
	v.UnmarshalEasyJSON(&l)
	return l.Error()
}
