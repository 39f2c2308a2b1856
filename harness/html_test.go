package harness_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/harness"
)

// node is an element of a parsed page.
type node struct {
	Name     string
	Attr     map[string]string
	Children []*node
	Text     string // the text directly inside it
}

// parseXML reads a page as XML: the report must be well-formed.
func parseXML(t *testing.T, page []byte) *node {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = true
	root := &node{Name: "#document"}
	stack := []*node{root}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the page is not well-formed: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			n := &node{Name: x.Name.Local, Attr: map[string]string{}}
			for _, a := range x.Attr {
				n.Attr[a.Name.Local] = a.Value
			}
			top := stack[len(stack)-1]
			top.Children = append(top.Children, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			stack[len(stack)-1].Text += string(x)
		}
	}
	if len(stack) != 1 {
		t.Fatalf("%d elements left open", len(stack)-1)
	}
	return root
}

// find returns the elements under n (n included) named name whose class
// attribute has class (any, when class is "").
func (n *node) find(name, class string) []*node {
	var out []*node
	var walk func(*node)
	walk = func(m *node) {
		if m.Name == name && (class == "" || hasClass(m, class)) {
			out = append(out, m)
		}
		for _, c := range m.Children {
			walk(c)
		}
	}
	walk(n)
	return out
}

func hasClass(n *node, class string) bool {
	for _, c := range strings.Fields(n.Attr["class"]) {
		if c == class {
			return true
		}
	}
	return false
}

