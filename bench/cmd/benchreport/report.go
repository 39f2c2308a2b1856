package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/easyautoml/dbharness/bench/internal/measure"
)

// Unit says how an arm's figures read: seconds per operation shown as a
// duration, or a rate (rows per second) computed from them.
type Unit string

const (
	PerOp   Unit = "time/op"
	RowsPer Unit = "rows/s"
	Bytes   Unit = "MiB"
)

// ArmFigure is one tool's figure in a comparison.
type ArmFigure struct {
	Tool   string          `json:"tool"`
	Ops    int             `json:"ops_per_rep"`
	Unit   Unit            `json:"unit"`
	Value  measure.Summary `json:"value"`  // in Unit: seconds, rows/s or MiB
	Values []float64       `json:"values"` // one per repetition
}

// RatioFigure compares two arms repetition by repetition. Ratios read
// "how many times better the first tool is": the other's time over
// dbharness's time, or dbharness's rate over the other's.
type RatioFigure struct {
	Label  string          `json:"label"`
	Value  measure.Summary `json:"value"`
	Values []float64       `json:"values"`
}

// Figure is one measured comparison.
type Figure struct {
	Section string        `json:"section"`
	Name    string        `json:"name"`
	Arms    []ArmFigure   `json:"arms"`
	Ratios  []RatioFigure `json:"ratios"`
	Note    string        `json:"note,omitempty"`
}

// Target is a goal the report states and checks, never asserts.
type Target struct {
	Goal     string  `json:"goal"`
	Figure   string  `json:"figure"` // what was compared
	Measured float64 `json:"measured"`
	Spread   string  `json:"spread"`
	Bound    float64 `json:"bound"`
	Unit     string  `json:"unit"` // "×" for ratios, "ms" for times
	AtLeast  bool    `json:"at_least"`
	Met      bool    `json:"met"`
	Margin   string  `json:"margin"`
}

// Report is everything one run measured.
type Report struct {
	Started  time.Time         `json:"started"`
	Duration string            `json:"duration"`
	Machine  map[string]string `json:"machine"`
	Versions map[string]string `json:"versions"`
	Method   []string          `json:"method"`
	Targets  []Target          `json:"targets"`
	Figures  []Figure          `json:"figures"`
	Missing  []string          `json:"missing,omitempty"`
}

// secsArm makes the figure of an arm measured in seconds per operation.
func secsArm(r measure.Result) ArmFigure {
	return ArmFigure{Tool: r.Name, Ops: r.Ops, Unit: PerOp, Value: measure.Summarize(r.Secs), Values: r.Secs}
}

// rateArm makes the figure of an arm that wrote rows rows per operation.
func rateArm(r measure.Result, rows int) ArmFigure {
	v := measure.Map(r.Secs, func(s float64) float64 { return float64(rows) / s })
	return ArmFigure{Tool: r.Name, Ops: r.Ops, Unit: RowsPer, Value: measure.Summarize(v), Values: v}
}

// speedup compares arm ours with arm other: other's time over ours.
func speedup(ours, other measure.Result) RatioFigure {
	v := measure.Ratios(other.Secs, ours.Secs)
	return RatioFigure{Label: other.Name + " / " + ours.Name, Value: measure.Summarize(v), Values: v}
}

// ratioTarget checks a ratio against a bound.
func ratioTarget(goal, figure string, r RatioFigure, bound float64) Target {
	t := Target{Goal: goal, Figure: figure + " (" + r.Label + ")", Measured: r.Value.Median,
		Spread: fmt.Sprintf("%.2f–%.2f", r.Value.Min, r.Value.Max), Bound: bound, Unit: "×", AtLeast: true}
	t.Met = r.Value.Median >= bound
	t.Margin = fmt.Sprintf("%+.0f%%", (r.Value.Median/bound-1)*100)
	return t
}

// timeTarget checks a median time (seconds) against an upper bound.
func timeTarget(goal, figure string, s measure.Summary, bound time.Duration) Target {
	t := Target{Goal: goal, Figure: figure, Measured: s.Median * 1e3,
		Spread: fmt.Sprintf("%s–%s", fmtDur(s.Min), fmtDur(s.Max)), Bound: float64(bound) / 1e6, Unit: "ms"}
	t.Met = s.Median < bound.Seconds()
	t.Margin = fmt.Sprintf("%+.0f%%", (s.Median/bound.Seconds()-1)*100)
	return t
}

func fmtDur(secs float64) string {
	if math.IsNaN(secs) {
		return "n/a"
	}
	switch d := secs; {
	case d < 1e-3:
		return fmt.Sprintf("%.1fµs", d*1e6)
	case d < 1:
		return fmt.Sprintf("%.2fms", d*1e3)
	default:
		return fmt.Sprintf("%.2fs", d)
	}
}

func fmtRate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.0fk", r/1e3)
	default:
		return fmt.Sprintf("%.0f", r)
	}
}

