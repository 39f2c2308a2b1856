package repocheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// root is the module's root directory, two levels up from this package.
const root = "../.."

// packageDirs lists the directories of the main module that hold Go
// packages: nested modules (bench/, examples/...), testdata and hidden
// directories are not part of it.
func packageDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
			return filepath.SkipDir
		}
		if path != root {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // a module of its own
			}
		}
		if m, _ := filepath.Glob(filepath.Join(path, "*.go")); len(m) > 0 {
			dirs = append(dirs, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 5 {
		t.Fatalf("found only %d package directories under %s: %v", len(dirs), root, dirs)
	}
	return dirs
}

// parseDir parses the non-test Go files of a directory, with comments.
func parseDir(t *testing.T, fset *token.FileSet, dir string) map[string][]*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string][]*ast.File{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		pkgs[f.Name.Name] = append(pkgs[f.Name.Name], f)
	}
	return pkgs
}

// TestExportedNamesDocumented checks that every package has a package
// comment and that every exported name of a library package has a doc
// comment: functions, methods of exported types, types, and constants
// and variables (a comment on their group counts, as in go doc).
func TestExportedNamesDocumented(t *testing.T) {
	fset := token.NewFileSet()
	var missing []string
	for _, dir := range packageDirs(t) {
		for name, files := range parseDir(t, fset, dir) {
			if !hasPackageDoc(files) {
				missing = append(missing, filepath.ToSlash(dir)+": package "+name+" has no package comment")
			}
			if name == "main" {
				continue
			}
			for _, f := range files {
				missing = append(missing, undocumented(fset, f)...)
			}
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Error(m)
	}
}

func hasPackageDoc(files []*ast.File) bool {
	for _, f := range files {
		if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
			return true
		}
	}
	return false
}

// undocumented lists the exported names of f without a doc comment.
func undocumented(fset *token.FileSet, f *ast.File) []string {
	var out []string
	miss := func(pos token.Pos, what string) {
		p := fset.Position(pos)
		out = append(out, rel(p.Filename)+":"+strconv.Itoa(p.Line)+": "+what+" has no doc comment")
	}
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() {
				continue
			}
			what := "func " + d.Name.Name
			if d.Recv != nil {
				recv := receiverName(d.Recv.List[0].Type)
				if !ast.IsExported(recv) {
					continue // not in the package's documentation
				}
				what = "method " + recv + "." + d.Name.Name
			}
			if d.Doc == nil {
				miss(d.Pos(), what)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() && s.Doc == nil && d.Doc == nil {
						miss(s.Pos(), "type "+s.Name.Name)
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() && s.Doc == nil && s.Comment == nil && d.Doc == nil {
							miss(n.Pos(), d.Tok.String()+" "+n.Name)
						}
					}
				}
			}
		}
	}
	return out
}

// receiverName is the name of a method's receiver type.
func receiverName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return receiverName(x.X)
	case *ast.IndexExpr:
		return receiverName(x.X)
	case *ast.IndexListExpr:
		return receiverName(x.X)
	case *ast.Ident:
		return x.Name
	}
	return ""
}

// TestNoUnexportedTypesInExportedAPI checks that no exported function,
// method of an exported type, exported type, field, variable or constant
// shows an unexported type of the package: a user could not name it, and
// the documentation would show a type it does not describe.
func TestNoUnexportedTypesInExportedAPI(t *testing.T) {
	fset := token.NewFileSet()
	var found []string
	for _, dir := range packageDirs(t) {
		for name, files := range parseDir(t, fset, dir) {
			if name == "main" {
				continue
			}
			for _, f := range files {
				found = append(found, leaks(fset, f)...)
			}
		}
	}
	sort.Strings(found)
	for _, m := range found {
		t.Error(m)
	}
}

// leaks lists the exported declarations of f whose signature names an
// unexported type.
func leaks(fset *token.FileSet, f *ast.File) []string {
	var out []string
	check := func(what string, node ast.Node, typeParams ...*ast.FieldList) {
		if node == nil || reflect.ValueOf(node).IsNil() {
			return
		}
		for _, id := range unexportedIdents(node, typeParams) {
			p := fset.Position(id.Pos())
			out = append(out, rel(p.Filename)+":"+strconv.Itoa(p.Line)+": "+what+" shows the unexported type "+id.Name)
		}
	}
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() {
				continue
			}
			what := "func " + d.Name.Name
			var tparams []*ast.FieldList
			if d.Type.TypeParams != nil {
				tparams = append(tparams, d.Type.TypeParams)
			}
			if d.Recv != nil {
				recv := receiverName(d.Recv.List[0].Type)
				if !ast.IsExported(recv) {
					continue
				}
				what = "method " + recv + "." + d.Name.Name
				tparams = append(tparams, receiverTypeParams(d.Recv.List[0].Type)...)
			}
			check(what, d.Type.Params, tparams...)
			check(what, d.Type.Results, tparams...)
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					var tparams []*ast.FieldList
					if s.TypeParams != nil {
						tparams = append(tparams, s.TypeParams)
					}
					what := "type " + s.Name.Name
					switch tt := s.Type.(type) {
					case *ast.StructType:
						for _, fld := range tt.Fields.List {
							for _, n := range fld.Names {
								if n.IsExported() {
									check(what+" field "+n.Name, fld.Type, tparams...)
								}
							}
						}
					case *ast.InterfaceType:
						for _, m := range tt.Methods.List {
							for _, n := range m.Names {
								if n.IsExported() {
									check(what+" method "+n.Name, m.Type, tparams...)
								}
							}
						}
					default:
						check(what, s.Type, tparams...)
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() {
							check(d.Tok.String()+" "+n.Name, s.Type)
						}
					}
				}
			}
		}
	}
	return out
}