// text is all the text under n.
func (n *node) text() string {
	var b strings.Builder
	var walk func(*node)
	walk = func(m *node) {
		b.WriteString(m.Text)
		for _, c := range m.Children {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func num(t *testing.T, n *node, attr string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(n.Attr[attr], 64)
	if err != nil {
		t.Fatalf("<%s> %s=%q: %v", n.Name, attr, n.Attr[attr], err)
	}
	return f
}

// sqliteReport is a self-deadlock as the tracing VFS reports it: the test's
// connection takes SHARED then RESERVED; a separate connection takes
// SHARED and is denied RESERVED.
var sqliteReport = &dbtest.LockReport{
	Backend: dbtest.SQLite, Database: "/dbtest-x-1",
	Waiter: dbtest.ConnInfo{ID: 2, Role: dbtest.RoleRaw, Location: "export.go:41"},
	Wanted: "RESERVED", Statement: "INSERT INTO m1 VALUES (2)", Waited: 40 * time.Microsecond,
	LockTimeout: time.Second, SelfDeadlock: true,
	Holders: []dbtest.LockHolder{{Conn: dbtest.ConnInfo{ID: 1, Role: dbtest.RoleTestTx, Location: "workflow_test.go:17"},
		Lock: "RESERVED", Since: 200 * time.Microsecond, HeldFor: 500 * time.Microsecond, Statement: "INSERT INTO m1 VALUES (1)"}},
	Timeline: []dbtest.LockEvent{
		{At: 100 * time.Microsecond, Conn: 1, Action: "acquired", Lock: "SHARED", Statement: "INSERT INTO m1 VALUES (1)"},
		{At: 200 * time.Microsecond, Conn: 1, Action: "acquired", Lock: "RESERVED"},
		{At: 600 * time.Microsecond, Conn: 2, Action: "acquired", Lock: "SHARED", Statement: "INSERT INTO m1 VALUES (2)"},
		{At: 700 * time.Microsecond, Conn: 2, Action: "denied", Lock: "RESERVED"},
	},
	Remedy: "write through the test's handle",
}

// serverReport is a PostgreSQL report: no timeline, one holder, a waiter.
var serverReport = &dbtest.LockReport{
	Backend: dbtest.Postgres, Database: "dbtest_x_1",
	Waiter: dbtest.ConnInfo{ID: 4501, Role: dbtest.RoleRaw, Location: "append.go:203"},
	Wanted: "ShareLock on transactionid", Waited: 59 * time.Millisecond, LockTimeout: 5 * time.Second, SelfDeadlock: true,
	Holders: []dbtest.LockHolder{{Conn: dbtest.ConnInfo{ID: 4496, Role: dbtest.RoleTestTx, Location: "run.go:224"},
		Lock: "RowExclusiveLock", Since: 0, HeldFor: 62 * time.Millisecond}},
}

func htmlResults() []harness.Result {
	return []harness.Result{
		{Scenario: "lock_bug", File: "lock_bug.yaml", Backend: dbtest.SQLite, Passed: true, Duration: 3 * time.Millisecond,
			Steps: []harness.StepResult{
				{Index: 1, Kind: "append", Line: 5, Passed: true, Detail: "failed as expected (locked): database is locked",
					LockReport: sqliteReport.String(), Lock: sqliteReport},
			}},
		{Scenario: "lock_bug", File: "lock_bug.yaml", Backend: dbtest.Postgres, Passed: true, Duration: 70 * time.Millisecond,
			Steps: []harness.StepResult{
				{Index: 1, Kind: "append", Line: 5, Passed: true, Detail: "failed as expected (locked)",
					LockReport: serverReport.String(), Lock: serverReport},
			}},
		{Scenario: "stock <&> levels", File: "stock.yaml", Backend: dbtest.SQLite, Passed: false, Duration: 2 * time.Millisecond,
			Steps: []harness.StepResult{
				{Index: 1, Kind: "expect_rows", Line: 8, Passed: false,
					Error: "t row 2, column qty: got 39, want 40; the rows (-want +got):\n   row  qty\n-  2    40\n+  2    39"},
			}},
	}
}

// TestWriteHTML checks the page's structure: well-formed, self-contained,
// a summary row per result, the failure with its diff classed line by
// line, and for each lock report a chart with a lane per connection and a
// bar per lock held, in time order, coloured by level.
func TestWriteHTML(t *testing.T) {
	var b bytes.Buffer
	if err := harness.WriteHTML(&b, harness.HTMLReport{Title: "nightly", Results: htmlResults()}); err != nil {
		t.Fatal(err)
	}
	page := parseXML(t, b.Bytes())

	// Self-contained: nothing loaded from elsewhere.
	for _, name := range []string{"script", "link", "img", "iframe", "object"} {
		if n := page.find(name, ""); len(n) > 0 {
			t.Errorf("the page has <%s>: it must not load anything", name)
		}
	}
	for _, a := range page.find("a", "") {
		if !strings.HasPrefix(a.Attr["href"], "#") {
			t.Errorf("a link leaves the page: %q", a.Attr["href"])
		}
	}
	if !strings.Contains(b.String(), "<style>") {
		t.Error("no inline style sheet")
	}
	if title := page.find("title", ""); len(title) == 0 || title[0].text() != "nightly" {
		t.Errorf("title: %v", title)
	}

	rows := page.find("table", "summary")[0].find("tr", "")
	if len(rows) != 4 { // the head and three results
		t.Fatalf("%d summary rows, want 4", len(rows))
	}
	if got := rows[3].text(); !strings.Contains(got, "stock <&> levels") || !strings.Contains(got, "FAIL") ||
		!strings.Contains(got, "got 39, want 40") {
		t.Errorf("the failed result's row reads %q", got)
	}

	failures := page.find("section", "")
	var failed *node
	for _, s := range failures {
		if s.Attr["id"] == "failures" {
			failed = s
		}
	}
	if failed == nil {
		t.Fatal("no Failures section")
	}
	del, add := failed.find("span", "del"), failed.find("span", "add")
	if len(del) != 1 || len(add) != 1 || del[0].text() != "-  2    40" || add[0].text() != "+  2    39" {
		t.Errorf("the diff's lines are not classed: del %v, add %v", del, add)
	}

	charts := page.find("svg", "lock-timeline")
	if len(charts) != 2 {
		t.Fatalf("%d lock charts, want 2", len(charts))
	}

	// SQLite: two lanes; conn 1 holds SHARED then RESERVED to the end,
	// conn 2 holds SHARED and is denied RESERVED.
	sq := charts[0]
	lanes := sq.find("g", "lane")
	if len(lanes) != 2 || lanes[0].Attr["data-conn"] != "1" || lanes[1].Attr["data-conn"] != "2" {
		t.Fatalf("lanes: %+v", lanes)
	}
	if l := lanes[0].text(); !strings.Contains(l, "conn #1 · test transaction") || !strings.Contains(l, "workflow_test.go:17") {
		t.Errorf("lane 1 is labelled %q", l)
	}
	locks := sq.find("g", "locks")
	if len(locks) != 2 {
		t.Fatalf("%d lanes of locks, want 2", len(locks))
	}
	bars1 := locks[0].find("rect", "bar")
	if len(bars1) != 2 || bars1[0].Attr["data-level"] != "SHARED" || bars1[1].Attr["data-level"] != "RESERVED" {
		t.Fatalf("conn 1's bars: %+v", bars1)
	}
	if x0, x1 := num(t, bars1[0], "x"), num(t, bars1[1], "x"); !(x0 < x1) {
		t.Errorf("SHARED at x=%v is not before RESERVED at x=%v", x0, x1)
	}
	if end, w := num(t, bars1[0], "x")+num(t, bars1[0], "width"), num(t, bars1[1], "x"); end-w > 0.5 || w-end > 0.5 {
		t.Errorf("SHARED ends at %v, RESERVED begins at %v: the upgrade leaves a gap", end, w)
	}
	if bars1[0].Attr["fill"] == bars1[1].Attr["fill"] {
		t.Errorf("SHARED and RESERVED have one colour, %s", bars1[0].Attr["fill"])
	}
	bars2 := locks[1].find("rect", "bar")
	if len(bars2) != 1 || bars2[0].Attr["data-level"] != "SHARED" {
		t.Fatalf("conn 2's bars: %+v", bars2)
	}
	if num(t, bars2[0], "x") <= num(t, bars1[1], "x") {
		t.Error("conn 2's SHARED (at +0.6ms) is drawn before conn 1's RESERVED (at +0.2ms)")
	}
	marks := locks[1].find("g", "denied-mark")
	if len(marks) != 1 || marks[0].Attr["data-level"] != "RESERVED" || !strings.Contains(marks[0].text(), "denied RESERVED") {
		t.Fatalf("conn 2's refusal: %+v", marks)
	}
	if len(locks[0].find("g", "denied-mark")) != 0 {
		t.Error("conn 1 was refused nothing")
	}
	// The report in words is there too, folded.
	if !strings.Contains(b.String(), "dbtest lock report (sqlite, database /dbtest-x-1)") {
		t.Error("the lock report's text is missing")
	}

	// PostgreSQL: the holder's lock, and the waiter's wait, hatched.
	pg := charts[1]
	if lanes := pg.find("g", "lane"); len(lanes) != 2 || lanes[0].Attr["data-conn"] != "4496" || lanes[1].Attr["data-conn"] != "4501" {
		t.Fatalf("server lanes: %+v", lanes)
	}
	held, waiting := pg.find("rect", "held"), pg.find("rect", "waiting")
	if len(held) != 1 || held[0].Attr["data-level"] != "RowExclusiveLock" || len(waiting) != 1 ||
		waiting[0].Attr["data-level"] != "ShareLock on transactionid" || waiting[0].Attr["fill"] != "url(#waiting)" {
		t.Fatalf("server bars: held %+v, waiting %+v", held, waiting)
	}
	if hx, wx := num(t, held[0], "x"), num(t, waiting[0], "x"); !(hx < wx) {
		t.Errorf("the wait (x=%v) does not begin after the lock was taken (x=%v)", wx, hx)
	}
}

// TestWriteHTMLRepro: reproductions get a section and their own charts.
func TestWriteHTMLRepro(t *testing.T) {
	p := harness.LockPatterns()[0]
	var b bytes.Buffer
	err := harness.WriteHTML(&b, harness.HTMLReport{Repro: []harness.PatternResult{
		{Pattern: p, Backend: dbtest.SQLite, OK: true, Happened: "failed at once", Report: sqliteReport.String(), Lock: sqliteReport, Elapsed: time.Millisecond},
		{Pattern: p, Backend: dbtest.MySQL, OK: false, Happened: "waited", Err: "boom"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	page := parseXML(t, b.Bytes())
	if n := len(page.find("article", "pattern")); n != 2 {
		t.Errorf("%d patterns, want 2", n)
	}
	if n := len(page.find("svg", "lock-timeline")); n != 1 {
		t.Errorf("%d charts, want 1 (the MySQL run has no report)", n)
	}
	if s := page.find("article", "fail"); len(s) != 1 || !strings.Contains(s[0].text(), "NOT AS DOCUMENTED") {
		t.Errorf("the failed reproduction: %+v", s)
	}
	if len(page.find("table", "summary")) != 0 {
		t.Error("a summary table of scenarios with no scenarios")
	}
}
