package dbtest_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/easyautoml/dbharness/dbtest"
)

// TestMain checks that once dbtest has released everything, none of its
// goroutines remain.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(dbtest.WrapMain(m))
}
