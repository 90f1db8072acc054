package pulsar_test

import (
	"context"
	"testing"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"
	plog "github.com/apache/pulsar-client-go/pulsar/log"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pulsar"
	"github.com/pullkit/broker/pulsar/pulsartest"
)

// Benchmarks of the backend against raw pulsar-client-go doing the same
// work on the same in-process pulsartest broker (a fresh one per round).
// Each op publishes, or consumes and settles, one message of 100 bytes
// with a key and one property; msgs/s is reported alongside.

var benchPayload = make([]byte, 100)

type benchEnv struct {
	srv    *pulsartest.Server
	raw    pc.Client
	client *pulsar.Client
	topic  string
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	srv, err := pulsartest.NewServer()
	if err != nil {
		b.Fatal(err)
	}
	tg := target{url: srv.URL(), srv: srv}
	raw, err := pc.NewClient(pc.ClientOptions{URL: srv.URL(), OperationTimeout: 10 * time.Second, Logger: plog.DefaultNopLogger()})
	if err != nil {
		b.Fatal(err)
	}
	client, err := pulsar.NewClient(tg.config())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = client.Close()
		raw.Close()
		_ = srv.Close()
	})
	return &benchEnv{srv: srv, raw: raw, client: client, topic: uniqueTopic("bench")}
}

func rawMessage() *pc.ProducerMessage {
	return &pc.ProducerMessage{Key: "k", Payload: benchPayload, Properties: map[string]string{"a": "1"}}
}

