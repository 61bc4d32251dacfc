package logs

import (
	"encoding/json"
	"time"
	"unicode/utf8"
)

// AppendRecord appends one json-file record and its newline to buf, in exactly the bytes that
// Docker's jsonlog.JSONLogs.MarshalJSONBuf produces. It is exported as the reference for the
// monitor's keeper, which writes the same records in C (package monitor's tests compare them).
func AppendRecord(buf []byte, stream string, line []byte, t time.Time) []byte {
	buf = append(buf, '{')
	if len(line) != 0 {
		buf = append(buf, `"log":`...)
		buf = appendString(buf, line)
		buf = append(buf, ',')
	}
	if stream != "" {
		buf = append(buf, `"stream":`...)
		buf = appendString(buf, []byte(stream))
		buf = append(buf, ',')
	}
	buf = append(buf, `"time":"`...)
	buf = t.UTC().AppendFormat(buf, time.RFC3339Nano)
	return append(buf, "\"}\n"...)
}

// appendString quotes s as Docker does: like encoding/json with HTML escaping, except that
// control characters other than \n and \r become \u00XX, and invalid UTF-8 becomes \ufffd.
func appendString(buf, s []byte) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if 0x20 <= b && b != '\\' && b != '"' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '\\', '"':
				buf = append(buf, '\\', b)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRune(s[i:])
		if c == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// record is one decoded line of a json-file log.
type record struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// decodeRecord parses one line (without its newline). A line that is not a record, such as a
// torn write followed by a newer record, reports false and is skipped by readers.
func decodeRecord(line []byte) (record, bool) {
	var r record
	if err := json.Unmarshal(line, &r); err != nil {
		return record{}, false
	}
	return r, true
}
