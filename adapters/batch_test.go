package adapters

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pullkit/broker"
)

func TestBatchIsHandedOutWhenFullAndPartialOnCancelLosingNothing(t *testing.T) {
	q := newFakeQueue(t, 25, nil)
	it := MessageIteratorToBatchedMessageIterator(q, WithMaxBatch(10), WithMaxWait(time.Hour))
	defer it.Close()
	ctx := context.Background()
	for range 2 {
		b, err := it.NextBatch(ctx)
		if err != nil || len(b) != 10 {
			t.Fatalf("NextBatch = %d messages, %v; want 10", len(b), err)
		}
		ackAll(b)
	}
	// Five left and a batch of ten wanted, with an hour to wait: the
	// caller's ctx ends it, and the five come back with a nil error.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	b, err := it.NextBatch(short)
	if err != nil || len(b) != 5 {
		t.Fatalf("NextBatch after ctx end = %d messages, %v; want the 5 pulled, nil", len(b), err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("NextBatch took %v after its ctx ended", d)
	}
	ackAll(b)
	// Nothing pulled now: ctx's error.
	if b, err := it.NextBatch(short); !errors.Is(err, context.DeadlineExceeded) || len(b) != 0 {
		t.Fatalf("NextBatch with ended ctx = %d, %v; want DeadlineExceeded", len(b), err)
	}
	it.Close()
	q.checkSettled(t)
	if a, _ := q.counts(); a != 25 {
		t.Fatalf("%d acked, want 25", a)
	}
}

// trickle delivers a message every period, forever.
type trickle struct{ period time.Duration }

func (tr trickle) NextMessage(ctx context.Context) (broker.Message, error) {
	timer := time.NewTimer(tr.period)
	defer timer.Stop()
	select {
	case <-timer.C:
		return broker.Message{ID: "x"}, nil
	case <-ctx.Done():
		return broker.Message{}, ctx.Err()
	}
}

func TestBatchTimeoutCountsFromTheFirstMessageNotFromTheLastOne(t *testing.T) {
	// A message every 5ms never leaves a 50ms gap, so an idle timer would
	// keep the batch open until it holds 10000 messages.
	it := MessageIteratorToBatchedMessageIterator(trickle{5 * time.Millisecond}, WithMaxBatch(10000), WithMaxWait(50*time.Millisecond))
	defer it.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	b, err := it.NextBatch(ctx)
	if err != nil || len(b) == 0 {
		t.Fatalf("NextBatch = %d, %v", len(b), err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("batch took %v with MaxWait 50ms", d)
	}
}

func TestBatchFirstItemWaitsAsLongAsTheCallersCtxAllows(t *testing.T) {
	q := newFakeQueue(t, 0, nil)
	it := MessageIteratorToBatchedMessageIterator(q, WithMaxBatch(10), WithMaxWait(time.Millisecond))
	defer it.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pushed := make(chan struct{})
	go func() {
		defer close(pushed)
		waitFor(t, "NextBatch to wait", func() bool { return q.inNext.Load() })
		time.Sleep(20 * time.Millisecond) // longer than MaxWait: the first item is not under it
		q.push(1)
	}()
	b, err := it.NextBatch(ctx)
	<-pushed
	if err != nil || len(b) != 1 {
		t.Fatalf("NextBatch = %d, %v; want the one message, never an empty batch", len(b), err)
	}
	ackAll(b)
}

func TestBatchSourceErrorComesAfterThePartialBatch(t *testing.T) {
	boom := errors.New("boom")
	q := newFakeQueue(t, 3, boom)
	it := MessageIteratorToBatchedMessageIterator(q, WithMaxBatch(10), WithMaxWait(time.Hour))
	defer it.Close()
	b, err := it.NextBatch(context.Background())
	if err != nil || len(b) != 3 {
		t.Fatalf("NextBatch = %d, %v; want 3, nil", len(b), err)
	}
	ackAll(b)
	if _, err := it.NextBatch(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("second NextBatch: %v, want boom", err)
	}
}

func TestBatchedIteratorToIteratorCloseNacksTheRestOfTheBatch(t *testing.T) {
	q := newFakeQueue(t, 10, nil)
	b := MessageIteratorToBatchedMessageIterator(q, WithMaxBatch(10), WithMaxWait(time.Hour))
	it := BatchedMessageIteratorToMessageIterator(b)
	for i := range 3 {
		m, err := it.NextMessage(context.Background())
		if err != nil || m.ID != q.msgs[i].ID {
			t.Fatalf("NextMessage %d = %s, %v", i, m.ID, err)
		}
		m.Ack()
	}
	it.Close()
	b.Close()
	q.checkSettled(t)
	if a, n := q.counts(); a != 3 || n != 7 {
		t.Fatalf("acked %d nacked %d; want 3 and 7", a, n)
	}
	if _, err := it.NextMessage(context.Background()); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("NextMessage after Close: %v", err)
	}
}

func ackAll(ms []broker.Message) {
	for i := range ms {
		ms[i].Ack()
	}
}

// emptyBatches is a native batched source (iterator, stream and receiver
// at once) that hands out two empty batches, as a poll that timed out does,
// then one message, then nothing until ctx ends.
type emptyBatches struct{ calls int }

func (e *emptyBatches) batch(i int) []broker.Message {
	if i < 2 {
		return []broker.Message{}
	}
	return []broker.Message{{ID: "m"}}
}

func (e *emptyBatches) NextBatch(ctx context.Context) ([]broker.Message, error) {
	e.calls++
	if e.calls <= 3 {
		return e.batch(e.calls - 1), nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (e *emptyBatches) BatchStream(ctx context.Context) (<-chan []broker.Message, <-chan error) {
	ch, errc := make(chan []broker.Message, 3), make(chan error)
	for i := range 3 {
		ch <- e.batch(i)
	}
	go func() {
		<-ctx.Done()
		close(ch)
		close(errc)
	}()
	return ch, errc
}

func (e *emptyBatches) ReceiveBatch(ctx context.Context, h func(context.Context, []broker.Message)) error {
	for i := range 3 {
		h(ctx, e.batch(i))
	}
	<-ctx.Done()
	return nil
}

func TestEmptyNativeBatchesAreNeverHandedOut(t *testing.T) {
	sources := map[string]func() *source[broker.Message]{
		"iterator": func() *source[broker.Message] { return fromBatchedMessageIterator(&emptyBatches{}) },
		"stream":   func() *source[broker.Message] { return fromBatchedMessageStream(&emptyBatches{}) },
		"receiver": func() *source[broker.Message] { return fromBatchedReceiver(&emptyBatches{}) },
	}
	for name, src := range sources {
		t.Run(name+"/BatchIterator", func(t *testing.T) {
			it := newBatchIterator(src(), nil)
			defer it.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if b, err := it.NextBatch(ctx); err != nil || len(b) != 1 {
				t.Fatalf("NextBatch = %v, %v; want the one message", b, err)
			}
		})
		t.Run(name+"/BatchStream", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			ch, _ := toBatchStream(src(), nil).BatchStream(ctx)
			b := <-ch
			cancel()
			for range ch {
			}
			if len(b) != 1 {
				t.Fatalf("first batch %v; want the one message", b)
			}
		})
		t.Run(name+"/BatchReceiver", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			got := make(chan int, 3)
			done := make(chan error)
			go func() {
				done <- toBatchedReceiver(src(), []Option{WithWorkers(1)}).ReceiveBatch(ctx,
					func(_ context.Context, b []broker.Message) { got <- len(b) })
			}()
			n := <-got
			cancel()
			<-done
			if n != 1 {
				t.Fatalf("handler got a batch of %d; want 1", n)
			}
		})
	}
}
