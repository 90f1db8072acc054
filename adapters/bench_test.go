package adapters

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/pullkit/broker"
)

// Benchmarks move b.N items through one conversion from a native source
// that hands out pre-built values without allocating, and acknowledge each,
// so ns/op and allocs/op are per item. BenchmarkChannelHandoff is the floor:
// the same values handed from one goroutine to another over a buffered
// channel of capacity 1024.

var (
	benchMsg   = broker.Message{ID: "id", Key: "key", Data: make([]byte, 100)}
	benchBatch = func() []broker.Message {
		b := make([]broker.Message, 100)
		for i := range b {
			b[i] = benchMsg
		}
		return b
	}()
)

const benchPartitions = 4

// benchRecordBatch is reused by every batched record source: its offsets
// repeat, which the watermark tolerates (it never commits backwards).
var benchRecordBatch = func() []broker.Record {
	b := make([]broker.Record, 100)
	for i := range b {
		b[i] = benchRecordAt(int64(i))
	}
	return b
}()

// benchRecordAt returns the n-th record of a log of benchPartitions
// partitions written round-robin.
func benchRecordAt(n int64) broker.Record {
	return broker.Record{Topic: "t", Partition: n % benchPartitions, Offset: n / benchPartitions, Key: "key", Value: benchMsg.Data}
}

func BenchmarkChannelHandoff(b *testing.B) {
	b.ReportAllocs()
	ch := make(chan broker.Message, 1024)
	go func() {
		for range b.N {
			ch <- benchMsg
		}
		close(ch)
	}()
	n := 0
	for m := range ch {
		m.Ack()
		n++
	}
	if n != b.N {
		b.Fatal(n)
	}
}

// Native sources of each shape.

type benchMessages struct{}

func (benchMessages) NextMessage(ctx context.Context) (broker.Message, error) {
	if err := ctx.Err(); err != nil {
		return broker.Message{}, err
	}
	return benchMsg, nil
}

type benchMessageBatches struct{}

func (benchMessageBatches) NextBatch(ctx context.Context) ([]broker.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return benchBatch, nil
}

