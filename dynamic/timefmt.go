package dynamic

import (
	"slices"
	"time"
)

// appendTime appends t in UTC as layout, a "2006-01-02" date, then sep,
// then a "15:04:05" time with frac fraction digits (truncated, as time
// formats them), then suffix: what t.UTC().AppendFormat(b, layout) gives,
// several times faster, since an append formats every timestamp it
// writes. Years outside 0-9999 go through time itself.
func appendTime(b []byte, t time.Time, layout string, sep byte, frac int, suffix string) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, layout)
	}
	hour, minute, sec := t.Clock()
	b = slices.Grow(b, len(layout))
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, sep)
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	if frac > 0 {
		ns := t.Nanosecond()
		for range 9 - frac {
			ns /= 10
		}
		b = append(b, '.')
		b = appendDigits(b, ns, frac)
	}
	return append(b, suffix...)
}

// appendDigits appends the width lowest decimal digits of n (n >= 0),
// zero-padded.
func appendDigits(b []byte, n, width int) []byte {
	b = append(b, make([]byte, width)...)
	for i := len(b) - 1; i >= len(b)-width; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return b
}
