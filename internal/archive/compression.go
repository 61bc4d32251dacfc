package archive

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/hako-dev/hako/internal/errdefs"
)

// Compression is the compression of a layer blob.
type Compression int

const (
	Uncompressed Compression = iota
	Gzip
	Zstd
)

func (c Compression) String() string {
	switch c {
	case Uncompressed:
		return "uncompressed"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// ErrNoZstd is a zstd stream met by a build without a zstd decoder (hako-monitor).
var ErrNoZstd = errors.New("a zstd stream, and this build of hako has no zstd decoder (hako has)")

var (
	gzipMagic = []byte{0x1f, 0x8b, 0x08}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// DecompressStream sniffs the magic bytes and returns a reader of the uncompressed tar.
// Closing the returned reader releases the decompressor; it does not close r.
func DecompressStream(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	// A short stream is fine here: it is simply not compressed, and the tar reader judges it.
	magic, err := br.Peek(len(zstdMagic))
	if err != nil && err != io.EOF {
		return nil, Uncompressed, fmt.Errorf("detect compression: %w", err)
	}
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		zr, err := newGzipReader(br)
		if err != nil {
			return nil, Gzip, errdefs.InvalidArgument(fmt.Errorf("open gzip stream: %w", err))
		}
		return zr, Gzip, nil
	case bytes.HasPrefix(magic, zstdMagic):
		zr, err := newZstdReader(br)
		if errors.Is(err, ErrNoZstd) {
			return nil, Zstd, err
		}
		if err != nil {
			return nil, Zstd, errdefs.InvalidArgument(fmt.Errorf("open zstd stream: %w", err))
		}
		return zr, Zstd, nil
	}
	return io.NopCloser(br), Uncompressed, nil
}