func nativeStream[E any](ctx context.Context, v E) (<-chan E, <-chan error) {
	ch, errc := make(chan E, 1024), make(chan error)
	go func() {
		defer close(errc)
		defer close(ch)
		for {
			// The same fast path as the adapters' own senders, so that the
			// native source costs what a plain channel hand-off costs.
			select {
			case ch <- v:
				continue
			default:
			}
			select {
			case ch <- v:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, errc
}

type benchMessageStream struct{}

func (benchMessageStream) Stream(ctx context.Context) (<-chan broker.Message, <-chan error) {
	return nativeStream(ctx, benchMsg)
}

func (benchMessageStream) BatchStream(ctx context.Context) (<-chan []broker.Message, <-chan error) {
	return nativeStream(ctx, benchBatch)
}

type benchReceiver struct{}

func (benchReceiver) Receive(ctx context.Context, h func(context.Context, broker.Message)) error {
	for ctx.Err() == nil {
		h(ctx, benchMsg)
	}
	return nil
}

func (benchReceiver) ReceiveBatch(ctx context.Context, h func(context.Context, []broker.Message)) error {
	for ctx.Err() == nil {
		h(ctx, benchBatch)
	}
	return nil
}

type benchRecords struct{ n int64 }

func (s *benchRecords) NextRecord(ctx context.Context) (broker.Record, error) {
	if err := ctx.Err(); err != nil {
		return broker.Record{}, err
	}
	s.n++
	return benchRecordAt(s.n - 1), nil
}

func (s *benchRecords) NextBatch(ctx context.Context) ([]broker.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return benchRecordBatch, nil
}

func (s *benchRecords) Stream(ctx context.Context) (<-chan broker.Record, <-chan error) {
	ch, errc := make(chan broker.Record, 1024), make(chan error)
	go func() {
		defer close(errc)
		defer close(ch)
		for n := int64(0); ; n++ {
			select {
			case ch <- benchRecordAt(n):
				continue
			default:
			}
			select {
			case ch <- benchRecordAt(n):
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, errc
}

func (s *benchRecords) BatchStream(ctx context.Context) (<-chan []broker.Record, <-chan error) {
	ch, errc := make(chan []broker.Record, 1024), make(chan error)
	go func() {
		defer close(errc)
		defer close(ch)
		for {
			select {
			case ch <- benchRecordBatch:
				continue
			default:
			}
			select {
			case ch <- benchRecordBatch:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, errc
}

func (s *benchRecords) Receive(ctx context.Context, h func(context.Context, broker.Record)) error {
	for n := int64(0); ctx.Err() == nil; n++ {
		h(ctx, benchRecordAt(n))
	}
	return nil
}

func (s *benchRecords) ReceiveBatch(ctx context.Context, h func(context.Context, []broker.Record)) error {
	for ctx.Err() == nil {
		h(ctx, benchRecordBatch)
	}
	return nil
}

func benchMessageSource(shape string) any {
	switch shape {
	case "MessageIterator":
		return benchMessages{}
	case "BatchedMessageIterator":
		return benchMessageBatches{}
	case "MessageStream", "BatchedMessageStream":
		return benchMessageStream{}
	default:
		return benchReceiver{}
	}
}

func BenchmarkMessages(b *testing.B) {
	for _, c := range messageConversions {
		b.Run(c.from+"To"+c.to, func(b *testing.B) {
			benchConsume[broker.Message](b, c.convert(benchMessageSource(c.from)), func(m broker.Message) { m.Ack() })
		})
	}
}

func BenchmarkRecords(b *testing.B) {
	for _, c := range recordConversions {
		b.Run(c.from+"To"+c.to, func(b *testing.B) {
			benchConsume[broker.Record](b, c.convert(&benchRecords{}), func(r broker.Record) { r.Ack() })
		})
	}
}

// benchConsume takes b.N items from target, settling each, then stops it.
func benchConsume[T Item](b *testing.B, target any, settle func(T)) {
	b.ReportAllocs()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := int64(b.N)
	b.ResetTimer()
	switch x := target.(type) {
	case interface {
		NextMessage(context.Context) (T, error)
	}:
		for range n {
			v, _ := x.NextMessage(ctx)
			settle(v)
		}
	case interface {
		NextRecord(context.Context) (T, error)
	}:
		for range n {
			v, _ := x.NextRecord(ctx)
			settle(v)
		}
	case interface {
		NextBatch(context.Context) ([]T, error)
	}:
		for got := int64(0); got < n; {
			batch, _ := x.NextBatch(ctx)
			for _, v := range batch {
				settle(v)
			}
			got += int64(len(batch))
		}
	case interface {
		Stream(context.Context) (<-chan T, <-chan error)
	}:
		ch, _ := x.Stream(ctx)
		for range n {
			settle(<-ch)
		}
		cancel()
		for range ch {
		}
	case interface {
		BatchStream(context.Context) (<-chan []T, <-chan error)
	}:
		ch, _ := x.BatchStream(ctx)
		for got := int64(0); got < n; {
			batch := <-ch
			for _, v := range batch {
				settle(v)
			}
			got += int64(len(batch))
		}
		cancel()
		for range ch {
		}
	case interface {
		Receive(context.Context, func(context.Context, T)) error
	}:
		var got atomic.Int64
		_ = x.Receive(ctx, func(_ context.Context, v T) {
			settle(v)
			if got.Add(1) == n {
				cancel()
			}
		})
	case interface {
		ReceiveBatch(context.Context, func(context.Context, []T)) error
	}:
		var got atomic.Int64
		_ = x.ReceiveBatch(ctx, func(_ context.Context, batch []T) {
			for _, v := range batch {
				settle(v)
			}
			if got.Add(int64(len(batch))) >= n {
				cancel()
			}
		})
	default:
		b.Fatalf("%T", target)
	}
	b.StopTimer()
	cancel()
	if c, ok := target.(interface{ Close() error }); ok {
		c.Close()
	}
}
