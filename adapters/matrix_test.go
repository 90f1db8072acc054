package adapters

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullkit/broker"
)

var sourceOpts = []Option{WithMaxBatch(7), WithMaxWait(5 * time.Millisecond), WithWorkers(3), WithBuffer(4)}

// messageSource builds the named queue shape on q, using the adapters
// themselves for the shapes the fake does not have natively.
func messageSource(q *fakeQueue, shape string) any {
	switch shape {
	case "MessageIterator":
		return q
	case "BatchedMessageIterator":
		return MessageIteratorToBatchedMessageIterator(q, sourceOpts...)
	case "MessageStream":
		return MessageIteratorToMessageStream(q, sourceOpts...)
	case "BatchedMessageStream":
		return MessageIteratorToBatchedMessageStream(q, sourceOpts...)
	case "Receiver":
		return MessageIteratorToReceiver(q, sourceOpts...)
	case "BatchedReceiver":
		return MessageIteratorToBatchedReceiver(q, sourceOpts...)
	}
	panic(shape)
}

func recordSource(l *fakeLog, shape string) any {
	switch shape {
	case "RecordIterator":
		return l
	case "BatchedIterator":
		return RecordIteratorToBatchedIterator(l, sourceOpts...)
	case "RecordStream":
		return RecordIteratorToRecordStream(l, sourceOpts...)
	case "BatchedRecordStream":
		return RecordIteratorToBatchedRecordStream(l, sourceOpts...)
	case "RecordReceiver":
		return RecordIteratorToRecordReceiver(l, sourceOpts...)
	case "BatchedRecordReceiver":
		return RecordIteratorToBatchedRecordReceiver(l, sourceOpts...)
	}
	panic(shape)
}

func closeIfCloser(t testing.TB, v any) {
	t.Helper()
	if c, ok := v.(io.Closer); ok {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}
}

// consume takes n items from any of the twelve shapes, passing each to
// take, and then stops the shape (leftovers a stream still delivers are
// given to leftover). It fails the test on an unexpected error.
func consume[T Item](t testing.TB, target any, n int, take func(T), leftover func(T)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := 0
	var mu sync.Mutex
	takeOne := func(v T) {
		mu.Lock()
		defer mu.Unlock()
		if got < n {
			got++
			take(v)
		} else {
			leftover(v)
		}
	}
	type (
		iterLike interface {
			NextMessage(context.Context) (T, error)
		}
		recIterLike interface {
			NextRecord(context.Context) (T, error)
		}
		batchLike interface {
			NextBatch(context.Context) ([]T, error)
		}
		streamLike interface {
			Stream(context.Context) (<-chan T, <-chan error)
		}
		bstreamLike interface {
			BatchStream(context.Context) (<-chan []T, <-chan error)
		}
		recvLike interface {
			Receive(context.Context, func(context.Context, T)) error
		}
		brecvLike interface {
			ReceiveBatch(context.Context, func(context.Context, []T)) error
		}
	)
	var next func(context.Context) (T, error)
	switch x := target.(type) {
	case iterLike:
		next = x.NextMessage
	case recIterLike:
		next = x.NextRecord
	}
	switch x := target.(type) {
	case iterLike, recIterLike:
		for got < n {
			v, err := next(ctx)
			if err != nil {
				t.Fatalf("after %d items: %v", got, err)
			}
			takeOne(v)
		}
	case batchLike:
		for got < n {
			b, err := x.NextBatch(ctx)
			if err != nil {
				t.Fatalf("after %d items: %v", got, err)
			}
			if len(b) == 0 {
				t.Fatal("empty batch")
			}
			for _, v := range b {
				takeOne(v)
			}
		}
	case streamLike:
		sctx, scancel := context.WithCancel(ctx)
		ch, errc := x.Stream(sctx)
		for got < n {
			v, ok := <-ch
			if !ok {
				t.Fatalf("stream closed after %d items: %v", got, <-errc)
			}
			takeOne(v)
		}
		scancel()
		for v := range ch {
			takeOne(v)
		}
		if err := <-errc; err != nil {
			t.Errorf("stream error: %v", err)
		}
	case bstreamLike:
		sctx, scancel := context.WithCancel(ctx)
		ch, errc := x.BatchStream(sctx)
		for got < n {
			b, ok := <-ch
			if !ok {
				t.Fatalf("stream closed after %d items: %v", got, <-errc)
			}
			if len(b) == 0 {
				t.Fatal("empty batch")
			}
			for _, v := range b {
				takeOne(v)
			}
		}
		scancel()
		for b := range ch {
			for _, v := range b {
				takeOne(v)
			}
		}
		if err := <-errc; err != nil {
			t.Errorf("stream error: %v", err)
		}
	case recvLike:
		rctx, rcancel := context.WithCancel(ctx)
		err := x.Receive(rctx, func(_ context.Context, v T) {
			takeOne(v)
			mu.Lock()
			defer mu.Unlock()
			if got == n {
				rcancel()
			}
		})
		rcancel()
		if err != nil || ctx.Err() != nil {
			t.Fatalf("Receive: %v (ctx %v, %d items)", err, ctx.Err(), got)
		}
	case brecvLike:
		rctx, rcancel := context.WithCancel(ctx)
		err := x.ReceiveBatch(rctx, func(_ context.Context, b []T) {
			if len(b) == 0 {
				t.Error("empty batch")
			}
			for _, v := range b {
				takeOne(v)
			}
			mu.Lock()
			defer mu.Unlock()
			if got == n {
				rcancel()
			}
		})
		rcancel()
		if err != nil || ctx.Err() != nil {
			t.Fatalf("ReceiveBatch: %v (ctx %v, %d items)", err, ctx.Err(), got)
		}
	default:
		t.Fatalf("%T is none of the shapes", target)
	}
}

