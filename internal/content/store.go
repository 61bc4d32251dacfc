package content

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "crypto/sha256"

	"github.com/hako-dev/hako/internal/atomicfile"
	"github.com/hako-dev/hako/internal/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Store holds blobs under one root.
type Store struct {
	root string
}

// Info describes a committed blob.
type Info struct {
	Digest  digest.Digest
	Size    int64
	ModTime time.Time
}

// Open opens (creating if needed) the OCI layout at root.
func Open(root string) (*Store, error) {
	for _, d := range []string{filepath.Join(root, "blobs", "sha256"), filepath.Join(root, "ingest")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open content store: %w", err)
		}
	}
	layout := filepath.Join(root, ocispec.ImageLayoutFile)
	if _, err := os.Stat(layout); errors.Is(err, fs.ErrNotExist) {
		if err := atomicfile.WriteFile(layout, []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
			return nil, fmt.Errorf("open content store: %w", err)
		}
	}
	return &Store{root: root}, nil
}

// Root is the OCI layout directory.
func (s *Store) Root() string { return s.root }

func (s *Store) path(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", errdefs.Invalidf("invalid digest %q: %v", d, err)
	}
	if d.Algorithm() != digest.SHA256 {
		return "", errdefs.Invalidf("unsupported digest algorithm %s", d.Algorithm())
	}
	return filepath.Join(s.root, "blobs", "sha256", d.Encoded()), nil
}

// Info stats a committed blob.
func (s *Store) Info(ctx context.Context, d digest.Digest) (Info, error) {
	p, err := s.path(d)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Info{}, errdefs.NotFoundf("blob %s: not found", d)
		}
		return Info{}, err
	}
	return Info{Digest: d, Size: st.Size(), ModTime: st.ModTime()}, nil
}

// Open opens a committed blob for reading.
func (s *Store) Open(ctx context.Context, d digest.Digest) (*os.File, error) {
	p, err := s.path(d)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errdefs.NotFoundf("blob %s: not found", d)
	}
	return f, err
}

// ReadBlob reads a small blob (a manifest or config) whole, verifying its digest.
func (s *Store) ReadBlob(ctx context.Context, d digest.Digest) ([]byte, error) {
	f, err := s.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", d, err)
	}
	if got := digest.FromBytes(b); got != d {
		return nil, fmt.Errorf("read blob %s: content has digest %s: the store is corrupt", d, got)
	}
	return b, nil
}

// Walk calls fn for every committed blob.
func (s *Store) Walk(ctx context.Context, fn func(Info) error) error {
	dir := filepath.Join(s.root, "blobs", "sha256")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if d.Validate() != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if err := fn(Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes a committed blob. Callers hold the store's exclusive lock and know no image or
// live lease owns it.
func (s *Store) Delete(ctx context.Context, d digest.Digest) error {
	p, err := s.path(d)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Writer streams a blob into the ingest area. Commit verifies and publishes it; Close without
// Commit discards it.
type Writer struct {
	s      *Store
	f      *os.File
	h      hash.Hash
	size   int64
	kicked int64 // bytes handed to writeback so far (see Write)
	lease  *Lease
	closed bool
}

// writebackChunk is how much a Writer lets accumulate before it starts the writeback of it, so
// that the fsync of Commit finds most of a large blob on disk already instead of writing all of
// it then (a 50 MB layer: 70 ms of fsync here).
const writebackChunk = 8 << 20

// Writer starts a new blob owned by lease (which may be nil for callers that hold the store lock
// until the blob is referenced).
func (s *Store) Writer(ctx context.Context, lease *Lease) (*Writer, error) {
	prefix := "blob-"
	if lease != nil {
		prefix += lease.id + "-"
	}
	f, err := os.CreateTemp(filepath.Join(s.root, "ingest"), prefix)
	if err != nil {
		return nil, fmt.Errorf("start blob: %w", err)
	}
	return &Writer{s: s, f: f, h: digest.SHA256.Hash(), lease: lease}, nil
}

func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.size += int64(n)
	if w.size-w.kicked >= writebackChunk {
		// Start writing the pages out, without waiting for them (durability is still
		// Commit's fsync; this only spreads the disk's work over the writing).
		startWriteback(w.f, w.kicked, w.size-w.kicked)
		w.kicked = w.size
	}
	return n, err
}

// Digest is the digest of what was written so far.
func (w *Writer) Digest() digest.Digest { return digest.NewDigest(digest.SHA256, w.h) }

// Size is how many bytes were written so far.
func (w *Writer) Size() int64 { return w.size }

// Commit checks the content against expected (when not empty) and size (when >= 0), then makes
// the blob visible under its digest. Committing content the store already has is not an error.
func (w *Writer) Commit(ctx context.Context, size int64, expected digest.Digest) (digest.Digest, error) {
	if w.closed {
		return "", errors.New("commit blob: writer closed")
	}
	got := w.Digest()
	defer w.Close()
	if size >= 0 && size != w.size {
		return "", errdefs.Invalidf("commit blob %s: size %d does not match the expected %d", expected, w.size, size)
	}
	if expected != "" && expected != got {
		return "", errdefs.Invalidf("commit blob: content digest %s does not match the expected %s", got, expected)
	}
	if err := w.f.Sync(); err != nil {
		return "", fmt.Errorf("commit blob %s: %w", got, err)
	}
	p, _ := w.s.path(got)
	if w.lease != nil {
		// Record ownership before the blob becomes visible, so GC never sees it unowned.
		if err := w.lease.add(got); err != nil {
			return "", err
		}
	}
	if err := os.Chmod(w.f.Name(), 0o444); err != nil {
		return "", err
	}
	if err := os.Rename(w.f.Name(), p); err != nil {
		return "", fmt.Errorf("commit blob %s: %w", got, err)
	}
	w.closed = true
	w.f.Close()
	return got, nil
}

// Close discards an uncommitted blob.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.f.Close()
	return os.Remove(w.f.Name())
}

// WriteBlob writes b as a blob and returns its descriptor fields.
func (s *Store) WriteBlob(ctx context.Context, lease *Lease, b []byte) (digest.Digest, error) {
	d := digest.FromBytes(b)
	if _, err := s.Info(ctx, d); err == nil {
		if lease != nil {
			if err := lease.add(d); err != nil {
				return "", err
			}
		}
		return d, nil
	}
	w, err := s.Writer(ctx, lease)
	if err != nil {
		return "", err
	}
	defer w.Close()
	if _, err := w.Write(b); err != nil {
		return "", err
	}
	return w.Commit(ctx, int64(len(b)), d)
}

// CleanIngest removes the unfinished writes of dead leases (a kill -9 mid-stream), and writes
// without a lease older than a day.
func (s *Store) CleanIngest(deadLeases []string) {
	dir := filepath.Join(s.root, "ingest")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		name := e.Name()
		for _, id := range deadLeases {
			if strings.HasPrefix(name, "blob-"+id+"-") {
				os.Remove(filepath.Join(dir, name))
			}
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
			os.Remove(filepath.Join(dir, name))
		}
	}
}

func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
