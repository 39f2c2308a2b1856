package harness

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/easyautoml/dbharness/dbtest"
)

// Scenario is a parsed scenario file.
type Scenario struct {
	Name        string
	Description string
	File        string   // path within FS
	Fixtures    []string // "base", or fixture files relative to the scenario
	Steps       []*Step

	fsys fs.FS // where File and the files it names live
}

// Step is one step of a scenario.
type Step struct {
	Index    int    // 1-based
	Kind     string // "append", "train", ...
	Line     int
	Backends []dbtest.Backend // run only on these; all when empty
	Expect   string           // the error kind expected, or ""

	fields map[string]*yaml.Node // values by field name
	keys   map[string]*yaml.Node // where each field is named
	at     *yaml.Node            // the step's kind, where it begins
	sc     *Scenario
}

// Error is an error in a scenario file: it names the file, the line and
// the step.
type Error struct {
	File   string
	Line   int
	Column int
	Step   int    // 0 when not in a step
	Kind   string // the step's kind
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "harness: %s:%d:%d: ", e.File, e.Line, e.Column)
	if e.Step > 0 {
		fmt.Fprintf(&b, "step %d (%s): ", e.Step, e.Kind)
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (s *Step) errf(n *yaml.Node, format string, args ...any) *Error {
	if n == nil {
		n = s.at
	}
	if n == nil {
		n = &yaml.Node{Line: s.Line, Column: 1}
	}
	return &Error{File: s.sc.File, Line: n.Line, Column: n.Column, Step: s.Index, Kind: s.Kind, Msg: fmt.Sprintf(format, args...)}
}

// ParseFile reads and parses one scenario file of fsys.
func ParseFile(fsys fs.FS, file string) (*Scenario, error) {
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	sc, err := Parse(file, data)
	if err != nil {
		return nil, err
	}
	sc.fsys = fsys
	return sc, nil
}

// ParseFS parses every scenario file (*.yaml, *.yml) at the root of fsys,
// in lexical order.
func ParseFS(fsys fs.FS) ([]*Scenario, error) {
	var names []string
	for _, p := range []string{"*.yaml", "*.yml"} {
		m, _ := fs.Glob(fsys, p)
		names = append(names, m...)
	}
	sort.Strings(names)
	var out []*Scenario
	seen := map[string]string{}
	for _, n := range names {
		sc, err := ParseFile(fsys, n)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[sc.Name]; dup {
			return nil, fmt.Errorf("harness: %s: scenario name %q is taken by %s", n, sc.Name, prev)
		}
		seen[sc.Name] = n
		out = append(out, sc)
	}
	return out, nil
}

// Parse parses a scenario file; file names it in errors. Everything that
// can be checked without a database is checked: the steps and their
// fields, their types, and references to things created by earlier steps.
func Parse(file string, data []byte) (*Scenario, error) {
	sc := &Scenario{File: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("harness: %s: %w", file, err)
	}
	fail := func(n *yaml.Node, format string, args ...any) error {
		return &Error{File: file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)}
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: file, Line: 1, Column: 1, Msg: "empty scenario file"}
	}
	root := doc.Content[0]
	if err := noAliases(file, root); err != nil {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, fail(root, "want a mapping with name, fixtures and steps")
	}
	var stepsNode *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "name":
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				return nil, fail(v, "name: want a non-empty string")
			}
			sc.Name = v.Value
		case "description":
			sc.Description = v.Value
		case "fixtures":
			if err := v.Decode(&sc.Fixtures); err != nil {
				return nil, fail(v, "fixtures: want a list of fixture sets (base, or files)")
			}
		case "steps":
			stepsNode = v
		default:
			return nil, fail(k, "unknown key %q (want name, description, fixtures, steps)", k.Value)
		}
	}
	if sc.Name == "" {
		return nil, fail(root, "missing name")
	}
	if stepsNode == nil || stepsNode.Kind != yaml.SequenceNode || len(stepsNode.Content) == 0 {
		n := root
		if stepsNode != nil {
			n = stepsNode
		}
		return nil, fail(n, "steps: want a non-empty list of steps")
	}
	names := newNames()
	for i, sn := range stepsNode.Content {
		st := &Step{Index: i + 1, Line: sn.Line, sc: sc, fields: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
		if sn.Kind != yaml.MappingNode || len(sn.Content) != 2 {
			st.Kind = "?"
			return nil, st.errf(sn, "want a mapping with one key, the step's kind (one of %s)", strings.Join(stepKinds(), ", "))
		}
		k, v := sn.Content[0], sn.Content[1]
		st.Kind, st.at = k.Value, k
		spec, ok := steps[st.Kind]
		if !ok {
			return nil, st.errf(k, "unknown step %q (want one of %s)", st.Kind, strings.Join(stepKinds(), ", "))
		}
		if v.Kind != yaml.MappingNode {
			return nil, st.errf(v, "want a mapping of fields")
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			fk, fv := v.Content[j], v.Content[j+1]
			switch fk.Value {
			case "expect_error":
				if fv.Kind != yaml.ScalarNode || errorKinds[fv.Value] == nil {
					return nil, st.errf(fv, "expect_error: want one of %s", strings.Join(errorKindNames(), ", "))
				}
				st.Expect = fv.Value
				continue
			case "backends":
				var bs []string
				if err := fv.Decode(&bs); err != nil {
					return nil, st.errf(fv, "backends: want a list such as [sqlite, postgres]")
				}
				for _, name := range bs {
					b, err := dbtest.ParseBackend(name)
					if err != nil {
						return nil, st.errf(fv, "backends: %v", err)
					}
					st.Backends = append(st.Backends, b)
				}
				continue
			}
			if _, dup := st.fields[fk.Value]; dup {
				return nil, st.errf(fk, "field %q given twice", fk.Value)
			}
			st.fields[fk.Value] = fv
			st.keys[fk.Value] = fk
		}
		if err := spec.check(st, names); err != nil {
			return nil, err
		}
		sc.Steps = append(sc.Steps, st)
	}
	return sc, nil
}

