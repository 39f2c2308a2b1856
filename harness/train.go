package harness

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/easyautoml/dbharness/dynamic"
	"github.com/easyautoml/dbharness/registry"
)

// model is an ordinary least-squares linear regression with one-hot
// encoded categories, as the train step fits it.
type model struct {
	ID      int64
	WorkID  int64
	Target  string
	Numeric []string            // numeric and boolean features, in order
	Levels  map[string][]string // categorical features: their levels, the first dropped
	Cats    []string            // categorical features, in order
	Coef    []float64           // intercept first, then Numeric, then each Cat's levels but the first
	R2      float64             // on the held-back rows
	RMSE    float64             // on the held-back rows
	NTrain  int
	NTest   int
}

// design builds the row of the design matrix for row i of f.
func (m *model) design(f *dynamic.Frame, i int, out []float64) bool {
	out[0] = 1
	k := 1
	for _, name := range m.Numeric {
		c, _ := f.Column(name)
		v, ok := number(c.Values[i])
		if !ok {
			return false
		}
		out[k] = v
		k++
	}
	for _, name := range m.Cats {
		c, _ := f.Column(name)
		s, _ := c.Values[i].(string)
		for _, level := range m.Levels[name][1:] {
			out[k] = 0
			if s == level {
				out[k] = 1
			}
			k++
		}
	}
	return true
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// fit fits target on every other column of f, except timestamps: numbers
// and booleans as they are, text one-hot encoded. Rows are shuffled with
// seed; the last testFraction of them are held back to measure R².
func fit(f *dynamic.Frame, target string, testFraction float64, seed uint64) (*model, error) {
	tc, ok := f.Column(target)
	if !ok {
		return nil, fmt.Errorf("train: no column %q (columns: %v)", target, f.Names())
	}
	if tc.Type != dynamic.Float && tc.Type != dynamic.Integer {
		return nil, fmt.Errorf("train: target %q is %s, want a number", target, tc.Type)
	}
	m := &model{Target: target, Levels: map[string][]string{}}
	for _, c := range f.Columns() {
		switch {
		case c.Name == target:
		case c.Type == dynamic.Integer || c.Type == dynamic.Float || c.Type == dynamic.Boolean:
			m.Numeric = append(m.Numeric, c.Name)
		case c.Type == dynamic.Text:
			set := map[string]bool{}
			for _, v := range c.Values {
				if s, ok := v.(string); ok {
					set[s] = true
				}
			}
			levels := make([]string, 0, len(set))
			for s := range set {
				levels = append(levels, s)
			}
			sort.Strings(levels)
			if len(levels) > 1 && len(levels) <= 100 {
				m.Cats = append(m.Cats, c.Name)
				m.Levels[c.Name] = levels
			}
		}
	}
	p := 1 + len(m.Numeric)
	for _, c := range m.Cats {
		p += len(m.Levels[c]) - 1
	}
	var rows []int
	row := make([]float64, p)
	for i := 0; i < f.Len(); i++ {
		if _, ok := number(tc.Values[i]); ok && m.design(f, i, row) {
			rows = append(rows, i)
		}
	}
	r := rand.New(rand.NewPCG(seed, seed+1))
	r.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	nTest := int(math.Round(float64(len(rows)) * testFraction))
	nTrain := len(rows) - nTest
	if nTrain < p+1 || nTest < 2 {
		return nil, fmt.Errorf("train: %d usable rows for %d parameters: too few", len(rows), p)
	}
	x := mat.NewDense(nTrain, p, nil)
	y := mat.NewVecDense(nTrain, nil)
	for k, i := range rows[:nTrain] {
		m.design(f, i, row)
		x.SetRow(k, row)
		v, _ := number(tc.Values[i])
		y.SetVec(k, v)
	}
	var qr mat.QR
	qr.Factorize(x)
	var beta mat.VecDense
	if err := qr.SolveVecTo(&beta, false, y); err != nil {
		return nil, fmt.Errorf("train: least squares: %w", err)
	}
	m.Coef = make([]float64, p)
	for j := range m.Coef {
		m.Coef[j] = beta.AtVec(j)
	}
	// R² and RMSE on the held-back rows.
	var mean float64
	for _, i := range rows[nTrain:] {
		v, _ := number(tc.Values[i])
		mean += v
	}
	mean /= float64(nTest)
	var ssRes, ssTot float64
	for _, i := range rows[nTrain:] {
		m.design(f, i, row)
		v, _ := number(tc.Values[i])
		pred := m.predictRow(row)
		ssRes += (v - pred) * (v - pred)
		ssTot += (v - mean) * (v - mean)
	}
	m.R2 = 1 - ssRes/ssTot
	m.RMSE = math.Sqrt(ssRes / float64(nTest))
	m.NTrain, m.NTest = nTrain, nTest
	return m, nil
}

func (m *model) predictRow(row []float64) float64 {
	var s float64
	for j, c := range m.Coef {
		s += c * row[j]
	}
	return s
}

// train fits a model on a machine's data, stores it as an NNModel and
// drives its Work item from queued to done, logging each step.
func (r *run) train(s *Step) error {
	mid, err := r.machine(s.str("machine"))
	if err != nil {
		return err
	}
	m, err := r.repo.GetMachine(r.ctx, mid)
	if err != nil {
		return err
	}
	uid := m.OwnerUserID
	if s.has("user") {
		if uid, err = r.user(s.str("user")); err != nil {
			return err
		}
	}
	w, err := r.repo.EnqueueWork(r.ctx, registry.Work{MachineID: mid, UserID: uid, Kind: "train"})
	if err != nil {
		return err
	}
	if w, err = r.repo.StartWork(r.ctx, w.ID); err != nil {
		return err
	}
	frac := 0.2
	s.decode("test_fraction", &frac)
	var seed int64 = 1
	s.decode("seed", &seed)
	start := time.Now()
	f, err := dynamic.Read(r.ctx, r.q, r.db.Dialect(), m.DataTableName)
	var mdl *model
	if err == nil {
		mdl, err = fit(f, s.str("target"), frac, uint64(seed))
	}
	if err != nil {
		r.repo.FailWork(r.ctx, w.ID, err.Error())
		r.repo.AddLog(r.ctx, registry.LogEntry{UserID: &uid, MachineID: &mid, WorkID: &w.ID, Level: registry.LogError, Message: fmt.Sprintf("work %d failed: %v", w.ID, err)})
		return err
	}
	params, _ := json.Marshal(map[string]any{
		"target": mdl.Target, "numeric": mdl.Numeric, "categorical": mdl.Cats, "levels": mdl.Levels, "coefficients": mdl.Coef,
	})
	metrics, _ := json.Marshal(map[string]any{"r2": mdl.R2, "rmse": mdl.RMSE, "n_train": mdl.NTrain, "n_test": mdl.NTest})
	wid := w.ID
	nm, err := r.repo.SaveNNModel(r.ctx, registry.NNModel{MachineID: mid, WorkID: &wid, Kind: "linear_regression", Parameters: params, Metrics: metrics})
	if err != nil {
		return err
	}
	if _, err := r.repo.FinishWork(r.ctx, w.ID); err != nil {
		return err
	}
	if _, err := r.repo.AddLog(r.ctx, registry.LogEntry{UserID: &uid, MachineID: &mid, WorkID: &wid,
		Message: fmt.Sprintf("work %d done: trained model %d, R² %.4f on %d held-back rows in %v", w.ID, nm.ID, mdl.R2, mdl.NTest, time.Since(start).Round(time.Millisecond))}); err != nil {
		return err
	}
	mdl.ID, mdl.WorkID = nm.ID, w.ID
	r.models[s.str("as")] = mdl
	r.detail = fmt.Sprintf("model %d: R² %.4f, RMSE %.1f (%d train, %d held back)", nm.ID, mdl.R2, mdl.RMSE, mdl.NTrain, mdl.NTest)
	return nil
}

// predict appends the model's prediction for every row of the machine's
// data to its predictions table.
func (r *run) predict(s *Step) error {
	mid, err := r.machine(s.str("machine"))
	if err != nil {
		return err
	}
	mdl, ok := r.models[s.str("model")]
	if !ok {
		return fmt.Errorf("no model %q", s.str("model"))
	}
	m, err := r.repo.GetMachine(r.ctx, mid)
	if err != nil {
		return err
	}
	f, err := dynamic.Read(r.ctx, r.q, r.db.Dialect(), m.DataTableName)
	if err != nil {
		return err
	}
	row := make([]float64, len(mdl.Coef))
	idx := make([]any, f.Len())
	preds := make([]any, f.Len())
	for i := 0; i < f.Len(); i++ {
		idx[i] = int64(i + 1)
		if mdl.design(f, i, row) {
			preds[i] = mdl.predictRow(row)
		}
	}
	out, err := dynamic.NewFrame(
		dynamic.Column{Name: "data_row", Type: dynamic.Integer, Values: idx},
		dynamic.Column{Name: "model_id", Type: dynamic.Integer, Values: repeat(mdl.ID, f.Len())},
		dynamic.Column{Name: "predicted_" + mdl.Target, Type: dynamic.Float, Values: preds},
	)
	if err != nil {
		return err
	}
	res, err := dynamic.Append(r.ctx, r.q, r.db.Dialect(), m.DataTableName+registry.PredictionsSuffix, out)
	if err != nil {
		return err
	}
	r.detail = fmt.Sprintf("%d predictions into %s%s", res.Rows, m.DataTableName, registry.PredictionsSuffix)
	return nil
}

func repeat(v int64, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = v
	}
	return out
}
