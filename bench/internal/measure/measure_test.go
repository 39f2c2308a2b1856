package measure

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCompareInterleaves: sequential arms run operation by operation, in an
// order rotated each repetition, each its own count.
func TestCompareInterleaves(t *testing.T) {
	var seq []string
	arm := func(name string, ops int) Arm {
		return Arm{Name: name, Ops: ops, NoWarmup: true, Op: func(context.Context) error {
			seq = append(seq, name)
			return nil
		}}
	}
	res, err := Compare(context.Background(), Plan{Reps: 2, Budget: time.Millisecond, MaxOps: 10}, arm("a", 3), arm("b", 1))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(seq, ""), "abaa"+"baaa"; got != want {
		t.Errorf("operations ran as %q, want %q", got, want)
	}
	for _, r := range res {
		if len(r.Secs) != 2 {
			t.Errorf("%s: %d figures, want one a repetition", r.Name, len(r.Secs))
		}
	}
}

// TestCompareParallelBlocks: with a parallel arm, each arm runs its
// operations in a block.
func TestCompareParallelBlocks(t *testing.T) {
	var seq []string
	done := make(chan string, 100)
	arm := func(name string, ops, par int) Arm {
		return Arm{Name: name, Ops: ops, Parallel: par, NoWarmup: true, Op: func(context.Context) error {
			done <- name
			return nil
		}}
	}
	if _, err := Compare(context.Background(), Plan{Reps: 1, Budget: time.Millisecond, MaxOps: 10}, arm("a", 2, 2), arm("b", 2, 1)); err != nil {
		t.Fatal(err)
	}
	close(done)
	for n := range done {
		seq = append(seq, n)
	}
	if got := strings.Join(seq, ""); !slices.Equal([]byte(got), []byte("aaaabb")) {
		t.Errorf("operations ran as %q, want the parallel arm's four, then the other's two", got)
	}
}
