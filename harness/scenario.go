package harness

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/fixtures"
)

// Scenario is a parsed scenario file.
type Scenario struct {
	Name        string
	Description string
	File        string   // path within FS
	Fixtures    []string // "base", or fixture files relative to the scenario
	Steps       []*Step

	fsys      fs.FS        // where File and the files it names live
	fixtureAt []*yaml.Node // where each fixture set is named
	settings  settings     // the handle the scenario wants (see Options)
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
	order  []string              // field names as written, for errors in a stable order
	at     *yaml.Node            // the step's kind, where it begins
	sc     *Scenario
}

// The kinds of errors in scenario files. Every *[Error] of [Parse] and
// [ParseFile] wraps one of them, or the error of a file the scenario
// names (a fixture set's [*fixtures.Error], say), so that
// errors.Is(err, harness.ErrUnknownStep) holds for a misspelt step.
var (
	// ErrSyntax: the file is not YAML, as the YAML parser reads it.
	ErrSyntax = errors.New("harness: malformed YAML")
	// ErrAlias: the file uses a YAML anchor or alias.
	ErrAlias = errors.New("harness: YAML anchors and aliases are not allowed")
	// ErrUnknownStep: a step of a kind that does not exist.
	ErrUnknownStep = errors.New("harness: unknown step")
	// ErrUnknownField: a field a step, or a scenario, does not have.
	ErrUnknownField = errors.New("harness: unknown field")
	// ErrInvalid: any other mistake: a missing or mistyped field, a
	// reference to something no earlier step created, and the like.
	ErrInvalid = errors.New("harness: invalid scenario")
)

// Error is an error in a scenario file: it names the file, the line and
// the step, and the field when the error is in one.
type Error struct {
	File   string
	Line   int
	Column int
	Step   int    // 0 when not in a step
	Kind   string // the step's kind
	Field  string // the field at fault, for unknown fields
	Msg    string
	Err    error // one of the Err* kinds, or the error of a file the scenario names
}

// Unwrap returns the kind of the error ([ErrInvalid] when none is set).
func (e *Error) Unwrap() error {
	if e.Err == nil {
		return ErrInvalid
	}
	return e.Err
}

// Error formats the error as "harness: file:line:column: step N (kind):
// message".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Column > 0 {
		fmt.Fprintf(&b, "harness: %s:%d:%d: ", e.File, e.Line, e.Column)
	} else {
		fmt.Fprintf(&b, "harness: %s:%d: ", e.File, e.Line)
	}
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
	if err := sc.checkFiles(); err != nil {
		return nil, err
	}
	return sc, nil
}

// checkFiles checks the files the scenario names: its fixture sets parse,
// and the CSV files of its append steps exist.
func (sc *Scenario) checkFiles() error {
	for i, name := range sc.Fixtures {
		if name == "base" {
			continue
		}
		if _, err := fixtures.ParseFS(sc.fsys, sc.file(name)); err != nil {
			n := sc.fixtureAt[i]
			return &Error{File: sc.File, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf("fixture set %q: %v", name, err), Err: err}
		}
	}
	for _, st := range sc.Steps {
		if n := st.fields["csv"]; n != nil {
			if _, err := fs.Stat(sc.fsys, sc.file(n.Value)); err != nil {
				e := st.errf(n, "field \"csv\": %v", err)
				e.Err = err
				return e
			}
		}
	}
	return nil
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
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		return nil, syntaxError(file, data, err)
	}
	fail := func(n *yaml.Node, format string, args ...any) error {
		return &Error{File: file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)}
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: file, Line: 1, Column: 1, Msg: "empty scenario file"}
	}
	var next yaml.Node
	if err := dec.Decode(&next); err != io.EOF {
		if err != nil {
			return nil, syntaxError(file, data, err)
		}
		return nil, fail(&next, "a second YAML document: a scenario file holds one")
	}
	root := doc.Content[0]
	if err := noAliases(file, root); err != nil {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, fail(root, "want a mapping with name, fixtures and steps")
	}
	var stepsNode *yaml.Node
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if prev, dup := seen[k.Value]; dup {
			return nil, fail(k, "%q given twice (first at line %d)", k.Value, prev)
		}
		seen[k.Value] = k.Line
		switch k.Value {
		case "name":
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				return nil, fail(v, "name: want a non-empty string")
			}
			sc.Name = v.Value
		case "description":
			if v.Kind != yaml.ScalarNode {
				return nil, fail(v, "description: want a string")
			}
			sc.Description = v.Value
		case "fixtures":
			if err := v.Decode(&sc.Fixtures); err != nil || v.Kind != yaml.SequenceNode {
				return nil, fail(v, "fixtures: want a list of fixture sets (base, or files)")
			}
			for i, f := range sc.Fixtures {
				if f == "" {
					return nil, fail(v.Content[i], "fixtures: an empty name")
				}
			}
			sc.fixtureAt = v.Content
		case "steps":
			stepsNode = v
		case "sqlite_journal", "lock_timeout", "transaction", "transaction_control", "expect_cleanup":
			if err := sc.settings.parse(file, k, v); err != nil {
				return nil, err
			}
		default:
			e := fail(k, "unknown key %q%s (want %s)", k.Value, didYouMean(k.Value, scenarioKeys), strings.Join(scenarioKeys, ", ")).(*Error)
			e.Field, e.Err = k.Value, ErrUnknownField
			return nil, e
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
		if sn.Kind != yaml.MappingNode || len(sn.Content) == 0 {
			st.Kind = "?"
			return nil, st.errf(sn, "want a mapping with one key, the step's kind (one of %s)", strings.Join(stepKinds(), ", "))
		}
		k, v := sn.Content[0], sn.Content[1]
		st.Kind, st.at = k.Value, k
		spec, ok := steps[st.Kind]
		if !ok {
			e := st.errf(k, "unknown step %q%s (want one of %s)", st.Kind, didYouMean(st.Kind, stepKinds()), strings.Join(stepKinds(), ", "))
			e.Err = ErrUnknownStep
			return nil, e
		}
		if len(sn.Content) > 2 {
			// The usual slip: fields written level with the kind
			// instead of under it.
			extra := sn.Content[2]
			return nil, st.errf(extra, "%q is level with the step's kind: indent the step's fields under %s:", extra.Value, st.Kind)
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
			st.order = append(st.order, fk.Value)
		}
		if err := spec.check(st, names); err != nil {
			return nil, err
		}
		sc.Steps = append(sc.Steps, st)
	}
	return sc, nil
}

