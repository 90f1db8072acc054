package jetstream_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pullkit/broker/jetstream"
	"github.com/pullkit/broker/jetstream/jstest"
)

// Close during a server outage must not leave the pull subscription's
// goroutines behind: nats.go cannot drain a subscription without a
// server, and waits out its DrainTimeout (30 s) before giving up.
func TestConsumersClosedDuringAnOutageLeaveNoGoroutines(t *testing.T) {
	srv := startServer(t, jstest.Options{})
	c := fastReconnect(t, srv.URL())
	subject, stream := uniqueSubject("outageclose")
	createStream(t, c, stream, subject)
	ctx := testCtx(t)
	publishN(t, c, subject, "m", 0, 3)
	before := goleak.IgnoreCurrent()
	q, err := c.Subscribe(ctx, jetstream.QueueConfig{Subject: subject, Consumer: "q", CloseTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.JoinLog(ctx, jetstream.LogConfig{Subject: subject, Group: "g", CloseTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.NextMessage(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.NextRecord(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Shutdown()
	for c.Conn().IsConnected() {
		select {
		case <-ctx.Done():
			t.Fatal("the client did not notice the outage")
		case <-time.After(10 * time.Millisecond):
		}
	}
	_ = q.Close() // errors are expected: nothing can be flushed
	_ = l.Close()
	// The client's own reconnection goroutine is not the consumers'.
	if err := goleak.Find(before, goleak.IgnoreAnyFunction("github.com/nats-io/nats%2ego.(*Conn).doReconnect")); err != nil {
		t.Error(err)
	}
	// Back up, so the test's cleanups (stream deletion, client Close) do
	// not wait out their timeouts.
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
}