func noAliases(file string, n *yaml.Node) error {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return &Error{File: file, Line: n.Line, Column: n.Column, Msg: "YAML anchors and aliases are not allowed in scenarios"}
	}
	for _, c := range n.Content {
		if err := noAliases(file, c); err != nil {
			return err
		}
	}
	return nil
}

// names tracks what earlier steps created, by namespace, so that a
// reference to something not created is an error at parse time.
type names map[string]map[string]int // namespace → name → step

func newNames() names { return names{} }

func (n names) define(ns, name string, step int) {
	if n[ns] == nil {
		n[ns] = map[string]int{}
	}
	n[ns][name] = step
}

func (n names) has(ns, name string) bool { _, ok := n[ns][name]; return ok }

// fieldKind is the type of a step field.
type fieldKind int

const (
	fString fieldKind = iota
	fInt
	fFloat
	fBool
	fStrings // a list of strings
	fTable   // {columns: [...], rows: [[...]]}
	fRows    // a list of rows (lists of values)
	fMap     // a mapping of strings to strings
	fRange   // [from, to]
)

var kindNames = map[fieldKind]string{
	fString: "a string", fInt: "an integer", fFloat: "a number", fBool: "true or false",
	fStrings: "a list of strings", fTable: "a table {columns: [...], rows: [[...], ...]}",
	fRows: "a list of rows", fMap: "a mapping of names to strings", fRange: "a range [from, to]",
}

// field describes one field of a step.
type field struct {
	name     string
	kind     fieldKind
	required bool
	ref      string // namespace of the thing it refers to ("users", "machines", ...)
	defines  string // namespace of the thing it names
	oneOf    []string
}

