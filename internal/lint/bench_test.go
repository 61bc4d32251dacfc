package lint

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkCheckDockerfile lints the corpus; bench/lint.sh measures the same through the CLI.
func BenchmarkCheckDockerfile(b *testing.B) {
	files, _ := filepath.Glob("testdata/corpus/*.Dockerfile")
	var srcs [][]byte
	for _, f := range files {
		s, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		srcs = append(srcs, s)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := CheckDockerfile(srcs[i%len(srcs)], Options{Path: "Dockerfile"}); err != nil {
			b.Fatal(err)
		}
	}
}
