//go:build hakolean

package archive

import (
	"compress/gzip"
	"io"
)

// The lean build (hako-monitor: run and exec) leaves klauspost/compress out: its initialisers
// (a CRC-32C table for zstd's snappy support, flate's tables: ~0.33 ms here) ran at the start
// of every run. It unpacks no layer itself (the engine has hako do it: unpack_lean.go); gzip
// comes from the standard library should anything read one, zstd not at all.

func newGzipReader(r io.Reader) (io.ReadCloser, error) { return gzip.NewReader(r) }

func newZstdReader(io.Reader) (io.ReadCloser, error) { return nil, ErrNoZstd }
