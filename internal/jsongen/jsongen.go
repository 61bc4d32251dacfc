// Package jsongen makes the JSON encoders (and, where asked, decoders) that hako's packages use
// instead of encoding/json on a run's path, with easyjson's generator
// (github.com/mailru/easyjson/gen), which builds them by reflection over the types here, once,
// instead of encoding/json's reflection at each type's first use in every hako process. Only
// tools/jsongen and the tests import it, never hako.
package jsongen

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	easyjson "github.com/mailru/easyjson/gen"

	"github.com/hako-dev/hako/internal/container"
	"github.com/hako-dev/hako/internal/image"
	"github.com/hako-dev/hako/internal/ocijson"
	"github.com/hako-dev/hako/internal/runtime"
	"github.com/hako-dev/hako/internal/snapshot"
)

// A Target is one generated file: the codecs of Types, in the package they belong to.
type Target struct {
	Dir   string // the package's directory, from the repository's root
	Path  string // its import path
	Types []any
	// Decoders keeps easyjson's decoders too (only for files hako writes itself: they match
	// member names exactly, where encoding/json ignores case).
	Decoders bool
	// Strict decoders fail on a member they do not know, for JSON hako does not write itself:
	// their caller decodes it again with encoding/json, which also takes other cases and
	// ignores what it does not know. They also decode {} into an empty map, as encoding/json
	// does (easyjson's make nil ones), and the file keeps no encoders.
	Strict bool
}

// File is the generated file's path, from the repository's root.
func (t Target) File() string {
	return filepath.Join(t.Dir, filepath.Base(t.Dir)+"_easyjson.go")
}

// Targets are every generated file.
var Targets = []Target{
	// The bundle's config.json, its seccomp section (the seccomp cache's key) and
	// libcontainer's state.json (docs/run.md).
	{Dir: "internal/ocijson", Path: "github.com/hako-dev/hako/internal/ocijson",
		Types: []any{ocijson.Spec{}, ocijson.Seccomp{}, ocijson.StateBody{}, ocijson.StateLate{}}},
	// The container record, written at create and again when the container runs, read by
	// the monitor as it starts and by every listing (`ps -a` decodes them all).
	{Dir: "internal/container", Path: "github.com/hako-dev/hako/internal/container",
		Types: []any{container.Container{}}, Decoders: true},
	// The image store's index, an image's manifest and config, read to resolve and create the
	// container of every run. Decoders only (the store writes them with encoding/json),
	// strict: manifests and configs come from image archives, registries and Docker too.
	{Dir: "internal/image", Path: "github.com/hako-dev/hako/internal/image",
		Types: []any{image.JSONIndex{}, image.JSONManifest{}, image.Config{}}, Decoders: true, Strict: true},
	// The runtime's kept cgroup search, read by every start (docs/run.md, "The processes").
	{Dir: "internal/runtime", Path: "github.com/hako-dev/hako/internal/runtime",
		Types: []any{runtime.JSONSearchCache{}}, Decoders: true},
	// The snapshotter's metadata, read and written at a container's create and removal.
	{Dir: "internal/snapshot", Path: "github.com/hako-dev/hako/internal/snapshot",
		Types: []any{snapshot.JSONMetadata{}, snapshot.JSONVersionInfo{}}, Decoders: true},
}

// Source is t's generated file.
func Source(t Target) ([]byte, error) {
	g := easyjson.NewGenerator(filepath.Base(t.File()))
	g.SetPkg(filepath.Base(t.Dir), t.Path)
	g.NoStdMarshalers() // no MarshalJSON: encoding/json keeps encoding these types its own way
	if t.Strict {
		g.DisallowUnknownFields()
	}
	for _, v := range t.Types {
		g.Add(v)
	}
	// Run writes the file's body to out and its header (package clause and imports) to
	// os.Stdout, as easyjson's own command runs it with its output file as stdout.
	header, err := os.CreateTemp("", "jsongen")
	if err != nil {
		return nil, err
	}
	defer os.Remove(header.Name())
	defer header.Close()
	stdout := os.Stdout
	os.Stdout = header
	var body bytes.Buffer
	err = g.Run(&body)
	os.Stdout = stdout
	if err != nil {
		return nil, fmt.Errorf("easyjson: %w", err)
	}
	head, err := os.ReadFile(header.Name())
	if err != nil {
		return nil, err
	}
	src, err := trim(append(head, body.Bytes()...), t.Decoders, t.Strict)
	if err != nil || !t.Strict {
		return src, err
	}
	return format.Source(emptyMap.ReplaceAll(src, []byte("if $2 == nil {\n$1$2 = make($3)\n}")))
}

