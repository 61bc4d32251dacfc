package monitor

import (
	"bytes"
	"strings"
	"testing"
)

func TestControlRoundTrip(t *testing.T) {
	var b bytes.Buffer
	WriteResize(&b, 120, 40)
	b.WriteString("bogus line\nresize x 3\nresize 0 0\n")
	WriteResize(&b, 80, 24)
	var got []string
	ReadControl(&b, func(w, h uint16) { got = append(got, FormatConsoleSize(w, h)) })
	if strings.Join(got, ",") != "120x40,80x24" {
		t.Fatalf("got %v", got)
	}
	if w, h, err := ParseConsoleSize("100x30"); err != nil || w != 100 || h != 30 {
		t.Fatalf("parse: %d %d %v", w, h, err)
	}
	for _, bad := range []string{"", "100", "x30", "100x", "70000x1", "-1x2"} {
		if _, _, err := ParseConsoleSize(bad); err == nil {
			t.Errorf("ParseConsoleSize(%q) accepted", bad)
		}
	}
}
