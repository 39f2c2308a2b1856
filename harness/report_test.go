package harness_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/easyautoml/dbharness/harness"
)

// results are one passing and one failing scenario run, on two backends.
var results = []harness.Result{
	{Scenario: "short", File: "short.yaml", Backend: "sqlite", Passed: true, Duration: 1500 * time.Microsecond,
		Steps: []harness.StepResult{{Index: 1, Kind: "create_user", Line: 4, Passed: true, Detail: "user 1"}}},
	{Scenario: "a_much_longer_name", File: "long.yaml", Backend: "postgres", Passed: false, Duration: 2 * time.Second,
		Steps: []harness.StepResult{
			{Index: 1, Kind: "append", Line: 5, Passed: true, Detail: "failed as expected (locked)", LockReport: "dbtest lock report (postgres)\n  fix: share the transaction"},
			{Index: 2, Kind: "expect_count", Line: 7, Passed: false, Error: "t has 2 rows, want 3"},
			{Index: 3, Kind: "sql", Line: 9, Skipped: true, Passed: true},
		}},
}

func TestWriteSummary(t *testing.T) {
	var b bytes.Buffer
	if err := harness.WriteSummary(&b, results); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(out, "\n")
	want := []string{
		"SCENARIO            BACKEND   RESULT  STEPS  TIME",
		"short               sqlite    pass    1      1.5ms",
		"a_much_longer_name  postgres  FAIL    2      2.00s",
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("line %d:\n got %q\nwant %q", i+1, lines[i], w)
		}
	}
	for _, w := range []string{"1 passed, 1 failed", "FAIL a_much_longer_name on postgres (long.yaml)", "step 2 (expect_count, line 7): t has 2 rows, want 3"} {
		if !strings.Contains(out, w) {
			t.Errorf("summary lacks %q:\n%s", w, out)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := harness.WriteJSON(&b, results); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Results []struct {
			Scenario, File, Backend string
			Passed                  bool
			DurationNS              int64 `json:"duration_ns"`
			Steps                   []struct {
				Index      int
				Kind       string
				Line       int
				Passed     bool
				Skipped    bool
				Error      string
				LockReport string `json:"lock_report"`
			}
		}
		Passed, Failed int
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if doc.Passed != 1 || doc.Failed != 1 || len(doc.Results) != 2 {
		t.Fatalf("counts %d/%d, %d results", doc.Passed, doc.Failed, len(doc.Results))
	}
	r := doc.Results[1]
	if r.Scenario != "a_much_longer_name" || r.Backend != "postgres" || r.Passed || r.DurationNS != int64(2*time.Second) || len(r.Steps) != 3 {
		t.Errorf("result %+v", r)
	}
	if s := r.Steps[0]; !strings.HasPrefix(s.LockReport, "dbtest lock report") {
		t.Errorf("the lock report is missing: %+v", s)
	}
	if s := r.Steps[1]; s.Kind != "expect_count" || s.Line != 7 || s.Passed || s.Error == "" {
		t.Errorf("failed step %+v", s)
	}
	if !r.Steps[2].Skipped {
		t.Errorf("skipped step %+v", r.Steps[2])
	}
}

func TestWriteJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := harness.WriteJUnit(&b, results); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Suites   []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Cases    []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Time      string `xml:"time,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
					Body    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if doc.Tests != 2 || doc.Failures != 1 || len(doc.Suites) != 2 {
		t.Fatalf("tests %d, failures %d, %d suites\n%s", doc.Tests, doc.Failures, len(doc.Suites), b.String())
	}
	if s := doc.Suites[0]; s.Name != "dbharness.sqlite" || s.Tests != 1 || s.Failures != 0 || s.Cases[0].Failure != nil || s.Cases[0].Time != "0.002" {
		t.Errorf("sqlite suite %+v", s)
	}
	c := doc.Suites[1].Cases[0]
	if c.Name != "a_much_longer_name" || c.Classname != "dbharness.postgres" || c.Failure == nil ||
		c.Failure.Message != "step 2 (expect_count, line 7): t has 2 rows, want 3" ||
		!strings.Contains(c.Failure.Body, "long.yaml:7: t has 2 rows, want 3") {
		t.Errorf("failed case %+v", c)
	}
}