var (
	decoder = regexp.MustCompile(`^(easyjson[0-9a-f]+Decode.*|UnmarshalEasyJSON|UnmarshalJSON)$`)
	encoder = regexp.MustCompile(`^(easyjson[0-9a-f]+Encode.*|MarshalEasyJSON|MarshalJSON)$`)
	// emptyMap is easyjson's map decoding, which makes {} a nil map: encoding/json's makes an
	// empty one (and, a member given twice, adds to the map it has).
	emptyMap = regexp.MustCompile(`if !in\.IsDelim\('\}'\) \{\n(\s*)(\S+) = make\(([^\n]*)\)\n\s*\} else \{\n\s*\S+ = nil\n\s*\}`)
)

// trim drops easyjson's decoders unless decoders (hako does not use them, and they do not
// compile for some of libcontainer's types: unix.CPUSet's elements are of an unexported type),
// its encoders if noEncoders, its blank uses of its imports, and the imports left without a use.
func trim(src []byte, decoders, noEncoders bool) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "easyjson.go", src, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("easyjson's output does not parse: %w", err)
	}
	decls := f.Decls[:0]
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && (!decoders && decoder.MatchString(fd.Name.Name) || noEncoders && encoder.MatchString(fd.Name.Name)) {
			continue
		}
		if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.VAR {
			continue // easyjson's "suppress unused package warning" block
		}
		decls = append(decls, d)
	}
	f.Decls = decls
	// easyjson's root package imports net/http (and with it crypto/tls and their
	// initialisers, in every hako process): its Marshaler interface, which the code asserts
	// for interface members, becomes a local one of the same method.
	local := false
	ast.Inspect(f, func(n ast.Node) bool {
		if ta, ok := n.(*ast.TypeAssertExpr); ok {
			if se, ok := ta.Type.(*ast.SelectorExpr); ok {
				if id, ok := se.X.(*ast.Ident); ok && id.Name == "easyjson" && se.Sel.Name == "Marshaler" {
					ta.Type = ast.NewIdent("easyjsonMarshaler")
					local = true
				}
			}
		}
		return true
	})
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if se, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := se.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	imports := f.Imports[:0]
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.IMPORT {
			continue
		}
		specs := gd.Specs[:0]
		for _, s := range gd.Specs {
			is := s.(*ast.ImportSpec)
			name := ""
			if is.Name != nil {
				name = is.Name.Name
			} else if p, err := strconv.Unquote(is.Path.Value); err == nil {
				name = filepath.Base(p)
			}
			if used[name] {
				specs = append(specs, s)
				imports = append(imports, is)
			}
		}
		gd.Specs = specs
	}
	f.Imports = imports
	if used["easyjson"] {
		return nil, errors.New("easyjson's code uses its root package, which imports net/http")
	}
	f.Comments = nil
	var out bytes.Buffer
	out.WriteString("// Code generated by tools/jsongen (easyjson). DO NOT EDIT.\n\n")
	if err := format.Node(&out, fset, f); err != nil {
		return nil, err
	}
	if local {
		out.WriteString("\n// easyjsonMarshaler is easyjson.Marshaler.\ntype easyjsonMarshaler interface{ MarshalEasyJSON(*jwriter.Writer) }\n")
	}
	return format.Source(out.Bytes())
}
