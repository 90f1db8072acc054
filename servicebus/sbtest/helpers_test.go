package sbtest_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/pullkit/broker/servicebus/sbtest"
)

// newServer starts a server and closes it when the test ends.
func newServer(t *testing.T, opts ...sbtest.Option) *sbtest.Server {
	t.Helper()
	srv, err := sbtest.NewServer(opts...)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// fastRetry keeps the client's retries short so that failure paths (wrong
// key, dropped connection) resolve in well under a second per attempt.
func fastRetry() azservicebus.RetryOptions {
	return azservicebus.RetryOptions{MaxRetries: 3, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 50 * time.Millisecond}
}

// newClient builds a client from the server's connection string and closes
// it when the test ends.
func newClient(t *testing.T, srv *sbtest.Server) *azservicebus.Client {
	t.Helper()
	return newClientFrom(t, srv.ConnectionString())
}

func newClientFrom(t *testing.T, connStr string) *azservicebus.Client {
	t.Helper()
	c, err := azservicebus.NewClientFromConnectionString(connStr, &azservicebus.ClientOptions{RetryOptions: fastRetry()})
	if err != nil {
		t.Fatalf("NewClientFromConnectionString: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

// testCtx bounds every client call of a test.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// receiveOne receives exactly one message, failing the test on error or
// timeout. ReceiveMessages may return no message without an error while
// the client recovers a link, so it is polled until the deadline.
func receiveOne(t *testing.T, ctx context.Context, r *azservicebus.Receiver) *azservicebus.ReceivedMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		msgs, err := r.ReceiveMessages(ctx, 1, nil)
		if err != nil {
			t.Fatalf("ReceiveMessages: %v", err)
		}
		switch len(msgs) {
		case 0:
			continue
		case 1:
			return msgs[0]
		}
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
}

// atomicCounter is a small shared countdown for concurrent receivers.
type atomicCounter struct{ v atomic.Int64 }

func (c *atomicCounter) set(n int64) { c.v.Store(n) }
func (c *atomicCounter) add(d int64) { c.v.Add(d) }
func (c *atomicCounter) get() int64  { return c.v.Load() }
