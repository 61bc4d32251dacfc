package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
)

// BenchmarkApply applies a layer shaped like a distribution's: 5,000 small files four
// directories deep.
func BenchmarkApply(b *testing.B) {
	var ents []ent
	for d := range 50 {
		ents = append(ents, ent{name: fmt.Sprintf("usr/share/d%d/", d), typ: tar.TypeDir})
		for f := range 100 {
			ents = append(ents, ent{name: fmt.Sprintf("usr/share/d%d/sub/f%d", d, f), body: "content"})
		}
	}
	data := buildTar(b, ents...)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		root := b.TempDir()
		if _, err := Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteDiff(b *testing.B) {
	root := b.TempDir()
	var ents []ent
	for d := range 50 {
		for f := range 100 {
			ents = append(ents, ent{name: fmt.Sprintf("usr/share/d%d/sub/f%d", d, f), body: "content"})
		}
	}
	if _, err := Apply(context.Background(), root, bytes.NewReader(buildTar(b, ents...)), ApplyOptions{}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := WriteDiff(context.Background(), io.Discard, "", root, DiffOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
