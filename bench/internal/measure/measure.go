// Package measure runs the arms of a comparison in alternation, so that
// every tool meets the same machine load, and summarises repetitions as a
// median with its spread.
//
// # Method
//
// Compare first runs each arm once to warm it (caches, templates, pools),
// then times its operations over about a fifth of Budget (at least one),
// and picks how many operations one repetition of that arm runs so that a repetition lasts about Budget (at least one
// operation, at most MaxOps), unless the arm fixes it. Each repetition
// then runs every arm, in an order rotated by one each time, and records
// the seconds per operation. When no arm is parallel, a repetition runs
// them operation by operation (one of each in turn, until each has run
// its count), so that a change of load falls on all of them; parallel
// arms run their operations in one block each.
// Ratios are taken repetition by repetition, between arms that ran side by
// side, and then summarised: on a shared machine the ratio is the steadier
// figure, the absolute times less so.
package measure

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// Arm is one tool's way of doing the measured operation.
type Arm struct {
	Name string
	// Setup, if set, runs before every operation, untimed: dropping the
	// table an append will create, emptying the tables a load fills.
	Setup func(ctx context.Context) error
	// Op is one operation, timed. Its error ends the comparison.
	Op func(ctx context.Context) error
	// Timed, if set, replaces Op for arms that time themselves (a worker
	// process that reports the seconds of its own call).
	Timed func(ctx context.Context) (time.Duration, error)
	// Parallel runs Op on this many goroutines at once, each doing the
	// repetition's operations; the repetition's figure is then the median
	// latency of one operation. 0 or 1: sequential, the figure is the mean.
	Parallel int
	// Ops, if set, fixes the operations of a repetition instead of
	// calibrating them, for operations that last seconds.
	Ops int
	// NoWarmup skips the warm-up operation, for an arm that an earlier
	// comparison warmed already.
	NoWarmup bool
}

// Plan bounds a comparison.
type Plan struct {
	Reps   int           // repetitions, at least 5 for a reported figure
	Budget time.Duration // target duration of one arm's repetition
	MaxOps int           // most operations in one repetition
}

// Result holds seconds per operation of one arm, one value a repetition.
type Result struct {
	Name string
	Ops  int // operations per repetition
	Secs []float64
}

// Summary is a median with the range it came from.
type Summary struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// Summarize returns the median, minimum and maximum of xs.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Summary{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// Ratios returns num[i]/den[i] for each repetition i.
func Ratios(num, den []float64) []float64 {
	n := min(len(num), len(den))
	out := make([]float64, n)
	for i := range n {
		out[i] = num[i] / den[i]
	}
	return out
}

// Map applies f to each value: seconds per operation into rows per
// second, say.
func Map(xs []float64, f func(float64) float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// Compare runs the arms in alternation and returns one Result per arm, in
// the order given.
func Compare(ctx context.Context, p Plan, arms ...Arm) ([]Result, error) {
	if p.Reps < 1 || len(arms) == 0 {
		return nil, errors.New("measure: no repetitions or no arms")
	}
	if p.MaxOps < 1 {
		p.MaxOps = 1
	}
	results := make([]Result, len(arms))
	for i, a := range arms {
		results[i].Name = a.Name
		if !a.NoWarmup {
			if _, err := runOnce(ctx, a); err != nil {
				return nil, fmt.Errorf("%s: warm-up: %w", a.Name, err)
			}
		}
		if a.Ops > 0 {
			results[i].Ops = a.Ops
			continue
		}
		d, err := calibrate(ctx, a, p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.Name, err)
		}
		ops := 1
		if d > 0 && d < p.Budget {
			ops = int(p.Budget / d)
		}
		results[i].Ops = max(1, min(ops, p.MaxOps))
	}
	sequential := true
	for _, a := range arms {
		sequential = sequential && a.Parallel <= 1
	}
	for rep := range p.Reps {
		order := make([]int, len(arms))
		for k := range arms {
			order[k] = (k + rep) % len(arms)
		}
		if sequential {
			if err := interleaved(ctx, arms, order, results, rep); err != nil {
				return nil, err
			}
			continue
		}
		for _, i := range order {
			secs, err := repetition(ctx, arms[i], results[i].Ops)
			if err != nil {
				return nil, fmt.Errorf("%s: repetition %d: %w", arms[i].Name, rep+1, err)
			}
			results[i].Secs = append(results[i].Secs, secs)
		}
	}
	return results, nil
}

// interleaved runs one repetition of sequential arms operation by
// operation: one of each arm in order, again and again, until each has run
// its operations. A change of the machine's load then falls on every arm
// alike, where whole blocks of one arm would meet it alone. It appends
// each arm's mean seconds per operation to its result.
func interleaved(ctx context.Context, arms []Arm, order []int, results []Result, rep int) error {
	total := make([]time.Duration, len(arms))
	most := 0
	for _, r := range results {
		most = max(most, r.Ops)
	}
	for k := range most {
		for _, i := range order {
			if k >= results[i].Ops {
				continue
			}
			d, err := runOnce(ctx, arms[i])
			if err != nil {
				return fmt.Errorf("%s: repetition %d: %w", arms[i].Name, rep+1, err)
			}
			total[i] += d
		}
	}
	for i := range arms {
		results[i].Secs = append(results[i].Secs, total[i].Seconds()/float64(results[i].Ops))
	}
	return nil
}

// calibrate returns the mean time of a's operations over a run of about a
// fifth of the budget (one operation when that one lasts longer): a
// single operation of a few microseconds is too noisy a guide to how many
// fit in a repetition, and arms whose counts differ much interleave only
// in part.
func calibrate(ctx context.Context, a Arm, p Plan) (time.Duration, error) {
	var total time.Duration
	n := 0
	for total < p.Budget/5 && n < p.MaxOps {
		d, err := runOnce(ctx, a)
		if err != nil {
			return 0, err
		}
		total += d
		n++
	}
	return total / time.Duration(n), nil
}

// runOnce runs one operation, its setup untimed, and returns its duration.
func runOnce(ctx context.Context, a Arm) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if a.Setup != nil {
		if err := a.Setup(ctx); err != nil {
			return 0, fmt.Errorf("setup: %w", err)
		}
	}
	if a.Timed != nil {
		return a.Timed(ctx)
	}
	start := time.Now()
	err := a.Op(ctx)
	return time.Since(start), err
}

// repetition runs ops operations of a and returns seconds per operation:
// the mean when sequential, the median latency when parallel.
func repetition(ctx context.Context, a Arm, ops int) (float64, error) {
	if a.Parallel <= 1 {
		var total time.Duration
		for range ops {
			d, err := runOnce(ctx, a)
			if err != nil {
				return 0, err
			}
			total += d
		}
		return total.Seconds() / float64(ops), nil
	}
	lat := make([][]float64, a.Parallel)
	errs := make([]error, a.Parallel)
	var wg sync.WaitGroup
	for g := range a.Parallel {
		wg.Go(func() {
			for range ops {
				d, err := runOnce(ctx, a)
				if err != nil {
					errs[g] = err
					return
				}
				lat[g] = append(lat[g], d.Seconds())
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	return Summarize(slices.Concat(lat...)).Median, nil
}
