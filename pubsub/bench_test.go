package pubsub_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pubsub"
)

// Benchmarks: the backend against the raw v2 client doing the same work,
// in the same run, on the same in-process server. One op is one message of
// 100 bytes with one string attribute (the brokertest benchmark message),
// so ns/op and allocs/op are per message. Allocations of the fake server
// (same process) are counted on both sides alike.

func rawClient(b *testing.B, s *fastServer) *gpubsub.Client {
	c, err := gpubsub.NewClient(context.Background(), project, s.options()...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

func backendClient(b *testing.B, s *fastServer) *pubsub.Client {
	c, err := pubsub.NewClient(context.Background(), pubsub.Config{ProjectID: project, ClientOptions: s.options()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// meter measures a benchmark: startMeter resets the timer; stop stops it
// and takes the process's CPU time used since (the fake server's share
// included, alike on both sides); report reports msgs/s and CPU time per
// message (cpu-ns/msg), which on a shared machine is steadier than wall
// time. stop may be called from another goroutine than report, before it.
type meter struct {
	b         *testing.B
	cpu0, cpu time.Duration
	stopped   atomic.Bool
}

func startMeter(b *testing.B) *meter {
	b.ReportAllocs()
	b.ResetTimer()
	return &meter{b: b, cpu0: cpuNow()}
}

func (m *meter) stop() {
	if m.stopped.CompareAndSwap(false, true) {
		m.b.StopTimer()
		m.cpu = cpuNow() - m.cpu0
	}
}

func (m *meter) report() {
	m.stop()
	b := m.b
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "msgs/s")
	}
	if m.cpu0 > 0 {
		b.ReportMetric(float64(m.cpu.Nanoseconds())/float64(b.N), "cpu-ns/msg")
	}
}

// BenchmarkReceive: streaming pull, then ack each message. raw is the
// library's Subscriber.Receive; Receiver is this backend's; the Consumer
// variants add the iterator's hand-off (one buffered channel).
func BenchmarkReceive(b *testing.B) {
	b.Run("impl=raw", func(b *testing.B) {
		s := newFastServer(b)
		sub := rawClient(b, s).Subscriber("bench")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var n atomic.Int64
		meter := startMeter(b)
		err := sub.Receive(ctx, func(_ context.Context, m *gpubsub.Message) {
			m.Ack()
			if n.Add(1) == int64(b.N) {
				meter.stop()
				cancel()
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		meter.report()
	})
	b.Run("impl=Receiver", func(b *testing.B) {
		s := newFastServer(b)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r, err := backendClient(b, s).Receiver(ctx, "bench", pubsub.ReceiveConfig{})
		if err != nil {
			b.Fatal(err)
		}
		var n atomic.Int64
		meter := startMeter(b)
		err = r.Receive(ctx, func(_ context.Context, m broker.Message) {
			m.Ack()
			if n.Add(1) == int64(b.N) {
				meter.stop()
				cancel()
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		meter.report()
	})
	consumer := func(b *testing.B) *pubsub.Consumer {
		s := newFastServer(b)
		c, err := backendClient(b, s).Subscribe(context.Background(), "bench", pubsub.ReceiveConfig{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		return c
	}
	b.Run("impl=ConsumerNextMessage", func(b *testing.B) {
		c := consumer(b)
		ctx := context.Background()
		meter := startMeter(b)
		for range b.N {
			m, err := c.NextMessage(ctx)
			if err != nil {
				b.Fatal(err)
			}
			m.Ack()
		}
		meter.report()
	})
	b.Run("impl=ConsumerNextBatch", func(b *testing.B) {
		c := consumer(b)
		ctx := context.Background()
		meter := startMeter(b)
		for got := 0; got < b.N; {
			batch, err := c.NextBatch(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for i := range batch {
				batch[i].Ack()
			}
			got += len(batch)
		}
		meter.report()
	})
}

// benchKeys is the brokertest benchmark's key spread: 16 ordering keys.
const benchKeys = 16

func benchData() []byte {
	data := make([]byte, 100)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	return data
}

// publishParallelism × GOMAXPROCS callers publish at once.
const publishParallelism = 32

// BenchmarkPublish: one message per call, waiting for the server's ID;
// many parallel callers (b.RunParallel), since a lone caller measures the
// library's 10 ms batching delay. raw is the library's Publisher with ordering enabled
// (this backend always enables it) and the same keys.
func BenchmarkPublish(b *testing.B) {
	data := benchData()
	b.Run("impl=raw", func(b *testing.B) {
		s := newFastServer(b)
		p := rawClient(b, s).Publisher("bench")
		p.EnableMessageOrdering = true
		defer p.Stop()
		var k atomic.Int64
		b.SetParallelism(publishParallelism)
		meter := startMeter(b)
		b.RunParallel(func(pb *testing.PB) {
			key := fmt.Sprint("k", k.Add(1)%benchKeys)
			for pb.Next() {
				r := p.Publish(context.Background(), &gpubsub.Message{Data: data, OrderingKey: key, Attributes: map[string]string{"source": "brokertest"}})
				if _, err := r.Get(context.Background()); err != nil {
					b.Error(err)
					return
				}
			}
		})
		meter.report()
	})
	b.Run("impl=backend", func(b *testing.B) {
		s := newFastServer(b)
		p, err := backendClient(b, s).Publisher(pubsub.PublishConfig{})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		tp, err := p.Topic("bench")
		if err != nil {
			b.Fatal(err)
		}
		var k atomic.Int64
		b.SetParallelism(publishParallelism)
		meter := startMeter(b)
		b.RunParallel(func(pb *testing.PB) {
			key := fmt.Sprint("k", k.Add(1)%benchKeys)
			attrs := map[string]any{"source": "brokertest"}
			for pb.Next() {
				if err := tp.Publish(context.Background(), broker.OutboundMessage{Key: key, Data: data, Attributes: attrs}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		meter.report()
	})
}

// BenchmarkBatchPublish: batches of 100 over 16 ordering keys (each key
// is its own in-order stream of requests in the library), and without
// keys; raw publishes all, then waits for each result, as the backend does.
func BenchmarkBatchPublish(b *testing.B) {
	b.Run("keys=16", func(b *testing.B) { benchBatchPublish(b, benchKeys, false) })
	b.Run("keys=16-in-attribute", func(b *testing.B) { benchBatchPublish(b, benchKeys, true) })
	b.Run("keys=0", func(b *testing.B) { benchBatchPublish(b, 0, false) })
}

// benchBatchPublish publishes batches over nkeys keys; inAttr carries the
// key in an attribute with ordering off (PublishConfig.KeyAttribute; raw
// does the same by hand).
func benchBatchPublish(b *testing.B, nkeys int, inAttr bool) {
	const batch = 100
	data := benchData()
	key := func(i int) string {
		if nkeys == 0 {
			return ""
		}
		return fmt.Sprint("k", i%nkeys)
	}
	b.Run("impl=raw", func(b *testing.B) {
		s := newFastServer(b)
		p := rawClient(b, s).Publisher("bench")
		p.EnableMessageOrdering = !inAttr
		defer p.Stop()
		res := make([]*gpubsub.PublishResult, batch)
		keys := make([]string, batch)
		for i := range keys {
			keys[i] = key(i)
		}
		meter := startMeter(b)
		for sent := 0; sent < b.N; {
			n := min(batch, b.N-sent)
			for i := range n {
				m := &gpubsub.Message{Data: data, OrderingKey: keys[i], Attributes: map[string]string{"source": "brokertest"}}
				if inAttr {
					m.OrderingKey, m.Attributes["key"] = "", keys[i]
				}
				res[i] = p.Publish(context.Background(), m)
			}
			for i := range n {
				if _, err := res[i].Get(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			sent += n
		}
		meter.report()
	})
	b.Run("impl=backend", func(b *testing.B) {
		s := newFastServer(b)
		cfg := pubsub.PublishConfig{}
		if inAttr {
			cfg.KeyAttribute = "key"
		}
		p, err := backendClient(b, s).Publisher(cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		tp, err := p.Topic("bench")
		if err != nil {
			b.Fatal(err)
		}
		attrs := map[string]any{"source": "brokertest"}
		msgs := make([]broker.OutboundMessage, batch)
		for i := range msgs {
			msgs[i] = broker.OutboundMessage{Key: key(i), Data: data, Attributes: attrs}
		}
		meter := startMeter(b)
		for sent := 0; sent < b.N; {
			n := min(batch, b.N-sent)
			if err := tp.BatchPublish(context.Background(), msgs[:n]...); err != nil {
				b.Fatal(err)
			}
			sent += n
		}
		meter.report()
	})
}
