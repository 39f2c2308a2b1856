// Package scenarios holds the scenario files that reproduce the AutoML
// platform's workflows and lock bugs, embedded so that the dbharness
// command runs them wherever it is installed. Their format is described in
// package harness.
//
// # The scenarios
//
//	salaries_prediction_complete_workflow     a user and a team, a machine, the salaries
//	                                          dataset, a regression trained and checked on
//	                                          held-back rows, predictions, billing, the log
//	salaries_prediction_diagnostic_row_count  the dataset appended in chunks (one empty, one
//	                                          with a new column), counted after each
//	machine_1                                 one machine's life: data, table lock, access
//	                                          scoping, deletion with its data table
//	lock_bug_second_connection                the platform's lock bug (a second connection)
//	                                          and its fix (a pool sharing the transaction),
//	                                          on a machine's data table
//	hostile_names                             column names from a CSV file that try to run
//	                                          SQL are plain names; users keeps its rows
//
// One scenario per known lock-bug pattern (dbharness repro lock runs the
// same patterns as Go reproductions), each run on every backend:
//
//	lock_bug_separate_connection  1  a write through a separate connection waits on the test's
//	                                 own transaction (self-deadlock, stopped at once) or, on
//	                                 PostgreSQL, cannot see its rows; what it commits escapes,
//	                                 and cleanup names the table
//	lock_bug_shared_connection    2  the fix: the same code given db.DSN()
//	lock_bug_deadlock             3  two writers in opposite order: the server's deadlock,
//	                                 reported with both statements; SQLite's single writer
//	lock_bug_long_read            4  a long read against a writer in SQLite's rollback
//	                                 journal; the servers' readers never block writers
//	lock_bug_long_read_wal        4  the same in WAL mode, where nothing waits
//	lock_bug_retry                5  a bounded retry past a brief writer; giving up on a
//	                                 stuck one with the report
//	lock_bug_commit_refused       6  COMMIT from inside, refused by dbtest and named at cleanup
//	lock_bug_commit_from_inside   6  COMMIT let through: the test's rows escape, and cleanup
//	                                 catches it, naming the statement and the table
//	separate_connection_without_transaction
//	                              1  the same code without a test transaction
//	                                 (transaction: none): every step commits, the separate
//	                                 connection sees them, and the database is restored after
//
// # Running them
//
//	make run                                 every scenario on the embedded SQLite
//	go run ./cmd/dbharness run --db all      on every backend found
//	go test ./scenarios/                     through dbtest.Each, as subtests scenario/backend
//
// # Adding one
//
// Write name.yaml here: it is embedded, run by the command and tested on
// every backend by scenarios_test.go without further change. Files it names
// (CSV files, fixture sets) go beside it and must be added to the embed
// pattern of [FS]. "dbharness validate scenarios/name.yaml" checks it
// without a database.
package scenarios

import "embed"

// FS holds the scenario files (*.yaml) and the files they name (*.csv).
//
//go:embed *.yaml *.csv
var FS embed.FS
