// jsongen writes the easyjson codecs of package jsongen's targets (internal/*/*_easyjson.go),
// from the repository's root:
//
//	go run ./tools/jsongen
//
// Run it again after a change of those types, or an upgrade of runtime-spec, runc or cgroups
// (jsongen's TestGeneratedIsCurrent fails until then). If a generated file no longer compiles,
// delete it first, and make the package's own calls of the generated methods (container's
// decode, snapshot's encode and decode) use encoding/json meanwhile: the generator needs only
// the packages' types, but it compiles the packages.
package main

import (
	"fmt"
	"os"

	"github.com/hako-dev/hako/internal/jsongen"
)

func main() {
	for _, t := range jsongen.Targets {
		src, err := jsongen.Source(t)
		if err == nil {
			err = os.WriteFile(t.File(), src, 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "jsongen: %s: %v\n", t.File(), err)
			os.Exit(1)
		}
	}
}