func (a ArmFigure) format(x float64) string {
	switch a.Unit {
	case RowsPer:
		return fmtRate(x) + " rows/s"
	case Bytes:
		return fmt.Sprintf("%.1f MiB", x)
	}
	return fmtDur(x)
}

func (a ArmFigure) median() string { return a.format(a.Value.Median) }
func (a ArmFigure) spread() string {
	return a.format(a.Value.Min) + " – " + a.format(a.Value.Max)
}

func (t Target) measured() string {
	if t.Unit == "ms" {
		return fmt.Sprintf("%.2f ms (%s)", t.Measured, t.Spread)
	}
	return fmt.Sprintf("%.2f× (%s)", t.Measured, t.Spread)
}

func (t Target) verdict() string {
	if t.Met {
		return "met " + t.Margin
	}
	return "MISSED " + t.Margin
}

// writeText prints the targets and the figures as aligned tables.
func (r *Report) writeText(w io.Writer) {
	fmt.Fprintf(w, "\ndbharness benchmarks, %s, %s cores (GOMAXPROCS %s), %s\n\n",
		r.Started.Format("2006-01-02 15:04"), r.Machine["cores"], r.Machine["gomaxprocs"], r.Duration)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tFIGURE\tMEASURED (median, min–max)\tRESULT")
	for _, t := range r.Targets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Goal, t.Figure, t.measured(), t.verdict())
	}
	tw.Flush()
	section := ""
	for _, f := range r.Figures {
		if f.Section != section {
			section = f.Section
			fmt.Fprintf(w, "\n== %s\n", section)
		}
		fmt.Fprintln(w, f.Name)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		for _, a := range f.Arms {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t×%d/rep\n", a.Tool, a.median(), a.spread(), a.Ops)
		}
		for _, x := range f.Ratios {
			fmt.Fprintf(tw, "  ratio %s\t%.2f×\t%.2f – %.2f\t\n", x.Label, x.Value.Median, x.Value.Min, x.Value.Max)
		}
		tw.Flush()
		if f.Note != "" {
			fmt.Fprintf(w, "  (%s)\n", f.Note)
		}
	}
	for _, m := range r.Missing {
		fmt.Fprintln(w, "missing:", m)
	}
}

// writeMarkdown writes the report as a Markdown document.
func (r *Report) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "# dbharness benchmarks\n\n")
	fmt.Fprintf(w, "Written by `make bench` (`go run ./cmd/benchreport` in `bench/`) on %s; the run took %s.\n\n",
		r.Started.Format("2006-01-02 15:04 MST"), r.Duration)
	fmt.Fprintf(w, "## Machine and versions\n\n| what | value |\n|---|---|\n")
	for _, k := range sortedKeys(r.Machine) {
		fmt.Fprintf(w, "| %s | %s |\n", k, mdCell(r.Machine[k]))
	}
	for _, k := range sortedKeys(r.Versions) {
		fmt.Fprintf(w, "| %s | %s |\n", k, mdCell(r.Versions[k]))
	}
	fmt.Fprintf(w, "\n## Method\n\n")
	for _, m := range r.Method {
		fmt.Fprintf(w, "- %s\n", m)
	}
	fmt.Fprintf(w, "\n## Targets\n\nReported, never asserted. A ratio is how many times faster dbharness is than the other tool, repetition by repetition (median, then min–max over the repetitions).\n\n")
	fmt.Fprintf(w, "| target | figure | measured (median, min–max) | result |\n|---|---|---|---|\n")
	for _, t := range r.Targets {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", mdCell(t.Goal), mdCell(t.Figure), t.measured(), t.verdict())
	}
	section := ""
	for _, f := range r.Figures {
		if f.Section != section {
			section = f.Section
			fmt.Fprintf(w, "\n## %s\n", section)
		}
		fmt.Fprintf(w, "\n**%s**\n\n| tool | median | min – max | ops per repetition |\n|---|---|---|---|\n", mdCell(f.Name))
		for _, a := range f.Arms {
			fmt.Fprintf(w, "| %s | %s | %s | %d |\n", mdCell(a.Tool), a.median(), a.spread(), a.Ops)
		}
		for _, x := range f.Ratios {
			fmt.Fprintf(w, "| ratio %s | %.2f× | %.2f – %.2f | |\n", mdCell(x.Label), x.Value.Median, x.Value.Min, x.Value.Max)
		}
		if f.Note != "" {
			fmt.Fprintf(w, "\n%s\n", f.Note)
		}
	}
	if len(r.Missing) > 0 {
		fmt.Fprintf(w, "\n## Not measured in this run\n\n")
		for _, m := range r.Missing {
			fmt.Fprintf(w, "- %s\n", m)
		}
	}
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// save writes latest.md and latest.json into dir.
func (r *Report) save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var md strings.Builder
	r.writeMarkdown(&md)
	if err := os.WriteFile(filepath.Join(dir, "latest.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "latest.json"), append(js, '\n'), 0o644)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
