package jetstream_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/adapters"
	"github.com/pullkit/broker/jetstream"
)

// The shapes this package does not implement come from package adapters;
// these tests check that the two fit: leases extended with in-progress
// acks, and a record receiver committing a contiguous watermark.

func TestReceiverWithAutoExtendKeepsSlowMessagesLeased(t *testing.T) {
	const ackWait = 300 * time.Millisecond
	c, subject, q := queueFixture(t, jetstream.QueueConfig{AckWait: ackWait})
	publishN(t, c, subject, "m", 0, 4)
	r := adapters.BatchedMessageIteratorToReceiver(q, adapters.WithWorkers(4),
		adapters.WithAutoExtend(ackWait/3, time.Minute),
		adapters.WithOnError(func(err error) { t.Errorf("receiver: %v", err) }))
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	var mu sync.Mutex
	deliveries := map[string]int{}
	var done atomic.Int32
	err := r.Receive(ctx, func(ctx context.Context, m broker.Message) {
		mu.Lock()
		deliveries[string(m.Data)]++
		mu.Unlock()
		time.Sleep(3 * ackWait) // outlives the AckWait three times
		if err := m.AckContext(ctx); err != nil {
			t.Errorf("AckContext: %v", err)
		}
		if done.Add(1) == 4 {
			cancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for data, n := range deliveries {
		if n != 1 {
			t.Errorf("message %q delivered %d times although its lease was extended", data, n)
		}
	}
	if len(deliveries) != 4 {
		t.Errorf("handled %d messages, want 4", len(deliveries))
	}
}

func TestRecordReceiverCommitsOnlyTheContiguousWatermark(t *testing.T) {
	c := connect(t, shared.URL())
	subject, stream := uniqueSubject("wm")
	createStream(t, c, stream, subject)
	publishN(t, c, subject, "r", 0, 6)
	ctx := testCtx(t)
	l, err := c.JoinLog(ctx, jetstream.LogConfig{Subject: subject, Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	var handled atomic.Int32
	r := adapters.BatchedIteratorToRecordReceiver(l, adapters.WithWorkers(2))
	if err := r.Receive(rctx, func(_ context.Context, rec broker.Record) {
		// r3 is never acked: nothing after it may be committed.
		if string(rec.Value) != "r3" {
			rec.Ack()
		}
		if handled.Add(1) == 6 {
			cancel()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := c.JoinLog(ctx, jetstream.LogConfig{Subject: subject, Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l2.Close() })
	rec, err := l2.NextRecord(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(rec.Value) != "r3" {
		t.Errorf("the group resumes at %q, want r3, the first record never acked", rec.Value)
	}
}