var scenarioKeys = []string{"name", "description", "fixtures", "steps", "sqlite_journal", "lock_timeout", "transaction", "transaction_control", "expect_cleanup"}

func noAliases(file string, n *yaml.Node) error {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return &Error{File: file, Line: n.Line, Column: n.Column, Msg: "YAML anchors and aliases are not allowed in scenarios", Err: ErrAlias}
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

func (n names) undefine(ns, name string) { delete(n[ns], name) }

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
	fDuration
	fStatements // a list of {conn: NAME, query: SQL}
)

var kindNames = map[fieldKind]string{
	fString: "a string", fInt: "an integer", fFloat: "a number", fBool: "true or false",
	fStrings: "a list of strings", fTable: "a table {columns: [...], rows: [[...], ...]}",
	fRows: "a list of rows", fMap: "a mapping of names to strings", fRange: "a range [from, to]",
	fDuration: "a duration such as 300ms or 1.5s", fStatements: "a list of {conn: NAME, query: SQL}",
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
	// ends names the field whose connection the step ends.
	ends string
	// exactlyOne lists sets of fields of which exactly one must be given.
	exactlyOne [][]string
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
	for _, name := range st.order {
		node := st.fields[name]
		f, ok := known[name]
		if !ok {
			var want []string
			for _, f := range spec.fields {
				want = append(want, f.name)
			}
			e := st.errf(st.keys[name], "unknown field %q%s (want %s)", name, didYouMean(name, want), strings.Join(want, ", "))
			e.Field, e.Err = name, ErrUnknownField
			return e
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
			if f.kind == fStatements {
				var err error
				if refs, err = st.checkStatements(name, node); err != nil {
					return err
				}
			}
			for _, r := range refs {
				if err := st.checkRef(name, f.ref, r, n); err != nil {
					return err
				}
			}
		}
	}
	for _, f := range spec.fields {
		if f.required && st.fields[f.name] == nil {
			return st.errf(nil, "missing field %q", f.name)
		}
	}
	for _, set := range spec.exactlyOne {
		var given []string
		for _, name := range set {
			if st.fields[name] != nil {
				given = append(given, name)
			}
		}
		if len(given) != 1 {
			return st.errf(nil, "want exactly one of %s (got %d)", strings.Join(set, ", "), len(given))
		}
	}
	if st.fields["mode"] != nil && st.fields["conn"] != nil {
		return st.errf(st.keys["conn"], "give mode or conn, not both: conn names a connection of its own, begun by a begin step")
	}
	if f := spec.ends; f != "" && st.fields[f] != nil {
		// A connection ended here is not there for later steps.
		defer n.undefine("conns", st.fields[f].Value)
	}
	for _, f := range spec.fields {
		v := st.fields[f.name]
		if f.defines == "" || v == nil {
			continue
		}
		if strings.Contains(v.Value, ".") {
			return st.errf(v, "field %q: %q: a name may not contain a dot, which marks fixture rows (table.label)", f.name, v.Value)
		}
		if st.Expect != "" {
			continue // a step expected to fail creates nothing
		}
		if prev, taken := n[f.defines][v.Value]; taken {
			return st.errf(v, "field %q: %s %q was already created by step %d", f.name, singular(f.defines), v.Value, prev)
		}
		n.define(f.defines, v.Value, st.Index)
	}
	return nil
}