func benchMessage() broker.OutboundMessage {
	return broker.OutboundMessage{Key: "k", Data: benchPayload, Attributes: map[string]any{"a": "1"}}
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// prefill publishes n messages with the raw client, untimed.
func (e *benchEnv) prefill(b *testing.B, n int) {
	b.Helper()
	p, err := e.raw.CreateProducer(pc.ProducerOptions{Topic: e.topic})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	errs := make(chan error, 1)
	for range n {
		p.SendAsync(ctx, rawMessage(), func(_ pc.MessageID, _ *pc.ProducerMessage, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	if err := p.Flush(); err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

func BenchmarkPublish(b *testing.B) {
	ctx := context.Background()
	b.Run("backend", func(b *testing.B) {
		e := newBenchEnv(b)
		pub, err := e.client.Publisher(pulsar.PublisherConfig{})
		if err != nil {
			b.Fatal(err)
		}
		defer pub.Close()
		tp, err := pub.Topic(e.topic)
		if err != nil {
			b.Fatal(err)
		}
		msg := benchMessage()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := tp.Publish(ctx, msg); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b)
	})
	b.Run("raw", func(b *testing.B) {
		e := newBenchEnv(b)
		p, err := e.raw.CreateProducer(pc.ProducerOptions{Topic: e.topic})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := p.Send(ctx, rawMessage()); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b)
	})
}

const benchBatch = 100

func BenchmarkBatchPublish100(b *testing.B) {
	ctx := context.Background()
	b.Run("backend", func(b *testing.B) {
		e := newBenchEnv(b)
		pub, err := e.client.Publisher(pulsar.PublisherConfig{})
		if err != nil {
			b.Fatal(err)
		}
		defer pub.Close()
		tp, err := pub.Topic(e.topic)
		if err != nil {
			b.Fatal(err)
		}
		msgs := make([]broker.OutboundMessage, benchBatch)
		for i := range msgs {
			msgs[i] = benchMessage()
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i += benchBatch {
			if err := tp.BatchPublish(ctx, msgs[:min(benchBatch, b.N-i)]...); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b)
	})
	b.Run("raw", func(b *testing.B) {
		e := newBenchEnv(b)
		p, err := e.raw.CreateProducer(pc.ProducerOptions{Topic: e.topic})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		b.ReportAllocs()
		b.ResetTimer()
		done := make(chan error, benchBatch)
		for i := 0; i < b.N; i += benchBatch {
			n := min(benchBatch, b.N-i)
			for range n {
				p.SendAsync(ctx, rawMessage(), func(_ pc.MessageID, _ *pc.ProducerMessage, err error) { done <- err })
			}
			if err := p.FlushWithCtx(ctx); err != nil {
				b.Fatal(err)
			}
			for range n {
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
		}
		reportRate(b)
	})
}

// BenchmarkConsumeAck consumes b.N prefilled messages from a Shared
// subscription and acks each. The backend acks with response (confirmed,
// batched by its acker); raw-grouped is the client's default (grouped acks
// without response, never confirmed); raw-with-response acks each message
// with response, one round trip each, which is what confirmed acks cost
// without the acker.
func BenchmarkConsumeAck(b *testing.B) {
	ctx := context.Background()
	backend := func(batched bool) func(b *testing.B) {
		return func(b *testing.B) {
			e := newBenchEnv(b)
			q, err := e.client.Subscribe(ctx, e.topic, "s", pulsar.QueueConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			e.prefill(b, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; {
				if batched {
					ms, err := q.NextBatch(ctx)
					if err != nil {
						b.Fatal(err)
					}
					for i := range ms {
						useMessage(&ms[i])
						ms[i].Ack()
					}
					n += len(ms)
					continue
				}
				m, err := q.NextMessage(ctx)
				if err != nil {
					b.Fatal(err)
				}
				useMessage(&m)
				m.Ack()
				n++
			}
			reportRate(b)
		}
	}
	raw := func(withResponse bool) func(b *testing.B) {
		return func(b *testing.B) {
			e := newBenchEnv(b)
			cons, err := e.raw.Subscribe(pc.ConsumerOptions{Topic: e.topic, SubscriptionName: "s", Type: pc.Shared,
				AckWithResponse: withResponse, EnableBatchIndexAcknowledgment: true})
			if err != nil {
				b.Fatal(err)
			}
			defer cons.Close()
			e.prefill(b, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				m, err := cons.Receive(ctx)
				if err != nil {
					b.Fatal(err)
				}
				useRaw(m)
				if err := cons.AckID(m.ID()); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b)
		}
	}
	b.Run("backend-NextMessage", backend(false))
	b.Run("backend-NextBatch", backend(true))
	b.Run("raw-grouped", raw(false))
	b.Run("raw-with-response", raw(true))
}

// BenchmarkLogConsumeCommit consumes b.N prefilled records from a Failover
// subscription, committing every 100th (cumulatively). The backend acks the
// last record of each NextBatch (100 records) through its acker; raw
// receives one at a time and acks cumulatively every 100th, grouped.
func BenchmarkLogConsumeCommit(b *testing.B) {
	ctx := context.Background()
	b.Run("backend-NextBatch", func(b *testing.B) {
		e := newBenchEnv(b)
		e.prefill(b, b.N)
		lc, err := e.client.JoinGroup(ctx, e.topic, "g", pulsar.LogConfig{})
		if err != nil {
			b.Fatal(err)
		}
		defer lc.Close()
		b.ReportAllocs()
		b.ResetTimer()
		for n := 0; n < b.N; {
			rs, err := lc.NextBatch(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for i := range rs {
				useRecord(&rs[i])
			}
			rs[len(rs)-1].Ack()
			n += len(rs)
		}
		reportRate(b)
	})
	b.Run("raw", func(b *testing.B) {
		e := newBenchEnv(b)
		e.prefill(b, b.N)
		cons, err := e.raw.Subscribe(pc.ConsumerOptions{Topic: e.topic, SubscriptionName: "g", Type: pc.Failover,
			SubscriptionInitialPosition: pc.SubscriptionPositionEarliest, EnableBatchIndexAcknowledgment: true})
		if err != nil {
			b.Fatal(err)
		}
		defer cons.Close()
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			m, err := cons.Receive(ctx)
			if err != nil {
				b.Fatal(err)
			}
			useRaw(m)
			if i%benchBatch == benchBatch-1 || i == b.N-1 {
				if err := cons.AckIDCumulative(m.ID()); err != nil {
					b.Fatal(err)
				}
			}
		}
		reportRate(b)
	})
}
