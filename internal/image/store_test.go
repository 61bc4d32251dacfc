package image

import (
	"testing"

	"github.com/hako-dev/hako/internal/reference"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func named(t *testing.T, s string) reference.Named {
	n, err := reference.ParseTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPutMovesNamesAndMergesSameID(t *testing.T) {
	id := digest.FromString("config")
	a := Image{ID: id, Manifest: ocispec.Descriptor{Digest: digest.FromString("manifest-a")}}
	b := Image{ID: id, Manifest: ocispec.Descriptor{Digest: digest.FromString("manifest-b")}}
	other := Image{ID: digest.FromString("other"), Manifest: ocispec.Descriptor{Digest: digest.FromString("manifest-o")}}
	tx := &Txn{}
	tx.Put(a, named(t, "app:1"))
	tx.Put(other, named(t, "app:2"))
	// The same config in another manifest: one record for the ID, with both names.
	tx.Put(b, named(t, "app:3"))
	var ofID []Image
	for _, img := range tx.Images() {
		if img.ID == id {
			ofID = append(ofID, img)
		}
	}
	if len(ofID) != 1 || len(ofID[0].Names) != 2 || ofID[0].Manifest.Digest != b.Manifest.Digest {
		t.Fatalf("records of one ID: %+v", ofID)
	}
	// A name moving to another image leaves the old one dangling, not deleted.
	tx.Put(other, named(t, "app:1"))
	img, err := Resolve(tx.Images(), "app:3")
	if err != nil || img.ID != id {
		t.Fatalf("app:3 -> %v, %v", img.ID, err)
	}
	if img, _ := Resolve(tx.Images(), "app:1"); img.ID != other.ID {
		t.Fatalf("app:1 did not move: %v", img.ID)
	}
	if _, err := Resolve(tx.Images(), id.Encoded()[:8]); err != nil {
		t.Fatalf("resolve by ID prefix: %v", err)
	}
}
