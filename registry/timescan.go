package registry

import (
	"fmt"
	"time"
)

// timeLayouts are the text forms a timestamp may come back in: the
// drivers' own, SQLite's, and the registry's fixed-width one.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// parseTime reads a timestamp from a driver value. Text without a zone is
// UTC, as the registry stores it.
func parseTime(src any) (time.Time, error) {
	switch v := src.(type) {
	case time.Time:
		return v.UTC(), nil
	case string:
		return parseTimeText(v)
	case []byte:
		return parseTimeText(string(v))
	}
	return time.Time{}, fmt.Errorf("registry: cannot read %T as a time", src)
}

func parseTimeText(s string) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("registry: cannot read %q as a time", s)
}

// timeDest scans a NOT NULL timestamp, whatever form the driver gives it
// in (PostgreSQL and MySQL with parseTime give time.Time; SQLite gives
// time.Time or text, depending on who wrote the value).
type timeDest struct{ t *time.Time }

func (d timeDest) Scan(src any) error {
	if src == nil {
		return fmt.Errorf("registry: NULL where a time is required")
	}
	t, err := parseTime(src)
	if err != nil {
		return err
	}
	*d.t = t
	return nil
}

// nullTimeDest scans a nullable timestamp into a *time.Time.
type nullTimeDest struct{ t **time.Time }

func (d nullTimeDest) Scan(src any) error {
	if src == nil {
		*d.t = nil
		return nil
	}
	t, err := parseTime(src)
	if err != nil {
		return err
	}
	*d.t = &t
	return nil
}
