package archive

import (
	"bytes"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func TestDecompressStream(t *testing.T) {
	plain := bytes.Repeat([]byte("layer tar bytes "), 1000)
	var gz, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(plain)
	gw.Close()
	zw, err := zstd.NewWriter(&zs)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(plain)
	zw.Close()

	tests := []struct {
		name string
		in   []byte
		want []byte
		c    Compression
	}{
		{"plain", plain, plain, Uncompressed},
		{"gzip", gz.Bytes(), plain, Gzip},
		{"zstd", zs.Bytes(), plain, Zstd},
		{"empty", nil, nil, Uncompressed},
		{"short", []byte{0x1f}, []byte{0x1f}, Uncompressed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, c, err := DecompressStream(bytes.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if c != tt.c || !bytes.Equal(got, tt.want) {
				t.Errorf("got %v and %d bytes, want %v and %d", c, len(got), tt.c, len(tt.want))
			}
		})
	}
	if _, _, err := DecompressStream(bytes.NewReader([]byte{0x1f, 0x8b, 0x08, 0, 1})); err == nil {
		t.Error("a broken gzip header was accepted")
	}
	for c, s := range map[Compression]string{Uncompressed: "uncompressed", Gzip: "gzip", Zstd: "zstd"} {
		if c.String() != s {
			t.Errorf("%d.String() = %q", c, c.String())
		}
	}
}
