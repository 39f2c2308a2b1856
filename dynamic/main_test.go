package dynamic_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/easyautoml/dbharness/dbtest"
)

// TestMain checks that no goroutine outlives the tests: every pool,
// connection, transaction and result set that dynamic opens is closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(dbtest.WrapMain(m))
}
