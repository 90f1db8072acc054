package inmem

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/adapters"
)

// TestAutoExtendedReceiverHandlerOutlivesTheAckDeadline runs the whole
// chain on a real clock: a receiver from package adapters with
// WithAutoExtend keeps a message leased through inmem's Extend while a slow
// handler works three ack deadlines long, so the idle second worker never
// gets it redelivered.
func TestAutoExtendedReceiverHandlerOutlivesTheAckDeadline(t *testing.T) {
	b := newBroker(t)
	const deadline = 400 * time.Millisecond
	sub := subscribe(t, b, "t", "s", QueueConfig{AckDeadline: deadline})
	publish(t, b, "t", data("slow")...)
	ctx, cancel := context.WithTimeout(testCtx(t), 10*time.Second)
	defer cancel()
	var deliveries atomic.Int32
	recv := adapters.MessageIteratorToReceiver(sub, adapters.WithWorkers(2),
		adapters.WithAutoExtend(deadline/4, time.Minute),
		adapters.WithOnError(func(err error) { t.Errorf("extension failed: %v", err) }))
	err := recv.Receive(ctx, func(hctx context.Context, m broker.Message) {
		deliveries.Add(1)
		select {
		case <-time.After(3 * deadline): // the slow work
		case <-hctx.Done():
		}
		if err := m.AckContext(hctx); err != nil {
			t.Errorf("AckContext after a long handler: %v (the lease lapsed)", err)
		}
		cancel()
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := deliveries.Load(); n != 1 {
		t.Fatalf("delivered %d times, want 1: the lease was not kept", n)
	}
}
