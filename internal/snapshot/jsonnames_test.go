package snapshot

import (
	"reflect"
	"testing"
	"time"

	"github.com/hako-dev/hako/internal/jsoncodec"
)

// A metadata file cut anywhere short (a torn write) does not decode, so load takes it for torn;
// the whole file, with trailing whitespace, does; anything after it does not.
func TestMetadataTornPrefixes(t *testing.T) {
	now := time.Date(2026, 11, 30, 1, 2, 3, 4, time.UTC)
	md := &metadata{Version: formatVersion, NextID: 9, Gen: 3, Snapshots: map[string]*record{
		"sha256:aa": {ID: "1", Kind: KindCommitted, Created: now, Updated: now, Usage: &Usage{Size: 10, Inodes: 2}},
		"ctr":       {ID: "2", Kind: KindActive, Parent: "sha256:aa", Created: now, Updated: now, Labels: map[string]string{"k": "v \"q\""}},
	}}
	b, err := jsoncodec.Marshal(md)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		var got metadata
		if jsoncodec.Unmarshal(b[:n], &got) == nil {
			t.Fatalf("a file cut at %d of %d bytes decodes: %q", n, len(b), b[:n])
		}
	}
	var got metadata
	if err := jsoncodec.Unmarshal(append(b, "\n "...), &got); err != nil || !reflect.DeepEqual(&got, md) {
		t.Fatalf("the whole file: %v, %+v", err, got)
	}
	for _, tail := range []string{"x", "{}", "\x00"} {
		if jsoncodec.Unmarshal(append(b, tail...), &metadata{}) == nil {
			t.Errorf("%q after the file decodes", tail)
		}
	}
}
