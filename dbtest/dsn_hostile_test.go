package dbtest

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
)

// hostilePassword holds characters that URL encoding changes, so that
// both its forms are looked for.
const hostilePassword = "Pw-s3cret/#?@"

// silentServer listens on loopback and accepts connections without ever
// answering: a host that does not reply.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestBadHostFailsFast: a DSN whose host is wrong (a closed port, a server
// that never answers, an address that does not parse) fails without
// hanging, with an error that names the host and hides the password in
// every form, and that makes the backend unavailable (skipped, or failed
// under DBTEST_REQUIRE) when the server cannot be reached.
func TestBadHostFailsFast(t *testing.T) {
	silent := silentServer(t)
	pw := url.UserPassword("app", hostilePassword).String() // app:Pw-s3cret%2F%23%3F%40
	cases := []struct {
		reason      string
		b           Backend
		dsn, host   string
		unavailable bool // the server could not be reached (rather than a DSN that does not parse)
	}{
		{"PostgreSQL URL, closed port", Postgres, "postgres://" + pw + "@127.0.0.1:1/x?sslmode=disable", "127.0.0.1:1", true},
		{"PostgreSQL URL, a server that never answers", Postgres, "postgres://" + pw + "@" + silent + "/x?sslmode=disable", silent, true},
		{"PostgreSQL keyword DSN, closed port", Postgres, "host=127.0.0.1 port=1 user=app password='" + hostilePassword + "' dbname=x sslmode=disable", "127.0.0.1", true},
		{"PostgreSQL URL, a port that is no number", Postgres, "postgres://" + pw + "@127.0.0.1:port/x?sslmode=disable", "127.0.0.1:port", false},
		{"PostgreSQL URL, an IPv6 address never closed", Postgres, "postgres://" + pw + "@[::1/x?sslmode=disable", "[::1", false},
		{"PostgreSQL URL, a raw password that breaks the URL", Postgres, "postgres://app:" + hostilePassword + "@127.0.0.1:1/x?sslmode=disable", "127.0.0.1:1", false},
		{"MySQL, closed port", MySQL, "app:" + hostilePassword + "@tcp(127.0.0.1:1)/x", "127.0.0.1:1", true},
		{"MySQL, a server that never answers", MySQL, "app:" + hostilePassword + "@tcp(" + silent + ")/x", silent, true},
		{"MySQL, an address never closed", MySQL, "app:" + hostilePassword + "@tcp(127.0.0.1:1/x", "127.0.0.1:1", false},
		{"MySQL, a bad parameter", MySQL, "app:" + hostilePassword + "@tcp(127.0.0.1:1)/x?timeout=soon", "127.0.0.1:1", false},
	}
	// The password whole, URL-encoded, and the part before its first
	// character that cuts a URL.
	forms := []string{hostilePassword, url.QueryEscape(hostilePassword), url.PathEscape(hostilePassword), strings.TrimPrefix(pw, "app:"), "Pw-s3cret"}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			env := EnvPostgresDSN
			if c.b == MySQL {
				env = EnvMySQLDSN
			}
			t.Setenv(env, c.dsn)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			start := time.Now()
			p, err := newServerProvider(ctx, c.b, "hostiledsn0")
			elapsed := time.Since(start)
			if err == nil {
				p.close(ctx)
				t.Fatal("connected")
			}
			t.Logf("after %s: %v", elapsed.Round(time.Millisecond), err)
			if ctx.Err() != nil {
				t.Fatalf("still trying after a minute: %v", err)
			}
			msg := err.Error()
			for _, f := range forms {
				if strings.Contains(msg, f) {
					t.Errorf("the password shows, as %q: %s", f, msg)
				}
			}
			if !strings.Contains(msg, c.host) {
				t.Errorf("the error does not name the host %s: %s", c.host, msg)
			}
			if !strings.Contains(msg, env) {
				t.Errorf("the error does not name %s: %s", env, msg)
			}
			var ue *unavailableError
			if errors.As(err, &ue) != c.unavailable {
				t.Errorf("unavailable = %v, want %v: %s", !c.unavailable, c.unavailable, msg)
			}
		})
	}
}

// TestRedactHostile: passwords are hidden in every form the drivers take,
// including DSNs that do not parse, whose parser errors quote them.
func TestRedactHostile(t *testing.T) {
	cases := []struct{ reason, dsn, password string }{
		{"a URL with escapes", "postgres://app:" + url.PathEscape(hostilePassword) + "@db/x", hostilePassword},
		{"a URL whose port does not parse", "postgres://app:s3cret@db:port/x", "s3cret"},
		{"a URL whose IPv6 host is never closed", "postgres://app:s3cret@[::1/x", "s3cret"},
		{"a URL with a raw / and @ in the password", "postgres://app:s3/cr@t@db/x?sslmode=disable", "s3/cr@t"},
		{"a URL with a bad escape in the password", "postgres://app:s3cr%zzet@db/x", "s3cr%zzet"},
		{"a postgresql:// URL", "postgresql://app:s3cret@db/x", "s3cret"},
		{"a MySQL DSN whose address is never closed", "app:s3cret@tcp(db:3306/x", "s3cret"},
		{"a MySQL DSN with @ in the password", "app:s3@cret@tcp(db:3306)/x", "s3@cret"},
		{"a MySQL DSN with a bad parameter", "app:s3cret@tcp(db)/x?timeout=soon", "s3cret"},
		{"a keyword DSN with a quoted password", "host=db password='s3 cr\\'et' user=app", "s3 cr\\'et"},
		{"a keyword DSN in capitals", "host=db PASSWORD=s3cret", "s3cret"},
		{"a URL cut short by a raw # in the password", "postgres://app:s3cret#x@db:5432/x", "s3cret#x"},
		{"a URL with a raw ? in the password", "postgres://app:s3?cret@db/x", "s3?cret"},
	}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			shown := redactDSN(c.dsn)
			msg := redactErr(errors.New("cannot use "+c.dsn+" (password "+c.password+")"), c.dsn).Error()
			if _, err := url.Parse(c.dsn); err != nil && isURL(c.dsn) {
				msg += " " + urlError(err, c.dsn).Error()
			}
			for _, s := range []string{shown, msg} {
				if strings.Contains(s, c.password) || strings.Contains(s, url.PathEscape(c.password)) || strings.Contains(s, "s3") {
					t.Errorf("the password %q, or a part of it, shows in %q", c.password, s)
				}
			}
			if !strings.Contains(shown, redacted) {
				t.Errorf("redactDSN(%q) = %q: no sign of the hidden password", c.dsn, shown)
			}
		})
	}
}
