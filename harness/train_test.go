package harness

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/easyautoml/dbharness/dynamic"
	"github.com/easyautoml/dbharness/fixtures/datasets"
	"github.com/easyautoml/dbharness/registry"
)

func salaries(t *testing.T) *dynamic.Frame {
	t.Helper()
	f, err := dynamic.ReadCSV(bytes.NewReader(datasets.SalariesCSV()))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// coef returns the fitted coefficient of a numeric feature, or of a level
// of a categorical one ("education=phd").
func (m *model) coef(t *testing.T, term string) float64 {
	t.Helper()
	k := 1
	for _, name := range m.Numeric {
		if name == term {
			return m.Coef[k]
		}
		k++
	}
	for _, name := range m.Cats {
		for _, level := range m.Levels[name][1:] {
			if name+"="+level == term {
				return m.Coef[k]
			}
			k++
		}
	}
	t.Fatalf("no term %q", term)
	return 0
}

// TestFitRecoversTheSalaryModel: the least-squares fit finds the
// coefficients the salaries dataset was drawn with, within a few standard
// errors (the noise has a standard deviation of 3,000), and explains
// nearly all of the variance on rows it never saw.
func TestFitRecoversTheSalaryModel(t *testing.T) {
	m, err := fit(salaries(t), "salary", nil, 0.2, 7)
	if err != nil {
		t.Fatal(err)
	}
	if m.NTrain != 1600 || m.NTest != 400 {
		t.Errorf("split %d/%d, want 1600/400", m.NTrain, m.NTest)
	}
	if m.R2 < 0.95 || m.R2 > 1 {
		t.Errorf("R² = %v, want above 0.95", m.R2)
	}
	if m.RMSE < 0.8*datasets.SalaryNoise || m.RMSE > 1.2*datasets.SalaryNoise {
		t.Errorf("RMSE = %v, want about the noise, %v", m.RMSE, datasets.SalaryNoise)
	}
	truth := datasets.SalaryModel
	near := func(term string, want, tol float64) {
		t.Helper()
		if got := m.coef(t, term); math.Abs(got-want) > tol {
			t.Errorf("%s = %.1f, want %.1f ± %.0f", term, got, want, tol)
		}
	}
	near("years_experience", truth.Years, 60)
	near("age", truth.Age, 60)
	near("remote", truth.Remote, 600)
	// Levels are sorted; the first is the reference, so each coefficient
	// is the difference from it.
	levels := func(name string, names []string, values []float64) {
		ref := values[slices.Index(names, m.Levels[name][0])]
		for i, level := range names {
			if level != m.Levels[name][0] {
				near(name+"="+level, values[i]-ref, 1200)
			}
		}
	}
	levels("education", datasets.Educations, truth.Education)
	levels("job_title", datasets.JobTitles, truth.Job)
	levels("city", datasets.Cities, truth.City)
	if slices.Contains(m.Numeric, "hired_at") || slices.Contains(m.Cats, "hired_at") {
		t.Error("the timestamp column was used as a feature")
	}
}

// TestFitIsDeterministic: the same seed gives the same split and model;
// another seed another split.
func TestFitIsDeterministic(t *testing.T) {
	f := salaries(t)
	a, err := fit(f, "salary", nil, 0.2, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := fit(f, "salary", nil, 0.2, 7)
	c, _ := fit(f, "salary", nil, 0.2, 8)
	if a.R2 != b.R2 || !slices.Equal(a.Coef, b.Coef) {
		t.Error("two fits with one seed differ")
	}
	if a.R2 == c.R2 {
		t.Error("fits with two seeds held back the same rows")
	}
}

func TestFitFeatures(t *testing.T) {
	f := salaries(t)
	m, err := fit(f, "salary", []string{"years_experience", "education"}, 0.2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Numeric, []string{"years_experience"}) || !slices.Equal(m.Cats, []string{"education"}) || len(m.Coef) != 1+1+3 {
		t.Errorf("numeric %v, categorical %v, %d coefficients", m.Numeric, m.Cats, len(m.Coef))
	}
	// Experience and education alone explain less than everything.
	all, _ := fit(f, "salary", nil, 0.2, 1)
	if !(m.R2 < all.R2) {
		t.Errorf("R² with two features %v, with all %v", m.R2, all.R2)
	}
}

func TestFitRefuses(t *testing.T) {
	f := salaries(t)
	tiny := f.Slice(0, 10)
	cases := []struct {
		reason   string
		f        *dynamic.Frame
		target   string
		features []string
		frac     float64
		want     string
	}{
		{"no such target", f, "wage", nil, 0.2, `train: no column "wage"`},
		{"a text target", f, "city", nil, 0.2, `train: target "city" is text, want a number`},
		{"no such feature", f, "salary", []string{"height"}, 0.2, `train: feature "height" is not a column besides the target`},
		{"the target as a feature", f, "salary", []string{"salary"}, 0.2, `train: feature "salary" is not a column besides the target`},
		{"nothing held back", f, "salary", nil, 0, "train: test_fraction 0: want a fraction between 0 and 1"},
		{"everything held back", f, "salary", nil, 1, "train: test_fraction 1: want a fraction between 0 and 1"},
		{"too few rows", tiny, "salary", nil, 0.2, "train: 10 usable rows for 15 parameters: too few"},
	}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			_, err := fit(c.f, c.target, c.features, c.frac, 1)
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("err = %v, want %s", err, c.want)
			}
		})
	}
}

// TestModelRoundTrip: a model stored as an NNModel's parameters predicts
// the same as the fitted one.
func TestModelRoundTrip(t *testing.T) {
	f := salaries(t)
	m, err := fit(f, "salary", nil, 0.2, 3)
	if err != nil {
		t.Fatal(err)
	}
	params, err := json.Marshal(modelParams{Target: m.Target, Numeric: m.Numeric, Categorical: m.Cats, Levels: m.Levels, Coefficients: m.Coef})
	if err != nil {
		t.Fatal(err)
	}
	back, err := modelFromNN(registry.NNModel{ID: 9, Parameters: params})
	if err != nil {
		t.Fatal(err)
	}
	row1, row2 := make([]float64, len(m.Coef)), make([]float64, len(back.Coef))
	for i := 0; i < f.Len(); i += 97 {
		m.design(f, i, row1)
		back.design(f, i, row2)
		if a, b := m.predictRow(row1), back.predictRow(row2); a != b {
			t.Fatalf("row %d: fitted model predicts %v, stored one %v", i, a, b)
		}
	}
	for _, bad := range []string{`{`, `{"target": "y", "coefficients": [1, 2]}`, `{"target": "y", "categorical": ["c"], "coefficients": [1]}`} {
		if _, err := modelFromNN(registry.NNModel{ID: 9, Parameters: json.RawMessage(bad)}); err == nil || !strings.HasPrefix(err.Error(), "predict: model 9: ") {
			t.Errorf("parameters %s: err = %v", bad, err)
		}
	}
}
