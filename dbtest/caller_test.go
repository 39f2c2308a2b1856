package dbtest

import (
	"strings"
	"testing"
)

func TestInternalFrame(t *testing.T) {
	cases := []struct {
		fn, file string
		want     bool
		reason   string
	}{
		{"github.com/easyautoml/dbharness/dbtest.(*session).exec", "/src/dbtest/session.go", true, "dbtest's own code is never the caller"},
		{"github.com/easyautoml/dbharness/fixtures.Load", "/src/fixtures/load.go", true, "fixtures loads rows on the test's behalf"},
		{"github.com/easyautoml/dbharness/harness.(*runner).expect", "/src/harness/expect.go", true, "the scenario engine is a library too"},
		{"github.com/easyautoml/dbharness/dynamic.Append.func1", "/src/dynamic/append.go", true, "closures of a library package are internal"},
		{"github.com/easyautoml/dbharness/registry.(*Users).Create", "/src/registry/users.go", true, "the registry's repositories are internal"},
		{"github.com/easyautoml/dbharness/internal/testserver.Start", "/src/internal/testserver/x.go", true, "internal/... is the library's"},
		{"github.com/easyautoml/dbharness/dbtest.TestSavepoints", "/src/dbtest/dbtest_test.go", false, "a test file inside dbtest is user code"},
		{"github.com/easyautoml/dbharness/fixtures.TestLoad.func2", "/src/fixtures/load_test.go", false, "a test file inside fixtures is user code"},
		{"github.com/easyautoml/dbharness/dbtest_test.TestX", "/src/dbtest/x_test.go", false, "external test packages are user code"},
		{"github.com/easyautoml/dbharness/scenarios.run", "/src/scenarios/run.go", false, "scenarios are not a library package"},
		{"github.com/easyautoml/dbharness/dbtestx.F", "/src/dbtestx/f.go", false, "a package whose name only starts like a library's is not one"},
		{"github.com/easyautoml/dbharness/cmd/dbharness.main", "/src/cmd/dbharness/main.go", false, "the command is a caller of the library"},
		{"example.com/app/store.(*Store).Save", "/app/store/store.go", false, "the code under test"},
		{"database/sql.(*DB).ExecContext", "/go/src/database/sql/sql.go", true, "database/sql is plumbing"},
	}
	for _, c := range cases {
		if got := internalFrame(c.fn, c.file); got != c.want {
			t.Errorf("internalFrame(%q, %q) = %v, want %v: %s", c.fn, c.file, got, c.want, c.reason)
		}
	}
}

// TestCallerOutsideInPackageTest: a test file of package dbtest itself is
// the code under test, and is named.
func TestCallerOutsideInPackageTest(t *testing.T) {
	if got := callerOutside(); !strings.HasPrefix(got, "caller_test.go:") {
		t.Fatalf("callerOutside() = %q, want caller_test.go:N", got)
	}
}
