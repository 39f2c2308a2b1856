package harness

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/easyautoml/dbharness/dbtest"
)

// HTMLReport is what [WriteHTML] writes: the results of scenario runs, of
// lock-bug reproductions ([ReproLock]), or both.
type HTMLReport struct {
	Title   string // the page's title; "dbharness report" when empty
	Results []Result
	Repro   []PatternResult
}

// WriteHTML writes the report as one self-contained HTML page: no scripts,
// no fonts, no images or style sheets from elsewhere, so that it can be
// kept as a CI artifact and opened anywhere. The page has a summary table
// of the scenarios (scenario, backend, result, steps, time), then every
// lock report of the run drawn as a chart, then each scenario's steps (a
// failed scenario's open, with its error and diff) and each reproduction.
//
// A lock chart (inline SVG) has one lane per connection and time running
// left to right. Each lock a connection held is a bar, as long as it held
// it and coloured by its level (on SQLite SHARED, RESERVED, PENDING,
// EXCLUSIVE, from the tracing VFS's timeline); a lock that was refused is
// a cross; a wait that failed is a hatched bar. Server reports have no
// timeline: their charts show each holder's lock from when it was taken,
// and the waiter's wait, up to the report.
//
// The page is well-formed XML as well as HTML, so that tools can read it
// with an XML parser.
func WriteHTML(w io.Writer, r HTMLReport) error {
	v := htmlView{Title: r.Title}
	if v.Title == "" {
		v.Title = "dbharness report"
	}
	byBackend := map[dbtest.Backend]*backendCount{}
	for i, res := range r.Results {
		v.Total++
		if res.Passed {
			v.Passed++
		}
		bc := byBackend[res.Backend]
		if bc == nil {
			bc = &backendCount{Backend: string(res.Backend)}
			byBackend[res.Backend] = bc
			v.Backends = append(v.Backends, bc)
		}
		bc.Total++
		if res.Passed {
			bc.Passed++
		}
		hr := htmlResult{Result: res, ID: fmt.Sprintf("scenario-%d", i+1), Time: FormatDuration(res.Duration), Failure: res.Failure()}
		for _, s := range res.Steps {
			if !s.Skipped {
				hr.Ran++
			}
			hs := htmlStep{StepResult: s, Time: FormatDuration(s.Duration)}
			if s.Lock != nil {
				if c := newLockChart(s.Lock); c != nil {
					hs.ChartID = fmt.Sprintf("lock-%d", len(v.Charts)+1)
					v.Charts = append(v.Charts, htmlChart{ID: hs.ChartID, Chart: c, Report: s.LockReport,
						Where:  fmt.Sprintf("%s on %s, step %d (%s, %s:%d)", res.Scenario, res.Backend, s.Index, s.Kind, res.File, s.Line),
						Anchor: hr.ID, Outcome: stepOutcome(s)})
				}
			}
			hr.Steps = append(hr.Steps, hs)
		}
		v.Results = append(v.Results, hr)
		if res.Passed {
			v.Others = append(v.Others, hr)
		} else {
			v.Failures = append(v.Failures, hr)
		}
	}
	for i, p := range r.Repro {
		hp := htmlPattern{PatternResult: p, ID: fmt.Sprintf("pattern-%d", i+1), Time: FormatDuration(p.Elapsed)}
		if c := newLockChart(p.Lock); c != nil {
			hp.ChartID = fmt.Sprintf("lock-%d", len(v.Charts)+1)
			v.Charts = append(v.Charts, htmlChart{ID: hp.ChartID, Chart: c, Report: p.Report,
				Where:  fmt.Sprintf("pattern %d on %s: %s", p.Pattern.N, p.Backend, p.Pattern.Name),
				Anchor: hp.ID, Outcome: reproOutcome(p)})
		}
		if p.OK {
			v.ReproOK++
		}
		v.Patterns = append(v.Patterns, hp)
	}
	return htmlPage.Execute(w, v)
}

type htmlView struct {
	Title         string
	Total, Passed int
	Backends      []*backendCount
	Results       []htmlResult
	Failures      []htmlResult // the failed results, shown first, open
	Others        []htmlResult
	Charts        []htmlChart
	Patterns      []htmlPattern
	ReproOK       int
}

type backendCount struct {
	Backend       string
	Total, Passed int
}

type htmlResult struct {
	Result
	ID      string
	Time    string
	Ran     int
	Failure string
	Steps   []htmlStep
}

type htmlStep struct {
	StepResult
	Time    string
	ChartID string
}

type htmlChart struct {
	ID      string
	Where   string
	Anchor  string
	Outcome string
	Chart   *lockChart
	Report  string
}

type htmlPattern struct {
	PatternResult
	ID      string
	Time    string
	ChartID string
}

func stepOutcome(s StepResult) string {
	switch {
	case !s.Passed:
		return "the step failed"
	case strings.HasPrefix(s.Detail, "failed as expected"):
		return "an expected lock error"
	}
	return "the step passed"
}

func reproOutcome(p PatternResult) string {
	if p.OK {
		return "as documented, in " + FormatDuration(p.Elapsed)
	}
	return "NOT as documented"
}

//go:embed html.tmpl
var htmlTemplate string

var htmlPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"f":        func(x float64) string { return fmt.Sprintf("%.1f", x) },
	"headline": headline,
	"lines":    diffLines,
}).Parse(htmlTemplate))

// diffLine is a line of an error, classed for colour: the headline, the
// lines a diff removes and adds, and the rest.
type diffLine struct{ Class, Text string }

func diffLines(s string) []diffLine {
	var out []diffLine
	for i, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		c := ""
		switch {
		case i == 0:
			c = "head"
		case strings.HasPrefix(line, "-"):
			c = "del"
		case strings.HasPrefix(line, "+"):
			c = "add"
		}
		out = append(out, diffLine{c, line})
	}
	return out
}

// headline is the first line of a failure, without the announcement of
// what follows it.
func headline(s string) string {
	h := firstLine(s)
	if i := strings.Index(h, "; the rows (-want +got)"); i > 0 {
		h = h[:i]
	}
	return strings.TrimSuffix(h, ":")
}
