package dynamic

import (
	"errors"
	"fmt"
	"time"
)

// FrameOption configures how [ReadCSV], [FromRows] and [FromRecords] build
// a frame. The zero FrameOption is invalid.
type FrameOption struct {
	apply func(*frameOpts) error
}

type frameOpts struct {
	types         map[string]Type
	maxFieldBytes int
	maxFieldSet   bool
}

func frameConfig(opts []FrameOption) (*frameOpts, error) {
	c := &frameOpts{types: map[string]Type{}, maxFieldBytes: DefaultMaxFieldBytes}
	for _, o := range opts {
		if o.apply == nil {
			return nil, errors.New("dynamic: zero FrameOption")
		}
		if err := o.apply(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// checkNames reports a WithType for a column the frame does not have.
func (c *frameOpts) checkNames(columns []string) error {
	for name := range c.types {
		found := false
		for _, col := range columns {
			if col == name {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("dynamic: WithType(%q): no such column", name)
		}
	}
	return nil
}

// WithType makes the column named name (exactly) of type t instead of
// inferring its type. A value that cannot be of that type is an error
// naming its row (its line, in a CSV) and the column. Giving the same
// column twice, or naming a column the frame does not have, is an error.
func WithType(name string, t Type) FrameOption {
	return FrameOption{func(c *frameOpts) error {
		if t < Integer || t > Text {
			return fmt.Errorf("dynamic: WithType(%q, %v): want Integer, Float, Boolean, Timestamp or Text", name, t)
		}
		if _, dup := c.types[name]; dup {
			return fmt.Errorf("dynamic: WithType(%q) given twice", name)
		}
		c.types[name] = t
		return nil
	}}
}

// DefaultMaxFieldBytes is the longest CSV field [ReadCSV] accepts unless
// [WithMaxFieldBytes] says otherwise: 16 MiB, the default max_allowed_packet
// of MariaDB, which could not take a larger value in one statement anyway.
const DefaultMaxFieldBytes = 16 << 20

// WithMaxFieldBytes sets the longest field, in bytes, that [ReadCSV]
// accepts (quotes not counted); a longer one is a [*CSVError] of kind
// [ErrCSVFieldTooLong], given as soon as the limit is passed, before the
// rest of the field is read. n must be at least 1, and the option given
// once. It bounds the memory a single field takes; [FromRows] and
// [FromRecords], whose values are already in memory, ignore it.
func WithMaxFieldBytes(n int) FrameOption {
	return FrameOption{func(c *frameOpts) error {
		if n < 1 {
			return fmt.Errorf("dynamic: WithMaxFieldBytes(%d): want at least 1", n)
		}
		if c.maxFieldSet {
			return errors.New("dynamic: WithMaxFieldBytes given twice")
		}
		c.maxFieldBytes, c.maxFieldSet = n, true
		return nil
	}}
}

// Option configures [Append]. The zero Option is invalid, and each option
// may be given once.
type Option struct {
	name  string
	apply func(*appendOpts) error
}

type appendOpts struct {
	retry     retryPolicy
	batchRows int
	noBulk    bool
	// afterRows, when set (by tests), is called after each batch, and each
	// COPY or LOAD DATA row, with the rows written so far; an error fails the append
	// there.
	afterRows func(written int64) error
	// beforeLoad, when set (by tests), runs instead of the server before
	// MySQL's LOAD DATA: an error it returns is taken as the server's.
	beforeLoad func() error
	// beforeRetry, when set (by tests), is called before attempt n (n ≥ 2)
	// of an append that owns its transaction.
	beforeRetry func(n int)
}

func appendConfig(opts []Option) (*appendOpts, error) {
	o := &appendOpts{retry: defaultRetry}
	seen := map[string]bool{}
	for _, opt := range opts {
		if opt.apply == nil {
			return nil, errors.New("dynamic: zero Option")
		}
		if seen[opt.name] {
			return nil, fmt.Errorf("dynamic: option %s given twice", opt.name)
		}
		seen[opt.name] = true
		if err := opt.apply(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// The retry policy of an append that owns its transaction when no
// [WithRetry] is given: 5 attempts, backoff from 20 ms up to 1 s.
const (
	DefaultRetryAttempts = 5
	DefaultRetryBase     = 20 * time.Millisecond
	DefaultRetryMax      = time.Second
)

// WithRetry bounds the retries of an append that owns its transaction (q is
// a *sql.DB): at most maxAttempts tries in all, the n-th wait drawn at
// random between 0 and min(max, base·2^(n-1)) (exponential backoff with
// full jitter). The context bounds the whole. maxAttempts must be at least
// 1 (1: no retry) and 0 < base ≤ max. With a *sql.Tx or a *sql.Conn it has
// no effect: Append never retries there.
func WithRetry(maxAttempts int, base, max time.Duration) Option {
	return Option{"WithRetry", func(o *appendOpts) error {
		if maxAttempts < 1 || base <= 0 || max < base {
			return fmt.Errorf("dynamic: WithRetry(%d, %v, %v): want maxAttempts ≥ 1 and 0 < base ≤ max", maxAttempts, base, max)
		}
		o.retry = retryPolicy{attempts: maxAttempts, base: base, max: max}
		return nil
	}}
}

// WithBatchRows sets how many rows one INSERT statement carries, instead of
// the size measured best for the database. It is lowered further when the
// database's limit on bound parameters (or, on MySQL, on a statement's
// bytes) requires. It does not apply to COPY nor to LOAD DATA.
func WithBatchRows(n int) Option {
	return Option{"WithBatchRows", func(o *appendOpts) error {
		if n < 1 {
			return fmt.Errorf("dynamic: WithBatchRows(%d): want at least 1", n)
		}
		o.batchRows = n
		return nil
	}}
}

// WithoutCopy makes appends use multi-row INSERT statements instead of the
// bulk paths: COPY on PostgreSQL, LOAD DATA LOCAL INFILE on MySQL.
func WithoutCopy() Option {
	return Option{"WithoutCopy", func(o *appendOpts) error {
		o.noBulk = true
		return nil
	}}
}
