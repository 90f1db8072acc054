package inmem

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pullkit/broker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newBroker(t testing.TB, opts ...Option) *Broker {
	t.Helper()
	b := New(opts...)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func publish(t testing.TB, b *Broker, topic string, msgs ...broker.OutboundMessage) {
	t.Helper()
	pub := b.Publisher()
	defer pub.Close()
	tp, err := pub.Topic(topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := tp.Publish(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
}

func data(ss ...string) []broker.OutboundMessage {
	out := make([]broker.OutboundMessage, len(ss))
	for i, s := range ss {
		out[i] = broker.OutboundMessage{Data: []byte(s)}
	}
	return out
}

func subscribe(t testing.TB, b *Broker, topic, sub string, cfg QueueConfig) *QueueConsumer {
	t.Helper()
	c, err := b.Subscribe(topic, sub, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func join(t testing.TB, b *Broker, topic, group string, cfg LogConfig) *LogConsumer {
	t.Helper()
	c, err := b.JoinGroup(topic, group, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func next(t testing.TB, c *QueueConsumer) broker.Message {
	t.Helper()
	m, err := c.NextMessage(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func nextRecord(t testing.TB, c *LogConsumer) broker.Record {
	t.Helper()
	r, err := c.NextRecord(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// available reports how many messages the subscription could hand out now,
// without waiting.
func available(c *QueueConsumer) int {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return len(c.s.pending) - c.s.head
}

func recordsAvailable(c *LogConsumer) int {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	return c.availableLocked()
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want one matching %v", err, target)
	}
}
