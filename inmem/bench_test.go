package inmem

import (
	"context"
	"testing"

	"github.com/pullkit/broker"
)

// The benchmarks report ns/op and allocs/op per message: each op publishes,
// or consumes and settles, one message of 100 bytes.

var benchPayload = make([]byte, 100)

type benchValue struct {
	key  string
	data []byte
	off  int64
}

// BenchmarkChannelHandoff is the floor: a buffered Go channel (cap 1024)
// carrying the same kind of value from one goroutine to another.
func BenchmarkChannelHandoff(b *testing.B) {
	ch := make(chan benchValue, 1024)
	done := make(chan struct{})
	go func() {
		for range ch {
		}
		close(done)
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		ch <- benchValue{key: "k", data: benchPayload, off: int64(i)}
	}
	close(ch)
	<-done
}

func BenchmarkPublish(b *testing.B) {
	for _, bc := range []struct {
		name  string
		setup func(*Broker)
	}{
		{"log-only", func(*Broker) {}},
		{"one-subscription", func(br *Broker) {
			if _, err := br.Subscribe("t", "s", QueueConfig{}); err != nil {
				b.Fatal(err)
			}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			br := New()
			defer br.Close()
			bc.setup(br)
			tp, err := br.Publisher().Topic("t")
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			msg := broker.OutboundMessage{Key: "k", Data: benchPayload}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := tp.Publish(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBatchPublish100(b *testing.B) {
	br := New()
	defer br.Close()
	tp, _ := br.Publisher().Topic("t")
	msgs := make([]broker.OutboundMessage, 100)
	for i := range msgs {
		msgs[i] = broker.OutboundMessage{Key: "k", Data: benchPayload}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(msgs) {
		if err := tp.BatchPublish(ctx, msgs...); err != nil {
			b.Fatal(err)
		}
	}
}

// fill publishes n messages before the timer starts.
func fill(b *testing.B, br *Broker, n int) {
	tp, err := br.Publisher().Topic("t")
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([]broker.OutboundMessage, 1000)
	for i := range msgs {
		msgs[i] = broker.OutboundMessage{Data: benchPayload}
	}
	for n > 0 {
		k := min(n, len(msgs))
		if err := tp.BatchPublish(context.Background(), msgs[:k]...); err != nil {
			b.Fatal(err)
		}
		n -= k
	}
}

func BenchmarkConsumeAck(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  QueueConfig
	}{
		{"deadline", QueueConfig{}},
		{"no-deadline", QueueConfig{AckDeadline: -1}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			br := New()
			defer br.Close()
			sub, err := br.Subscribe("t", "s", bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			fill(b, br, b.N)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				m, err := sub.NextMessage(ctx)
				if err != nil {
					b.Fatal(err)
				}
				m.Ack()
			}
		})
	}
}

func BenchmarkConsumeAckBatch(b *testing.B) {
	br := New()
	defer br.Close()
	sub, err := br.Subscribe("t", "s", QueueConfig{})
	if err != nil {
		b.Fatal(err)
	}
	fill(b, br, b.N)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		batch, err := sub.NextBatch(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for i := range batch {
			batch[i].Ack()
		}
		n += len(batch)
	}
}

func BenchmarkConsumeCommit(b *testing.B) {
	for _, bc := range []struct {
		name  string
		batch bool
	}{{"next-record", false}, {"next-batch", true}} {
		b.Run(bc.name, func(b *testing.B) {
			br := New()
			defer br.Close()
			fill(b, br, b.N)
			c, err := br.JoinGroup("t", "g", LogConfig{})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			if !bc.batch {
				for range b.N {
					r, err := c.NextRecord(ctx)
					if err != nil {
						b.Fatal(err)
					}
					r.Ack()
				}
				return
			}
			for n := 0; n < b.N; {
				batch, err := c.NextBatch(ctx)
				if err != nil {
					b.Fatal(err)
				}
				for i := range batch {
					batch[i].Ack()
				}
				n += len(batch)
			}
		})
	}
}
