package servicebus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/brokertest"
	"github.com/pullkit/broker/servicebus"
	"github.com/pullkit/broker/servicebus/sbtest"
)

// The backend against raw azservicebus doing the same work on the same
// sbtest server, in the same run: every op is one message of 100 bytes
// with a partition key and one string property. Compare the two halves of
// each pair (benchstat); absolute numbers drift with the machine's load.

const benchBatch = 100

// benchEnv is one server, one queue and one raw client for a benchmark round.
type benchEnv struct {
	ctx   context.Context
	srv   *sbtest.Server
	raw   *azservicebus.Client
	queue string
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	srv, err := sbtest.NewServer()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	if err := srv.CreateQueue("bench", nil); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b.Cleanup(cancel)
	raw, err := azservicebus.NewClientFromConnectionString(srv.ConnectionString(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = raw.Close(context.Background()) })
	return &benchEnv{ctx: ctx, srv: srv, raw: raw, queue: "bench"}
}

func (e *benchEnv) client(b *testing.B) *servicebus.Client {
	c, err := servicebus.NewClient(servicebus.Config{ConnectionString: e.srv.ConnectionString()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

var benchData = func() []byte {
	d := make([]byte, 100)
	for i := range d {
		d[i] = byte('a' + i%26)
	}
	return d
}()

func outbound(i int) broker.OutboundMessage {
	return broker.OutboundMessage{Key: fmt.Sprint("k", i%16), Data: benchData, Attributes: map[string]any{"source": "bench"}}
}

func rawMessage(i int) *azservicebus.Message {
	key := fmt.Sprint("k", i%16)
	return &azservicebus.Message{Body: benchData, PartitionKey: &key, ApplicationProperties: map[string]any{"source": "bench"}}
}

// rawSendBatches sends n messages in batches of benchBatch with the raw client.
func rawSendBatches(b *testing.B, ctx context.Context, s *azservicebus.Sender, n int) {
	for sent := 0; sent < n; {
		batch, err := s.NewMessageBatch(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		for k := 0; k < benchBatch && sent < n; k++ {
			if err := batch.AddMessage(rawMessage(sent), nil); err != nil {
				b.Fatal(err)
			}
			sent++
		}
		if err := s.SendMessageBatch(ctx, batch, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func rate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkPublish(b *testing.B) {
	b.Run("raw", func(b *testing.B) {
		e := newBenchEnv(b)
		s, _ := e.raw.NewSender(e.queue, nil)
		_ = s.SendMessage(e.ctx, rawMessage(0), nil) // open the link
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if err := s.SendMessage(e.ctx, rawMessage(i), nil); err != nil {
				b.Fatal(err)
			}
		}
		rate(b)
	})
	b.Run("backend", func(b *testing.B) {
		e := newBenchEnv(b)
		p, _ := e.client(b).Publisher()
		tp, _ := p.Topic(e.queue)
		_ = tp.Publish(e.ctx, outbound(0))
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if err := tp.Publish(e.ctx, outbound(i)); err != nil {
				b.Fatal(err)
			}
		}
		rate(b)
	})
}

func BenchmarkBatchPublish(b *testing.B) {
	b.Run("raw", func(b *testing.B) {
		e := newBenchEnv(b)
		s, _ := e.raw.NewSender(e.queue, nil)
		rawSendBatches(b, e.ctx, s, 1)
		b.ReportAllocs()
		b.ResetTimer()
		rawSendBatches(b, e.ctx, s, b.N)
		rate(b)
	})
	b.Run("backend", func(b *testing.B) {
		e := newBenchEnv(b)
		p, _ := e.client(b).Publisher()
		tp, _ := p.Topic(e.queue)
		_ = tp.Publish(e.ctx, outbound(0))
		msgs := make([]broker.OutboundMessage, benchBatch)
		b.ReportAllocs()
		b.ResetTimer()
		for sent := 0; sent < b.N; {
			n := min(benchBatch, b.N-sent)
			for k := range n {
				msgs[k] = outbound(sent + k)
			}
			if err := tp.BatchPublish(e.ctx, msgs[:n]...); err != nil {
				b.Fatal(err)
			}
			sent += n
		}
		rate(b)
	})
}

// BenchmarkReceiveComplete: batches of up to 100 in peek-lock mode, each
// message completed on its own.
func BenchmarkReceiveComplete(b *testing.B) {
	b.Run("raw", func(b *testing.B) {
		e := newBenchEnv(b)
		s, _ := e.raw.NewSender(e.queue, nil)
		rawSendBatches(b, e.ctx, s, b.N)
		r, _ := e.raw.NewReceiverForQueue(e.queue, nil)
		_, _ = r.PeekMessages(e.ctx, 1, nil) // open the links, as NewQueue does
		b.ReportAllocs()
		b.ResetTimer()
		for got := 0; got < b.N; {
			msgs, err := r.ReceiveMessages(e.ctx, benchBatch, nil)
			if err != nil {
				b.Fatal(err)
			}
			for _, m := range msgs {
				if err := r.CompleteMessage(e.ctx, m, nil); err != nil {
					b.Fatal(err)
				}
			}
			got += len(msgs)
		}
		rate(b)
	})
	b.Run("backend", func(b *testing.B) {
		e := newBenchEnv(b)
		s, _ := e.raw.NewSender(e.queue, nil)
		rawSendBatches(b, e.ctx, s, b.N)
		q, err := e.client(b).NewQueue(e.ctx, servicebus.QueueConfig{Queue: e.queue, MaxBatch: benchBatch})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = q.Close() })
		b.ReportAllocs()
		b.ResetTimer()
		for got := 0; got < b.N; {
			batch, err := q.NextBatch(e.ctx)
			if err != nil {
				b.Fatal(err)
			}
			for i := range batch {
				if err := batch[i].AckContext(e.ctx); err != nil {
					b.Fatal(err)
				}
			}
			got += len(batch)
		}
		rate(b)
	})
}

// BenchmarkConformance is the shared suite's benchmarks, comparable with
// the other backends' on the same work.
func BenchmarkConformance(b *testing.B) {
	srv, err := sbtest.NewServer()
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	tg := target{name: "sbtest", connStr: srv.ConnectionString(), admin: sbtestAdmin{srv}, fast: true}
	brokertest.RunQueueBenchmarks(b, queueHarness(tg, false))
}
