package harness

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/easyautoml/dbharness/dynamic"
	"github.com/easyautoml/dbharness/registry"
)

// maxLevels is the most levels a text column may have to be a categorical
// feature; a column with more (names, identifiers) is left out.
const maxLevels = 100

// split orders rows so that the held-back ones come last: by a hash of the
// seed and the row's index, so that the split is the same on every
// backend, every platform and every Go release.
func split(rows []int, seed uint64) {
	key := func(i int) uint64 {
		h := fnv.New64a()
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:8], seed)
		binary.LittleEndian.PutUint64(b[8:], uint64(i))
		h.Write(b[:])
		return h.Sum64()
	}
	keys := make(map[int]uint64, len(rows))
	for _, i := range rows {
		keys[i] = key(i)
	}
	sort.Slice(rows, func(a, b int) bool { return keys[rows[a]] < keys[rows[b]] })
}

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

// fit fits target on the features (every other column of f when none are
// named), except timestamps: numbers and booleans as they are, text one-hot
// encoded with its first level (in sorted order) as the reference. Rows
// with a NULL target or feature are left out. testFraction of the usable
// rows, chosen by a hash of seed and the row's position, are held back to
// measure R² and RMSE.
func fit(f *dynamic.Frame, target string, features []string, testFraction float64, seed uint64) (*model, error) {
	tc, ok := f.Column(target)
	if !ok {
		return nil, fmt.Errorf("train: no column %q (columns: %v)", target, f.Names())
	}
	use := map[string]bool{}
	for _, name := range features {
		if _, ok := f.Column(name); !ok || name == target {
			return nil, fmt.Errorf("train: feature %q is not a column besides the target (columns: %v)", name, f.Names())
		}
		use[name] = true
	}
	if !(testFraction > 0 && testFraction < 1) {
		return nil, fmt.Errorf("train: test_fraction %v: want a fraction between 0 and 1", testFraction)
	}
	if tc.Type != dynamic.Float && tc.Type != dynamic.Integer {
		return nil, fmt.Errorf("train: target %q is %s, want a number", target, tc.Type)
	}
	m := &model{Target: target, Levels: map[string][]string{}}
	var text []dynamic.Column
	for _, c := range f.Columns() {
		switch {
		case c.Name == target, len(use) > 0 && !use[c.Name]:
		case c.Type == dynamic.Integer || c.Type == dynamic.Float || c.Type == dynamic.Boolean:
			m.Numeric = append(m.Numeric, c.Name)
		case c.Type == dynamic.Text:
			text = append(text, c)
		}
	}
	// The usable rows: a number for the target and every numeric feature,
	// a value for every categorical one.
	var rows []int
	for i := 0; i < f.Len(); i++ {
		ok := true
		if _, isNum := number(tc.Values[i]); !isNum {
			ok = false
		}
		for _, name := range m.Numeric {
			c, _ := f.Column(name)
			if _, isNum := number(c.Values[i]); !isNum {
				ok = false
			}
		}
		for _, c := range text {
			if c.Values[i] == nil {
				ok = false
			}
		}
		if ok {
			rows = append(rows, i)
		}
	}
	nTest := int(math.Round(float64(len(rows)) * testFraction))
	nTrain := len(rows) - nTest
	split(rows, seed)
	// Levels come from the training rows only: a level never seen in
	// training would be a column of zeros. Such a level predicts as the
	// reference.
	for _, c := range text {
		set := map[string]bool{}
		for _, i := range rows[:nTrain] {
			set[c.Values[i].(string)] = true
		}
		levels := make([]string, 0, len(set))
		for s := range set {
			levels = append(levels, s)
		}
		sort.Strings(levels)
		if len(levels) > 1 && len(levels) <= maxLevels {
			m.Cats = append(m.Cats, c.Name)
			m.Levels[c.Name] = levels
		}
	}
	p := 1 + len(m.Numeric)
	for _, c := range m.Cats {
		p += len(m.Levels[c]) - 1
	}
	if nTrain < p+1 || nTest < 2 {
		return nil, fmt.Errorf("train: %d usable rows for %d parameters: too few", len(rows), p)
	}
	row := make([]float64, p)
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
		var features []string
		s.decode("features", &features)
		mdl, err = fit(f, s.str("target"), features, frac, uint64(seed))
	}
	if err != nil {
		r.repo.FailWork(r.ctx, w.ID, err.Error())
		r.repo.AddLog(r.ctx, registry.LogEntry{UserID: &uid, MachineID: &mid, WorkID: &w.ID, Level: registry.LogError, Message: fmt.Sprintf("work %d failed: %v", w.ID, err)})
		return err
	}
	params, _ := json.Marshal(modelParams{
		Target: mdl.Target, Numeric: mdl.Numeric, Categorical: mdl.Cats, Levels: mdl.Levels, Coefficients: mdl.Coef,
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

// predict reads a trained model back from the registry, predicts every
// row of the machine's data, and appends the predictions to the machine's
// predictions table through the step's connection, driving a predict Work
// item from queued to done.
func (r *run) predict(s *Step) error {
	mid, err := r.machine(s.str("machine"))
	if err != nil {
		return err
	}
	trained, ok := r.models[s.str("model")]
	if !ok {
		return fmt.Errorf("no model %q", s.str("model"))
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
	stored, err := r.repo.GetNNModel(r.ctx, trained.ID)
	if err != nil {
		return err
	}
	mdl, err := modelFromNN(stored)
	if err != nil {
		return err
	}
	w, err := r.repo.EnqueueWork(r.ctx, registry.Work{MachineID: mid, UserID: uid, Kind: "predict"})
	if err != nil {
		return err
	}
	if w, err = r.repo.StartWork(r.ctx, w.ID); err != nil {
		return err
	}
	out, res, err := r.predictInto(s, m, mdl)
	if err != nil {
		r.repo.FailWork(r.ctx, w.ID, err.Error())
		r.repo.AddLog(r.ctx, registry.LogEntry{UserID: &uid, MachineID: &mid, WorkID: &w.ID, Level: registry.LogError, Message: fmt.Sprintf("work %d failed: %v", w.ID, err)})
		return err
	}
	if _, err := r.repo.FinishWork(r.ctx, w.ID); err != nil {
		return err
	}
	if _, err := r.repo.AddLog(r.ctx, registry.LogEntry{UserID: &uid, MachineID: &mid, WorkID: &w.ID,
		Message: fmt.Sprintf("work %d done: %d predictions of model %d into %s", w.ID, res.Rows, mdl.ID, out)}); err != nil {
		return err
	}
	r.detail = fmt.Sprintf("%d predictions of model %d into %s", res.Rows, mdl.ID, out)
	return nil
}

// predictInto predicts every row of the machine's data table and appends
// the predictions to its predictions table.
func (r *run) predictInto(s *Step, m registry.Machine, mdl *model) (string, dynamic.Result, error) {
	f, err := dynamic.Read(r.ctx, r.q, r.db.Dialect(), m.DataTableName)
	if err != nil {
		return "", dynamic.Result{}, err
	}
	for _, name := range append(append([]string(nil), mdl.Numeric...), mdl.Cats...) {
		if _, ok := f.Column(name); !ok {
			return "", dynamic.Result{}, fmt.Errorf("predict: model %d needs column %q, which %s lacks", mdl.ID, name, m.DataTableName)
		}
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
	frame, err := dynamic.NewFrame(
		dynamic.Column{Name: "data_row", Type: dynamic.Integer, Values: idx},
		dynamic.Column{Name: "model_id", Type: dynamic.Integer, Values: repeat(mdl.ID, f.Len())},
		dynamic.Column{Name: "predicted_" + mdl.Target, Type: dynamic.Float, Values: preds},
	)
	if err != nil {
		return "", dynamic.Result{}, err
	}
	q, err := r.conn(s)
	if err != nil {
		return "", dynamic.Result{}, err
	}
	out := m.DataTableName + registry.PredictionsSuffix
	res, err := dynamic.Append(r.ctx, q, r.db.Dialect(), out, frame, dynamic.WithRetry(1, time.Millisecond, time.Millisecond))
	return out, res, err
}

// modelParams is how a model's parameters are stored in NNModel.Parameters.
type modelParams struct {
	Target       string              `json:"target"`
	Numeric      []string            `json:"numeric"`
	Categorical  []string            `json:"categorical"`
	Levels       map[string][]string `json:"levels"`
	Coefficients []float64           `json:"coefficients"`
}

// modelFromNN rebuilds a model from its registry row.
func modelFromNN(nm registry.NNModel) (*model, error) {
	var p modelParams
	if err := json.Unmarshal(nm.Parameters, &p); err != nil {
		return nil, fmt.Errorf("predict: model %d: parameters: %w", nm.ID, err)
	}
	m := &model{ID: nm.ID, Target: p.Target, Numeric: p.Numeric, Cats: p.Categorical, Levels: p.Levels, Coef: p.Coefficients}
	if nm.WorkID != nil {
		m.WorkID = *nm.WorkID
	}
	want := 1 + len(m.Numeric)
	for _, c := range m.Cats {
		if len(m.Levels[c]) == 0 {
			return nil, fmt.Errorf("predict: model %d: no levels for %q", nm.ID, c)
		}
		want += len(m.Levels[c]) - 1
	}
	if len(m.Coef) != want || m.Target == "" {
		return nil, fmt.Errorf("predict: model %d: %d coefficients for %d terms", nm.ID, len(m.Coef), want)
	}
	return m, nil
}

func repeat(v int64, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = v
	}
	return out
}
