package kafka_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test of the package, the conformance suites included, must leave
// no goroutine behind: franz-go clients and kfake clusters stop all of
// theirs on Close, so no ignore is needed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
