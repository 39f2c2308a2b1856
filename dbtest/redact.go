package dbtest

import (
	"cmp"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
)

var keywordPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// redacted stands for a password in messages.
const redacted = "xxxxx"

// redactDSN returns dsn with its password replaced, for messages.
func redactDSN(dsn string) string {
	secrets := passwords(dsn)
	if isURL(dsn) {
		if u, err := url.Parse(dsn); err == nil {
			return hide(u.Redacted(), secrets)
		}
		return maskUserinfo(dsn)
	}
	if strings.Contains(dsn, "@") && !strings.Contains(dsn, "=") || strings.Contains(dsn, "@tcp(") || strings.Contains(dsn, "@unix(") {
		if cfg, err := mysql.ParseDSN(dsn); err == nil {
			if cfg.Passwd != "" {
				cfg.Passwd = redacted
			}
			return hide(cfg.FormatDSN(), secrets)
		}
	}
	return hide(keywordPassword.ReplaceAllString(dsn, "${1}"+redacted), secrets)
}

// passwordOf returns the password in dsn as its driver reads it, if any.
func passwordOf(dsn string) string {
	_, p := findPasswords(dsn)
	return p
}

// passwords returns the password of dsn in each form a message may show
// it: as written in the DSN and, for a URL, decoded; longest first.
func passwords(dsn string) []string {
	all, _ := findPasswords(dsn)
	return all
}

// isURL reports whether dsn has the form scheme://...
func isURL(dsn string) bool {
	scheme, _, ok := strings.Cut(dsn, "://")
	return ok && scheme != "" && !strings.ContainsAny(scheme, "@/:=( ")
}

// findPasswords returns the forms of dsn's password (see passwords) and
// the password as the driver reads it. They are found by hand, not only by
// the drivers' parsers: a DSN that does not parse must still be hidden,
// and the parser's error may quote it.
func findPasswords(dsn string) (all []string, driver string) {
	var out []string
	add := func(p string) {
		if p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	addURL := func(p string) {
		add(p)
		if d, err := url.PathUnescape(p); err == nil {
			add(d)
		}
	}
	if isURL(dsn) {
		if _, p, _, ok := userinfo(dsn); ok {
			addURL(p)
		}
		_, rest, _ := strings.Cut(dsn, "://")
		// Wide: the user information up to the last @ before the
		// query, for a password that holds a raw / or @.
		wide := rest
		if i := strings.IndexAny(wide, "?#"); i >= 0 {
			wide = wide[:i]
		}
		if i := strings.LastIndex(wide, "@"); i >= 0 {
			if _, p, ok := strings.Cut(wide[:i], ":"); ok {
				addURL(p)
			}
		}
		// As net/url reads it: the authority ends at the first /, ? or
		// #, and the user information at the authority's last @.
		auth := rest
		if i := strings.IndexAny(auth, "/?#"); i >= 0 {
			auth = auth[:i]
		}
		if i := strings.LastIndex(auth, "@"); i >= 0 {
			if _, p, ok := strings.Cut(auth[:i], ":"); ok {
				addURL(p)
				driver, _ = url.PathUnescape(p)
			}
		}
	} else {
		for _, m := range keywordPassword.FindAllStringSubmatch(dsn, -1) {
			add(m[2])
			driver = strings.Trim(m[2], "'")
			add(driver)
		}
		// MySQL's user:password@..., as go-sql-driver reads it: up
		// to the last @ before the last /.
		head := dsn
		if i := strings.LastIndex(head, "/"); i >= 0 {
			head = head[:i]
		}
		if i := strings.LastIndex(head, "@"); i >= 0 && !strings.Contains(head[:i], "=") {
			if _, p, ok := strings.Cut(head[:i], ":"); ok {
				add(p)
				driver = p
			}
		}
		if cfg, err := mysql.ParseDSN(dsn); err == nil && cfg.Passwd != "" {
			add(cfg.Passwd)
			driver = cfg.Passwd
		}
	}
	// Longest first, so that a form that holds another is hidden whole.
	slices.SortStableFunc(out, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return out, driver
}

// userinfo returns the span of a URL-shaped DSN that may hold a password,
// read as widely as possible: from after "scheme://user:" to the last @.
// A password with a raw #, ? or / cuts the URL where net/url reads it, so
// that the narrow reading would leave part of it in view.
func userinfo(dsn string) (user, password string, at int, ok bool) {
	scheme, rest, _ := strings.Cut(dsn, "://")
	i := strings.LastIndex(rest, "@")
	if i < 0 {
		return "", "", 0, false
	}
	user, password, _ = strings.Cut(rest[:i], ":")
	return user, password, len(scheme) + len("://") + i, true
}

// maskUserinfo hides the password of a URL that does not parse, read as
// widely as userinfo reads it.
func maskUserinfo(dsn string) string {
	user, password, at, ok := userinfo(dsn)
	if !ok || password == "" {
		return dsn
	}
	scheme, _, _ := strings.Cut(dsn, "://")
	return scheme + "://" + user + ":" + redacted + dsn[at:]
}

var quotedText = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// urlError describes why dsn, a URL, does not parse, without quoting any
// part of its password: net/url's errors quote the URL, cut where it read
// it, and the text at fault (a port, an escape), which may be part of the
// password.
func urlError(err error, dsn string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	_, password, _, _ := userinfo(dsn)
	msg := quotedText.ReplaceAllStringFunc(err.Error(), func(q string) string {
		text, uerr := strconv.Unquote(q)
		if uerr != nil || password == "" || strings.Contains(password, strings.Trim(text, ":")) {
			return `"` + redacted + `"`
		}
		return q
	})
	return &redactedError{msg: hide(msg, passwords(dsn)), err: err}
}

// hide replaces each of secrets in s.
func hide(s string, secrets []string) string {
	for _, p := range secrets {
		s = strings.ReplaceAll(s, p, redacted)
	}
	return s
}

// redactErr hides the password of dsn in err's message.
func redactErr(err error, dsn string) error {
	if err == nil {
		return nil
	}
	msg := hide(err.Error(), passwords(dsn))
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
