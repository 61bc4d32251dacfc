package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hako-dev/hako/internal/content"
	"github.com/hako-dev/hako/internal/snapshot"
)

// Unpacked is true exactly when Unpack has nothing to do: after it, not once a layer's
// snapshot is gone (Unpack then makes it again), nor for an image Unpack refuses.
func TestUnpacked(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	sn, err := snapshot.NewNative(root + "/sn")
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	cs, err := content.Open(root + "/content")
	if err != nil {
		t.Fatal(err)
	}
	var layers []ocispec.Descriptor
	var diffIDs []digest.Digest
	for _, name := range []string{"a", "b"} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
		tw.Write([]byte("x"))
		tw.Close()
		w, err := cs.Writer(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(buf.Bytes())
		d, err := w.Commit(ctx, int64(buf.Len()), "")
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: d, Size: int64(buf.Len())})
		diffIDs = append(diffIDs, d) // uncompressed: the blob is its diff
	}
	if Unpacked(ctx, sn, layers, diffIDs) {
		t.Fatal("Unpacked before any unpack")
	}
	lease, err := content.NewLease(root + "/leases")
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	if err := Unpack(ctx, sn, cs, lease, layers, diffIDs); err != nil {
		t.Fatal(err)
	}
	if !Unpacked(ctx, sn, layers, diffIDs) {
		t.Fatal("not Unpacked after Unpack")
	}
	if Unpacked(ctx, sn, layers[:1], diffIDs) {
		t.Error("Unpacked for a manifest whose layers do not match the config's diff IDs")
	}
	if err := sn.Remove(ctx, ChainIDs(diffIDs)[0].String()); err == nil {
		t.Fatal("the bottom layer's snapshot, a parent, was removed: Unpacked's top-only check relies on that")
	}
	top := ChainIDs(diffIDs)[1].String()
	if err := sn.Remove(ctx, top); err != nil {
		t.Fatal(err)
	}
	if Unpacked(ctx, sn, layers, diffIDs) {
		t.Error("Unpacked with the top layer's snapshot gone")
	}
	if err := Unpack(ctx, sn, cs, lease, layers, diffIDs); err != nil {
		t.Fatal(err)
	}
	if !Unpacked(ctx, sn, layers, diffIDs) {
		t.Error("not Unpacked after the second Unpack")
	}
}
