// Package dynamic appends data frames into tables created on the fly, on
// SQLite, PostgreSQL and MySQL: the Go counterpart of pandas'
// DataFrame.to_sql, correct to the last value, atomic, fast, and safe
// against hostile column names.
//
// # Frames
//
// A [Frame] is a table of named, typed columns. Build one from CSV with
// [ReadCSV], from rows of Go values with [FromRows], or from records with
// [FromRecords]. Each column is one of five types: [Integer], [Float],
// [Boolean], [Timestamp] (stored in UTC) or [Text]; empty CSV cells and nil
// values are NULL. Types are inferred (a column mixing integers and floats
// is Float; any other mix is Text) unless [WithType] says otherwise.
//
// # Appending
//
// [Append] writes a frame into a table in one transaction. It creates the
// table when it does not exist, with a hidden _row_id column that keeps
// the rows in insertion order, and adds the columns a later frame brings.
// A column whose type differs from the table's is an error naming the
// column and both types; integers may go into a float column.
//
// Append runs on whatever the caller has. Given a *sql.Tx or a *sql.Conn,
// it runs on it and never opens a second connection: a test that wraps
// everything in one transaction sees the rows, and no second connection
// waits on the test's locks. Given a *sql.DB, it takes one connection and
// owns the transaction there.
//
// Rows go in batches sized to the database's limit on bound parameters,
// through one prepared multi-row INSERT reused for every full batch; on
// PostgreSQL through COPY when the connection allows it (a *sql.DB or
// *sql.Conn of pgx's stdlib driver, or of dbtest).
//
// # Atomicity
//
// Either every row is in, or none is and the table is as it was. On
// PostgreSQL and SQLite the table's creation and new columns roll back with
// the rows. MySQL commits on DDL, so Append runs the DDL first and drops
// what it created if the rows then fail; inside a caller's transaction that
// DDL has also committed the caller's earlier writes, as MySQL always does.
//
// # Lock conflicts and retries
//
// When Append owns the transaction (a *sql.DB or *sql.Conn), a lock conflict
// (SQLite busy or locked, MySQL lock-wait timeout or deadlock, PostgreSQL
// deadlock, serialization failure or lock timeout) rolls back and retries
// the whole append, with exponential backoff and full jitter, bounded by
// [WithRetry] and by the context. Inside the caller's transaction it never
// retries: a transaction that met a lock error may be poisoned, and only
// its owner can retry it. The error then matches [ErrLocked] at once.
//
// # Values
//
// NaN and ±Inf are stored as NULL, since not every database stores them,
// and counted per column in [Result].NonFinite. 64-bit integers and float64
// values round-trip exactly, timestamps are stored in UTC, and text keeps
// every Unicode character (MySQL tables use utf8mb4).
//
// # Identifiers
//
// Table and column names come from data (CSV headers), so they are quoted
// per dialect, never pasted: [QuoteIdent] doubles the quote character, and
// rejects what a database cannot hold the same way: empty names, names too
// long (PostgreSQL 63 bytes, MySQL 64 characters, SQLite 255 bytes), NUL
// bytes, invalid UTF-8, a trailing space on MySQL. Names that differ only
// in case collide, on every dialect, so a frame behaves the same
// everywhere.
//
// # Reading back
//
// [Read] returns a table as a frame, in insertion order, with types from the
// table's declared column types; [Count] counts its rows.
package dynamic
