package dbtest

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/go-sql-driver/mysql"
)

var keywordPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// redactDSN returns dsn with its password replaced, for messages.
func redactDSN(dsn string) string {
	if strings.Contains(dsn, "://") {
		if u, err := url.Parse(dsn); err == nil {
			return u.Redacted()
		}
	}
	if strings.Contains(dsn, "@") && !strings.Contains(dsn, "=") || strings.Contains(dsn, "@tcp(") || strings.Contains(dsn, "@unix(") {
		if cfg, err := mysql.ParseDSN(dsn); err == nil {
			if cfg.Passwd != "" {
				cfg.Passwd = "xxxxx"
			}
			return cfg.FormatDSN()
		}
	}
	return keywordPassword.ReplaceAllString(dsn, "${1}xxxxx")
}

// passwordOf returns the password in dsn, if any.
func passwordOf(dsn string) string {
	if strings.Contains(dsn, "://") {
		if u, err := url.Parse(dsn); err == nil {
			p, _ := u.User.Password()
			return p
		}
	}
	if cfg, err := mysql.ParseDSN(dsn); err == nil && cfg.Passwd != "" {
		return cfg.Passwd
	}
	if m := keywordPassword.FindStringSubmatch(dsn); m != nil {
		return strings.Trim(m[2], "'")
	}
	return ""
}

// redactErr hides the password of dsn in err's message.
func redactErr(err error, dsn string) error {
	if err == nil {
		return nil
	}
	p := passwordOf(dsn)
	if p == "" || !strings.Contains(err.Error(), p) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), p, "xxxxx"), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
