package harness

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteSummary writes the results as an aligned table: scenario, backend,
// pass or fail, time; then the failures with their step and error.
func WriteSummary(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tBACKEND\tRESULT\tSTEPS\tTIME")
	passed := 0
	for _, r := range results {
		status := "FAIL"
		if r.Passed {
			status = "pass"
			passed++
		}
		ran := 0
		for _, s := range r.Steps {
			if !s.Skipped {
				ran++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.Scenario, r.Backend, status, ran, FormatDuration(r.Duration))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d passed, %d failed\n", passed, len(results)-passed)
	for _, r := range results {
		if r.Passed {
			continue
		}
		fmt.Fprintf(w, "\nFAIL %s on %s (%s)\n", r.Scenario, r.Backend, r.File)
		if r.Error != "" {
			fmt.Fprintf(w, "  %s\n", indent(r.Error))
		}
		for _, s := range r.Steps {
			if !s.Passed {
				fmt.Fprintf(w, "  step %d (%s, line %d): %s\n", s.Index, s.Kind, s.Line, indent(s.Error))
			}
		}
	}
	return nil
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n    ") }

// WriteJSON writes the results as JSON.
func WriteJSON(w io.Writer, results []Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Results []Result `json:"results"`
		Passed  int      `json:"passed"`
		Failed  int      `json:"failed"`
	}{results, count(results, true), count(results, false)})
}

func count(results []Result, passed bool) int {
	n := 0
	for _, r := range results {
		if r.Passed == passed {
			n++
		}
	}
	return n
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes the results as JUnit XML: one test suite per backend,
// one test case per scenario.
func WriteJUnit(w io.Writer, results []Result) error {
	var out junitSuites
	byBackend := map[string]*junitSuite{}
	var order []string
	var total time.Duration
	for _, r := range results {
		name := "dbharness." + string(r.Backend)
		s := byBackend[name]
		if s == nil {
			s = &junitSuite{Name: name}
			byBackend[name] = s
			order = append(order, name)
		}
		c := junitCase{Name: r.Scenario, Classname: name, Time: secs(r.Duration)}
		var log strings.Builder
		for _, st := range r.Steps {
			fmt.Fprintf(&log, "step %d %s: passed=%v %s\n", st.Index, st.Kind, st.Passed, st.Detail)
		}
		c.SystemOut = log.String()
		if !r.Passed {
			var b strings.Builder
			msg := r.Error
			for _, st := range r.Steps {
				if !st.Passed {
					msg = fmt.Sprintf("step %d (%s, line %d): %s", st.Index, st.Kind, st.Line, firstLine(st.Error))
					fmt.Fprintf(&b, "%s:%d: %s\n", r.File, st.Line, st.Error)
				}
			}
			if r.Error != "" {
				b.WriteString(r.Error)
			}
			c.Failure = &junitFailure{Message: msg, Body: b.String()}
			s.Failures++
			out.Failures++
		}
		s.Tests++
		out.Tests++
		s.Cases = append(s.Cases, c)
		total += r.Duration
	}
	for _, name := range order {
		s := byBackend[name]
		var d time.Duration
		for _, r := range results {
			if "dbharness."+string(r.Backend) == name {
				d += r.Duration
			}
		}
		s.Time = secs(d)
		out.Suites = append(out.Suites, *s)
	}
	out.Time = secs(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// FormatDuration prints a duration for people: milliseconds with one
// decimal below a second, seconds with two decimals above.
func FormatDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