// checkStatements checks a list of statements, each {conn: NAME, query:
// SQL}, two or more, and returns the nodes of their connections.
func (st *Step) checkStatements(field string, n *yaml.Node) ([]*yaml.Node, error) {
	if len(n.Content) < 2 {
		return nil, st.errf(n, "field %q: want two statements or more, to run at once", field)
	}
	var conns []*yaml.Node
	for i, item := range n.Content {
		var conn, query *yaml.Node
		if item.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(item.Content); j += 2 {
				k, v := item.Content[j], item.Content[j+1]
				switch {
				case k.Value == "conn" && conn == nil:
					conn = v
				case k.Value == "query" && query == nil:
					query = v
				default:
					return nil, st.errf(k, "field %q: statement %d: unexpected %q (want conn and query)", field, i+1, k.Value)
				}
			}
		}
		if conn == nil || query == nil || checkKind(conn, fString) != nil || checkKind(query, fString) != nil || query.Value == "" {
			return nil, st.errf(item, "field %q: statement %d: want {conn: NAME, query: SQL}", field, i+1)
		}
		conns = append(conns, conn)
	}
	return conns, nil
}

// fixtureTables are the namespaces whose things fixtures can hold, by the
// name of their table.
var fixtureTables = map[string]bool{"users": true, "teams": true, "machines": true}

// checkRef checks a reference of field to a thing of namespace ns: a name
// an earlier step created, or a fixture row "table.label" of that table
// (its label is checked once the fixtures are loaded).
func (st *Step) checkRef(field, ns string, r *yaml.Node, n names) error {
	if table, _, dotted := strings.Cut(r.Value, "."); dotted {
		switch {
		case !fixtureTables[ns]:
			return st.errf(r, "field %q: %q: a %s cannot come from fixtures; name one an earlier step created", field, r.Value, singular(ns))
		case table != ns:
			return st.errf(r, "field %q: %q is a row of %s, want a row of %s", field, r.Value, table, ns)
		case len(st.sc.Fixtures) == 0:
			return st.errf(r, "field %q: %q names a fixture row, and the scenario loads no fixtures", field, r.Value)
		}
		return nil
	}
	if !n.has(ns, r.Value) {
		switch {
		case ns == "conns":
			return st.errf(r, "field %q: connection %q was not begun by an earlier step, or was ended since (begin it with begin: {as: %s})",
				field, r.Value, r.Value)
		case !fixtureTables[ns]:
			return st.errf(r, "field %q: %s %q was not created by an earlier step (create it with as: %s)", field, singular(ns), r.Value, r.Value)
		}
		return st.errf(r, "field %q: %s %q was not created by an earlier step (create it with as: %s, or name a fixture row as %s.<label>)",
			field, singular(ns), r.Value, r.Value, ns)
	}
	return nil
}

func singular(ns string) string { return strings.TrimSuffix(ns, "s") }

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
	case fDuration:
		var d time.Duration
		if n.Kind != yaml.ScalarNode {
			return fmt.Errorf("not a duration")
		}
		if d, err = time.ParseDuration(n.Value); err == nil && (d <= 0 || d > time.Minute) {
			err = fmt.Errorf("out of range")
		}
	case fStatements:
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("not a list")
		}
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

var (
	yamlLine      = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	unknownAnchor = regexp.MustCompile(`unknown anchor '([^']*)' referenced`)
)

// syntaxError turns the YAML parser's error into an *Error naming the
// file and line. The parser names the line where the construct it could
// not finish began, which may be a line or two before the mistake. It
// names no line for an alias of an anchor it has not seen: the alias's
// first occurrence in data is given instead.
func syntaxError(file string, data []byte, err error) error {
	e := &Error{File: file, Line: 1, Msg: "YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Err: ErrSyntax}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = "YAML: " + m[2]
	} else if m := unknownAnchor.FindStringSubmatch(err.Error()); m != nil {
		if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
			e.Line = 1 + bytes.Count(data[:i], []byte("\n"))
			e.Column = i - bytes.LastIndexByte(data[:i], '\n')
		}
	}
	return e
}

// didYouMean suggests the candidate closest to s, when one is close.
func didYouMean(s string, candidates []string) string {
	best, bestD := "", len(s)/2+1
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
