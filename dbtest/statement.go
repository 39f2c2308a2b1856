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

// kindOf is classify without the words for messages.
func kindOf(query string) stmtKind {
	kind, _ := inspect(query)
	return kind
}

// inspect returns the kind of query, and whether it keeps the transaction
// open for sure: plain DML or a read, which no database ends a
// transaction for (triggers and stored functions cannot commit either).
// Anything else (SET, CALL, LOCK, DDL, XA, ...) may. It reads the first
// words once: it runs before every statement.
func inspect(query string) (kind stmtKind, keeps bool) {
	var buf [3]string
	words := appendLeadingWords(buf[:0], query, 3)
	if len(words) == 0 {
		return stmtOther, false
	}
	switch words[0] {
	case "SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH", "VALUES", "TABLE",
		"SHOW", "EXPLAIN", "DESCRIBE", "DESC":
		return stmtOther, true
	case "BEGIN":
		return stmtBegin, false
	case "START":
		if len(words) > 1 && words[1] == "TRANSACTION" {
			return stmtBegin, false
		}
	case "COMMIT", "END":
		return stmtCommit, false
	case "ROLLBACK":
		// ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name keeps the
		// transaction open.
		for _, w := range words[1:] {
			if w == "TO" {
				return stmtOther, false
			}
		}
		return stmtRollback, false
	case "CREATE", "DROP":
		if len(words) > 1 && words[1] == "TEMPORARY" {
			return stmtOther, false
		}
		return stmtDDL, false
	case "ALTER", "TRUNCATE", "RENAME", "GRANT", "REVOKE", "ANALYZE",
		"OPTIMIZE", "REPAIR", "INSTALL", "UNINSTALL":
		return stmtDDL, false
	case "LOCK":
		if len(words) > 1 && (words[1] == "TABLES" || words[1] == "TABLE") {
			return stmtDDL, false
		}
	}
	return stmtOther, false
}

// leadingWords returns up to n upper-cased keywords from the start of query,
// skipping blanks, "--" and "#" line comments and "/* */" block comments.
func leadingWords(query string, n int) []string {
	return appendLeadingWords(nil, query, n)
}

// appendLeadingWords is leadingWords appending to words.
func appendLeadingWords(words []string, query string, n int) []string {
	n += len(words)
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
