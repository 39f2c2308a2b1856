package dynamic_test

import (
	"testing"

	"github.com/easyautoml/dbharness/internal/leakcheck"
)

// TestMain checks, after the tests, that no goroutine and no server
// connection remains (leakcheck), and drops dbtest's databases.
func TestMain(m *testing.M) { leakcheck.Main(m) }