// unexportedIdents finds the identifiers of node that name an unexported
// type of the package: not a predeclared type, not a type parameter, not
// the selected name of a qualified identifier, not a parameter's name.
func unexportedIdents(node ast.Node, typeParams []*ast.FieldList) []*ast.Ident {
	params := map[string]bool{}
	for _, fl := range typeParams {
		for _, f := range fl.List {
			for _, n := range f.Names {
				params[n.Name] = true
			}
		}
	}
	names := map[*ast.Ident]bool{} // names of parameters and fields, not types
	var out []*ast.Ident
	ast.Inspect(node, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.SelectorExpr:
			return false // pkg.Name: another package's exported name
		case *ast.Field:
			for _, id := range x.Names {
				names[id] = true
			}
		case *ast.Ident:
			if names[x] || x.IsExported() || predeclared[x.Name] || params[x.Name] {
				return true
			}
			out = append(out, x)
		}
		return true
	})
	return out
}

func receiverTypeParams(e ast.Expr) []*ast.FieldList {
	var idents []*ast.Ident
	switch x := e.(type) {
	case *ast.StarExpr:
		return receiverTypeParams(x.X)
	case *ast.IndexExpr:
		if id, ok := x.Index.(*ast.Ident); ok {
			idents = append(idents, id)
		}
	case *ast.IndexListExpr:
		for _, ix := range x.Indices {
			if id, ok := ix.(*ast.Ident); ok {
				idents = append(idents, id)
			}
		}
	}
	if len(idents) == 0 {
		return nil
	}
	return []*ast.FieldList{{List: []*ast.Field{{Names: idents}}}}
}

var predeclared = map[string]bool{
	"any": true, "bool": true, "byte": true, "comparable": true, "complex64": true,
	"complex128": true, "error": true, "float32": true, "float64": true, "int": true,
	"int8": true, "int16": true, "int32": true, "int64": true, "rune": true,
	"string": true, "uint": true, "uint8": true, "uint16": true, "uint32": true,
	"uint64": true, "uintptr": true,
}

func rel(path string) string {
	if r, err := filepath.Rel(root, path); err == nil {
		return filepath.ToSlash(r)
	}
	return path
}

// TestCheckersFindProblems runs both checks on a file with one problem of
// each kind, so that a check that finds nothing cannot pass unnoticed.
func TestCheckersFindProblems(t *testing.T) {
	const src = `// Package p is an example.
package p

type config struct{}

// Option configures.
type Option func(*config) error

type Undocumented int

// Documented returns an unexported type.
func Documented() *config { return nil }

func Bare() {}

// Fine is documented and shows only exported types.
func Fine[T any](v T, o Option, m map[string]int) (T, error) { var e error; return v, e }

// Grouped constants: the group's comment documents them.
const (
	A = 1
	B = 2
)

var Lone = 3

// Holder holds.
type Holder struct {
	Exported config
	hidden   config
}

func (Holder) Method() {}

func (c config) String() string { return "" }
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	wantDocs := []string{
		"p.go:9: type Undocumented has no doc comment",
		"p.go:14: func Bare has no doc comment",
		"p.go:25: var Lone has no doc comment",
		"p.go:33: method Holder.Method has no doc comment",
	}
	if got := undocumented(fset, f); !slices.Equal(got, wantDocs) {
		t.Errorf("undocumented:\n got %q\nwant %q", got, wantDocs)
	}
	wantLeaks := []string{
		"p.go:7: type Option shows the unexported type config",
		"p.go:12: func Documented shows the unexported type config",
		"p.go:29: type Holder field Exported shows the unexported type config",
	}
	if got := leaks(fset, f); !slices.Equal(got, wantLeaks) {
		t.Errorf("leaks:\n got %q\nwant %q", got, wantLeaks)
	}
}
