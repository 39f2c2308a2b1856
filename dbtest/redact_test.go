package dbtest

import (
	"errors"
	"strings"
	"testing"
)

func TestRedactDSN(t *testing.T) {
	cases := []struct {
		dsn, secret string
	}{
		{"postgres://app:s3cret@db:5432/x?sslmode=disable", "s3cret"},
		{"host=db user=app password=s3cret dbname=x", "s3cret"},
		{"host=db user=app password='s3 cret' dbname=x", "s3 cret"},
		{"app:s3cret@tcp(db:3306)/x", "s3cret"},
	}
	for _, c := range cases {
		got := redactDSN(c.dsn)
		if strings.Contains(got, c.secret) {
			t.Errorf("redactDSN(%q) = %q: the password shows", c.dsn, got)
		}
		if p := passwordOf(c.dsn); p != c.secret {
			t.Errorf("passwordOf(%q) = %q, want %q", c.dsn, p, c.secret)
		}
		err := redactErr(errors.New("cannot connect with "+c.secret), c.dsn)
		if strings.Contains(err.Error(), c.secret) {
			t.Errorf("redactErr kept the password: %v", err)
		}
	}
}
