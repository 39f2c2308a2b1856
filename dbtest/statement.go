package dbtest

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// stmtKind is what dbtest needs to know about a statement before it runs it.
type stmtKind int

const (
	stmtOther    stmtKind = iota
	stmtBegin             // BEGIN, START TRANSACTION
	stmtCommit            // COMMIT, END
	stmtRollback          // ROLLBACK without TO SAVEPOINT
	stmtDDL               // a statement MySQL commits implicitly
)

func (k stmtKind) endsTransaction() bool { return k == stmtCommit || k == stmtRollback }

// classify returns the kind of query and its first words, for messages. It
// reads only the start of the statement: leading blanks and comments, then
// keywords.
func classify(query string) (stmtKind, string) {
	kind := kindOf(query)
	if kind == stmtOther && len(leadingWords(query, 1)) == 0 {
		return stmtOther, ""
	}
	return kind, statementHead(query)
}

// kindOf is classify without the words for messages: it runs before every
// statement.
func kindOf(query string) stmtKind {
	words := leadingWords(query, 3)
	if len(words) == 0 {
		return stmtOther
	}
	switch words[0] {
	case "BEGIN":
		return stmtBegin
	case "START":
		if len(words) > 1 && words[1] == "TRANSACTION" {
			return stmtBegin
		}
	case "COMMIT", "END":
		return stmtCommit
	case "ROLLBACK":
		// ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name keeps the
		// transaction open.
		for _, w := range words[1:] {
			if w == "TO" {
				return stmtOther
			}
		}
		return stmtRollback
	case "CREATE", "DROP":
		if len(words) > 1 && words[1] == "TEMPORARY" {
			return stmtOther
		}
		return stmtDDL
	case "ALTER", "TRUNCATE", "RENAME", "GRANT", "REVOKE", "ANALYZE",
		"OPTIMIZE", "REPAIR", "INSTALL", "UNINSTALL":
		return stmtDDL
	case "LOCK":
		if len(words) > 1 && (words[1] == "TABLES" || words[1] == "TABLE") {
			return stmtDDL
		}
	}
	return stmtOther
}

// keepsTransaction reports whether query is plain DML or a read, which no
// database ends a transaction for (triggers and stored functions cannot
// commit either). Anything else (SET, CALL, LOCK, DDL, XA, ...) may.
func keepsTransaction(query string) bool {
	words := leadingWords(query, 1)
	if len(words) == 0 {
		return false
	}
	switch words[0] {
	case "SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH", "VALUES", "TABLE",
		"SHOW", "EXPLAIN", "DESCRIBE", "DESC":
		return true
	}
	return false
}

// leadingWords returns up to n upper-cased keywords from the start of query,
// skipping blanks, "--" and "#" line comments and "/* */" block comments.
func leadingWords(query string, n int) []string {
	var words []string
	s := query
	for len(words) < n && len(s) > 0 {
		switch {
		case unicode.IsSpace(rune(s[0])) || s[0] == ';' || s[0] == '(':
			s = s[1:]
		case strings.HasPrefix(s, "--") || s[0] == '#':
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return words
			}
			s = s[i+1:]
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s[2:], "*/")
			if i < 0 {
				return words
			}
			s = s[i+4:]
		default:
			i := 0
			for i < len(s) && (s[i] == '_' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
				i++
			}
			if i == 0 {
				return words
			}
			words = append(words, strings.ToUpper(s[:i]))
			s = s[i:]
		}
	}
	return words
}

// statementHead returns the start of query on one line, for messages. It
// reads only the first few hundred bytes: statements can be megabytes of
// placeholders, and this runs for every statement.
func statementHead(query string) string {
	const max = 80
	if len(query) > 4*max {
		query = query[:4*max]
	}
	s := strings.Join(strings.Fields(query), " ")
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
