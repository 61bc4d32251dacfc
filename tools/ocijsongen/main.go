// ocijsongen writes internal/ocijson/ocijson_easyjson.go, the encoders of package ocijson's
// types, with easyjson's generator (package internal/ocijson/gen), which builds them from the
// types by reflection here, once, instead of in every hako process:
//
//	go run ./tools/ocijsongen
//
// from the repository's root. Run it again after an upgrade of runtime-spec, runc or cgroups
// (ocijson's TestGeneratedIsCurrent fails until then). If the generated file no longer
// compiles after an upgrade, delete it first: the generator needs only the package's types.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hako-dev/hako/internal/ocijson/gen"
)

func main() {
	src, err := gen.Source()
	if err == nil {
		err = os.WriteFile(filepath.Join("internal", "ocijson", gen.File), src, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ocijsongen:", err)
		os.Exit(1)
	}
}