func TestEveryMessageConversionDeliversEachMessageOnceAndSettlesTheRest(t *testing.T) {
	const n = 50
	for _, c := range messageConversions {
		t.Run(c.from+"To"+c.to, func(t *testing.T) {
			t.Parallel()
			// More messages than the consumer takes: those the adapters
			// pulled but never handed out must come back nacked.
			q := newFakeQueue(t, n+40, nil)
			src := messageSource(q, c.from)
			target := c.convert(src, WithMaxBatch(5), WithMaxWait(5*time.Millisecond), WithWorkers(2), WithBuffer(3))
			// Without a receiver (and its workers) on the way, order is kept.
			ordered := !strings.Contains(c.from+c.to, "Receiver")
			var mu sync.Mutex
			next := 0
			consume(t, target, n, func(m broker.Message) {
				mu.Lock()
				if want := fmt.Sprintf("m%04d", next); ordered && m.ID != want {
					t.Errorf("got %s, want %s", m.ID, want)
				}
				next++
				mu.Unlock()
				m.Ack()
			}, func(m broker.Message) { m.Nack() })
			closeIfCloser(t, target)
			closeIfCloser(t, src)
			q.checkSettled(t)
			if a, _ := q.counts(); a != n {
				t.Errorf("%d messages acked, want %d", a, n)
			}
		})
	}
}

func TestEveryRecordConversionKeepsPartitionOrderAndCommitsEverything(t *testing.T) {
	const parts, per = 3, 12
	for _, c := range recordConversions {
		t.Run(c.from+"To"+c.to, func(t *testing.T) {
			t.Parallel()
			l := newFakeLog(t, parts, per, 0, nil)
			src := recordSource(l, c.from)
			target := c.convert(src, WithMaxBatch(5), WithMaxWait(5*time.Millisecond), WithWorkers(2), WithBuffer(3))
			last := map[int64]int64{}
			var mu sync.Mutex
			consume(t, target, parts*per, func(r broker.Record) {
				mu.Lock()
				if prev, ok := last[r.Partition]; ok && r.Offset != prev+1 {
					t.Errorf("partition %d: offset %d after %d", r.Partition, r.Offset, prev)
				}
				last[r.Partition] = r.Offset
				mu.Unlock()
				if err := r.AckContext(context.Background()); err != nil {
					t.Errorf("ack %d@%d: %v", r.Partition, r.Offset, err)
				}
			}, func(broker.Record) {})
			closeIfCloser(t, target)
			closeIfCloser(t, src)
			for p := range int64(parts) {
				if got := l.committed(p); got != per-1 {
					t.Errorf("partition %d committed %d, want %d", p, got, per-1)
				}
			}
			l.checkMonotonic(t)
			if s := l.subscribers(); s != 0 {
				t.Errorf("%d revocation callbacks still registered after shutdown", s)
			}
		})
	}
}
