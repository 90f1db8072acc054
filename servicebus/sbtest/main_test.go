package sbtest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests. Every
// goroutine the server starts ends in Close, and every client is closed by
// its test, so nothing needs to be ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
