// Package dynamic appends data frames into tables created on the fly, on
// SQLite, PostgreSQL and MySQL: the Go counterpart of pandas'
// DataFrame.to_sql(if_exists="append"), exact to the last bit, atomic,
// fast, and safe against hostile column names.
//
// # Frames
//
// A [Frame] is a table of named, typed columns. Build one from CSV with
// [ReadCSV], from rows of Go values with [FromRows], from records with
// [FromRecords], or from columns with [NewFrame]. A column is one of
// [Integer] (int64), [Float] (float64), [Boolean], [Timestamp] (time.Time,
// in UTC) or [Text] (string); a column whose every value is NULL is
// [Unknown]. Empty CSV cells and nil values are NULL.
//
// Types are inferred from the values: a column mixing integers and floats
// is Float, any other mix is Text. [WithType] sets a column's type instead,
// for a column of zip codes that must stay text, say.
//
// Column names must be non-empty, valid UTF-8 without NUL bytes, and
// distinct even ignoring case (Unicode simple case folding), on every
// database: MySQL and SQLite compare column names without case, so a frame
// with "Age" and "age" could not be written there, and dynamic refuses it
// everywhere so that a frame that works on one database works on all.
//
// # Appending
//
// [Append] writes a frame into a table. When the table does not exist it
// is created, with one column per frame column and a hidden column,
// _row_id, that numbers the rows in insertion order (an auto-increment
// primary key). A later frame may bring new columns: they are added, and
// earlier rows read NULL there. A frame may also lack some of the table's
// columns: its rows get NULL there.
//
// Column types per database:
//
//	frame       SQLite     PostgreSQL        MySQL / MariaDB
//	Integer     INTEGER    BIGINT            BIGINT
//	Float       REAL       DOUBLE PRECISION  DOUBLE
//	Boolean     BOOLEAN    BOOLEAN           BOOLEAN (TINYINT(1))
//	Timestamp   TIMESTAMP  TIMESTAMPTZ       DATETIME(6), in UTC
//	Text        TEXT       TEXT              LONGTEXT, utf8mb4
//
// A frame column whose type differs from the table's is an error naming
// the column and both types, with three exceptions, which convert: an
// all-NULL column fits any column; integers go into a float column (an
// integer beyond 2^53 in magnitude, which a float64 cannot hold exactly,
// is an error naming its row); anything goes into a text column, written
// as ReadCSV would read it back. A float column never goes into an integer
// column, even when its values are whole: that would change the table's
// type behind the caller's back. Build such a frame with
// WithType(name, Integer).
//
// # Where Append runs
//
// Append runs on whatever the caller has, and never opens a second
// connection:
//
//   - a *sql.DB: Append takes one connection from the pool and owns the
//     transaction on it, and retries it on lock conflicts;
//   - a *sql.Tx: Append works inside the caller's transaction, in a
//     savepoint, so that the caller sees the rows and commits or rolls
//     them back with the rest of its work;
//   - a *sql.Conn: Append begins a transaction on that connection with
//     BeginTx (which a test harness may turn into a savepoint of its own
//     transaction), so the connection must not be inside a transaction
//     begun with a BEGIN statement.
//
// This is the point of the package: code that writes through a second
// connection while a test, or a request, holds a transaction on the first
// waits on the first one's locks ("database is locked" on SQLite, a
// lock-wait timeout elsewhere), cannot see its uncommitted rows, and
// escapes its rollback.
//
// # Batches, COPY and LOAD DATA
//
// Rows go in multi-row INSERT statements: every full batch through one
// prepared statement, reused. The batch size was measured per database
// (see the package's benchmarks) and is lowered to fit the database's
// limit on bound parameters: 32766 on SQLite, 65535 on PostgreSQL and
// MySQL. On MySQL a batch is also cut to about 2 MiB of values, well below
// max_allowed_packet. [WithBatchRows] sets another size.
//
// On PostgreSQL, rows go through COPY (binary) when the driver connection
// can be reached: with a *sql.DB or *sql.Conn whose driver connection is
// pgx/v5/stdlib's, or one that offers CopyFrom(ctx, pgx.Identifier,
// []string, pgx.CopyFromSource) itself (such as a test harness's wrapper,
// preferred when present). database/sql gives no way from a *sql.Tx to its
// driver connection, so in a caller's *sql.Tx PostgreSQL appends use
// INSERT.
//
// On MySQL, rows go through LOAD DATA LOCAL INFILE on every path, a
// caller's *sql.Tx included: github.com/go-sql-driver/mysql reads them
// from a "Reader::" handler that Append registers for the statement (no
// allowAllFiles needed), as tab-separated text in utf8mb4, after every
// value has been checked and converted as for INSERT. The server must
// allow it: local_infile is ON by default on MariaDB, OFF on MySQL 8. A
// server that refuses it is no error: Append falls back to INSERT. With
// LOCAL the server turns what would be errors (a value too long for its
// column, a duplicate key) into warnings, whatever sql_mode says, so a
// load that leaves any warning fails the append with an error matching
// [ErrLoadWarning] that carries the server's first warnings, naming the
// row; as with every failed append, no row stays.
//
// [Result].Bulk tells which path ran; [WithoutCopy] turns COPY and LOAD
// DATA off.
//
// # Atomicity
//
// Either every row is in and the table has the frame's columns, or no row
// of the append is in and the table is as it was: not created, no column
// added. On SQLite and PostgreSQL the table's creation and new columns are
// part of the transaction and roll back with the rows.
//
// MySQL commits the current transaction on DDL, so on MySQL Append runs
// the DDL (CREATE TABLE, ALTER TABLE ADD COLUMN) first and, if the rows
// then fail, undoes it: it drops the table it created, or the columns it
// added. What this cannot guarantee:
//
//   - between the DDL and its undo, other connections can see the new
//     table or columns; rows they write into a table the append created are
//     dropped with it;
//   - if the undo itself fails, the table or columns stay, and the error
//     says so. With a *sql.DB, Append undoes on a fresh connection when a
//     cancelled context made the driver close the first; with a caller's
//     *sql.Tx or *sql.Conn it has no other connection to use;
//   - inside a caller's *sql.Tx (or a *sql.Conn in a transaction), the DDL
//     commits the caller's earlier writes, which nothing can undo. Append
//     then begins a new transaction on that connection (unless one is
//     already open, as under a harness that reopens it), so that the rows,
//     and what the caller does next, still commit or roll back with the
//     caller's Commit or Rollback.
//
// No DDL runs when the table already has every column of the frame: then
// MySQL appends are atomic like the others.
//
// # Lock conflicts and retries
//
// When Append owns the transaction (a *sql.DB), it begins it so as to
// meet a conflict early: on SQLite as a serializable transaction, which
// github.com/ncruces/go-sqlite3 begins IMMEDIATE, taking the write lock
// (or waiting for it, up to the busy timeout) before reading the schema,
// instead of failing when a reader turns writer half way. A lock conflict
// then rolls back and retries the whole append, with exponential backoff
// and full jitter, bounded by [WithRetry] (by default
// [DefaultRetryAttempts] attempts) and by the context. Lock conflicts are SQLite's BUSY and LOCKED, MySQL's
// lock-wait timeout (1205) and deadlock (1213), and PostgreSQL's deadlock
// (40P01), serialization failure (40001) and lock timeout (55P03). A
// transaction that could not be rolled back is never retried. Appenders
// that create the same table, or add the same column, at the same time
// are also retried (at once, within the same attempts): the loser finds
// the winner's table or column there on its next try.
//
// Inside the caller's transaction or connection (a *sql.Tx or *sql.Conn),
// Append never retries: a transaction that met a lock error may be
// poisoned (MySQL rolls back the whole transaction on a deadlock), and
// only its owner can retry it. The error then matches [ErrLocked] at once,
// with [Result].Attempts 1. Either way, the error of a lock conflict is a
// *[LockedError]; errors.As still reaches the driver's error
// (*pgconn.PgError, *mysql.MySQLError, sqlite3.BUSY).
//
// # Lost connections
//
// When the connection an append writes through is lost (the server ended
// the session, shut down or restarted, or the network failed), the error
// matches [ErrConnectionLost] and is a *[ConnectionLostError], carrying the
// driver's error. Lost before the commit, the database rolls the
// transaction back and none of the rows are in. Lost during the commit,
// nobody can tell whether the commit happened: DuringCommit says so, and
// the table must be read before the rows are appended again. Append never
// retries a lost connection, for that reason; the pool discards the dead
// connection. A connection that the driver closes because the context was
// cancelled is reported as the cancellation instead.
//
// # Values
//
// NaN and ±Inf are stored as NULL, since MySQL cannot store them, and
// counted per column in [Result].NonFinite. 64-bit integers round-trip
// exactly, from math.MinInt64 to math.MaxInt64, and so does every float64
// (PostgreSQL DOUBLE PRECISION, MySQL DOUBLE, SQLite REAL).
//
// Timestamps are stored in UTC: as TIMESTAMPTZ on PostgreSQL, as a
// DATETIME(6) holding UTC wall-clock time on MySQL (bound as text, so the
// DSN's loc does not matter, and read back as UTC whatever parseTime and
// loc say), and on SQLite as RFC 3339 text with nine fraction digits
// (2024-05-01T13:45:00.000000000Z), which sorts as time sorts and which
// github.com/ncruces/go-sqlite3's driver decodes back to a time.Time in
// columns declared TIMESTAMP. PostgreSQL and MySQL keep microseconds:
// finer digits are cut. SQLite keeps nanoseconds.
//
// Text keeps every Unicode character, emoji included (MySQL columns are
// utf8mb4), at any length up to the database's own limits.
//
// # Identifiers
//
// Table and column names come from data (CSV headers), so they are always
// quoted, never pasted: [QuoteIdent] doubles the quote character ('"', or
// '`' on MySQL) and rejects what the database cannot hold as given: empty
// names, NUL bytes, invalid UTF-8, names too long (PostgreSQL 63 bytes,
// which it would silently cut; MySQL 64 characters; SQLite 255 bytes, a
// limit of dynamic's own), and on MySQL names ending with a space or
// holding characters beyond the Basic Multilingual Plane. Table names
// follow the database's own case rules: distinct on PostgreSQL, one on
// SQLite, as lower_case_table_names says on MySQL.
//
// # Hostile CSV
//
// [ReadCSV] keeps memory bounded and errors precise whatever its input: a
// field over [DefaultMaxFieldBytes] ([WithMaxFieldBytes] changes it) is
// refused as soon as the limit is passed; input that is not UTF-8 (a
// UTF-16 byte order mark, invalid bytes), ragged rows, malformed quotes
// and a byte order mark left inside a header name are refused with a
// [*CSVError] naming the line and the column, of one of the ErrCSV* kinds.
// Cells that look like spreadsheet formulas are kept as text, exactly.
//
// # Reading back
//
// [Read] returns a table as a frame: columns in the table's order, without
// _row_id; rows in insertion order; types mapped back from the declared
// column types (those of the table above, and the usual others: any
// integer type is Integer, REAL, FLOAT, NUMERIC and DECIMAL are Float,
// TINYINT(1) and BIT(1) on MySQL are Boolean, DATE, DATETIME and the
// TIMESTAMP types are Timestamp, anything else is Text). What Append wrote
// reads back equal. [Count] counts a table's rows. Both return an error
// matching [ErrNoTable] for a table that does not exist.
//
// # Rationale
//
// Why a hidden _row_id: SQL tables have no order, and a data frame does.
// An auto-increment key is the cheapest way to read rows back in the order
// they were appended, on all three databases, and MySQL's InnoDB wants a
// primary key anyway.
//
// Why case-insensitive names everywhere: PostgreSQL would accept "Age" and
// "age" as two columns, MySQL and SQLite would not. A frame that only
// works on one database is a bug waiting for the other.
//
// Why no retry inside a caller's transaction: the lock error may have
// rolled the caller's whole transaction back (a MySQL deadlock does), and
// retrying the append alone would then write rows without the caller's
// earlier work, outside any transaction.
package dynamic
