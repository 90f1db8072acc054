package servicebus_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a goroutine outlives the tests. Against
// sbtest nothing needs ignoring: every client is closed by its test. With
// SERVICEBUS_CONNECTION_STRING set, the administration client's net/http
// transport keeps idle HTTPS connections to the namespace, by design.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}