// stepSpec describes a step kind: its fields and what it does.
type stepSpec struct {
	doc    string
	fields []field
	// exactlyOne lists fields of which exactly one must be given.
	exactlyOne []string
	run        func(*run, *Step) error
}

func stepKinds() []string {
	var k []string
	for name := range steps {
		k = append(k, name)
	}
	sort.Strings(k)
	return k
}

func (spec stepSpec) check(st *Step, n names) error {
	known := map[string]field{}
	for _, f := range spec.fields {
		known[f.name] = f
	}
	for name, node := range st.fields {
		f, ok := known[name]
		if !ok {
			var want []string
			for _, f := range spec.fields {
				want = append(want, f.name)
			}
			return st.errf(st.keys[name], "unknown field %q (want %s)", name, strings.Join(want, ", "))
		}
		if err := checkKind(node, f.kind); err != nil {
			return st.errf(node, "field %q: want %s", name, kindNames[f.kind])
		}
		if len(f.oneOf) > 0 && !contains(f.oneOf, node.Value) {
			return st.errf(node, "field %q: %q is not one of %s", name, node.Value, strings.Join(f.oneOf, ", "))
		}
		if f.ref != "" {
			refs := []*yaml.Node{node}
			if node.Kind == yaml.SequenceNode {
				refs = node.Content
			}
			for _, r := range refs {
				// "table.label" refers to a fixture row; checked once loaded.
				if !strings.Contains(r.Value, ".") && !n.has(f.ref, r.Value) {
					return st.errf(r, "field %q: %s %q was not created by an earlier step (create it with as: %s, or name a fixture row as %s.<label>)",
						name, strings.TrimSuffix(f.ref, "s"), r.Value, r.Value, f.ref)
				}
			}
		}
	}
	for _, f := range spec.fields {
		if f.required && st.fields[f.name] == nil {
			return st.errf(nil, "missing field %q", f.name)
		}
	}
	if len(spec.exactlyOne) > 0 {
		var given []string
		for _, name := range spec.exactlyOne {
			if st.fields[name] != nil {
				given = append(given, name)
			}
		}
		if len(given) != 1 {
			return st.errf(nil, "want exactly one of %s (got %d)", strings.Join(spec.exactlyOne, ", "), len(given))
		}
	}
	for _, f := range spec.fields {
		if f.defines != "" && st.fields[f.name] != nil {
			n.define(f.defines, st.fields[f.name].Value, st.Index)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func checkKind(n *yaml.Node, k fieldKind) error {
	var err error
	switch k {
	case fString:
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			return fmt.Errorf("not a string")
		}
	case fInt:
		var v int64
		err = n.Decode(&v)
	case fFloat:
		var v float64
		err = n.Decode(&v)
	case fBool:
		var v bool
		err = n.Decode(&v)
	case fStrings:
		var v []string
		err = n.Decode(&v)
	case fMap:
		var v map[string]string
		err = n.Decode(&v)
	case fRange:
		var v []int
		if err = n.Decode(&v); err == nil && (len(v) != 2 || v[0] < 0 || v[1] < v[0]) {
			err = fmt.Errorf("bad range")
		}
	case fRows:
		var v [][]any
		err = n.Decode(&v)
	case fTable:
		var v struct {
			Columns []string `yaml:"columns"`
			Rows    [][]any  `yaml:"rows"`
		}
		if err = n.Decode(&v); err == nil && len(v.Columns) == 0 {
			err = fmt.Errorf("no columns")
		}
	}
	return err
}

// str returns a string field ("" when absent).
func (s *Step) str(name string) string {
	if n := s.fields[name]; n != nil {
		return n.Value
	}
	return ""
}

func (s *Step) has(name string) bool { return s.fields[name] != nil }

func (s *Step) decode(name string, v any) error {
	if n := s.fields[name]; n != nil {
		return n.Decode(v)
	}
	return nil
}

// file resolves a path named by the scenario, relative to its file.
func (sc *Scenario) file(name string) string { return path.Join(path.Dir(sc.File), name) }
