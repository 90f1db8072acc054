package pulsar_test

import (
	"context"
	"testing"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pulsar"
)

// The Interleaved benchmarks run the backend and raw pulsar-client-go in
// alternating chunks of messages within one benchmark, on one pulsartest
// broker, and report each side's rate and their ratio. On a shared, noisy
// machine this compares the two under the same load, which separate
// benchmarks seconds apart do not.

// interleave runs b.N messages through each side, chunk at a time,
// alternating, and reports backend-msgs/s, raw-msgs/s and backend/raw.
// Each side's function handles exactly n messages.
func interleave(b *testing.B, chunk int, backend, raw func(n int)) {
	var tb, tr time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		start := time.Now()
		backend(n)
		mid := time.Now()
		raw(n)
		tb += mid.Sub(start)
		tr += time.Since(mid)
	}
	b.StopTimer()
	rb := float64(b.N) / tb.Seconds()
	rr := float64(b.N) / tr.Seconds()
	b.ReportMetric(rb, "backend-msgs/s")
	b.ReportMetric(rr, "raw-msgs/s")
	b.ReportMetric(rb/rr, "backend/raw")
}

func BenchmarkInterleaved(b *testing.B) {
	ctx := context.Background()

	b.Run("Publish", func(b *testing.B) {
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
		p, err := e.raw.CreateProducer(pc.ProducerOptions{Topic: e.topic + "-raw"})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		msg := benchMessage()
		interleave(b, 100, func(n int) {
			for range n {
				if err := tp.Publish(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
		}, func(n int) {
			for range n {
				if _, err := p.Send(ctx, rawMessage()); err != nil {
					b.Fatal(err)
				}
			}
		})
	})

	b.Run("BatchPublish100", func(b *testing.B) {
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
		p, err := e.raw.CreateProducer(pc.ProducerOptions{Topic: e.topic + "-raw"})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		msgs := make([]broker.OutboundMessage, benchBatch)
		for i := range msgs {
			msgs[i] = benchMessage()
		}
		done := make(chan error, benchBatch)
		interleave(b, 1000, func(n int) {
			for i := 0; i < n; i += benchBatch {
				if err := tp.BatchPublish(ctx, msgs[:min(benchBatch, n-i)]...); err != nil {
					b.Fatal(err)
				}
			}
		}, func(n int) {
			for i := 0; i < n; i += benchBatch {
				k := min(benchBatch, n-i)
				for range k {
					p.SendAsync(ctx, rawMessage(), func(_ pc.MessageID, _ *pc.ProducerMessage, err error) { done <- err })
				}
				if err := p.FlushWithCtx(ctx); err != nil {
					b.Fatal(err)
				}
				for range k {
					if err := <-done; err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	})

	// Queue: NextBatch and an Ack per message (acks with response, batched
	// by the acker) against Receive and AckID (the client's grouped acks,
	// unconfirmed).
	b.Run("ConsumeAck", func(b *testing.B) {
		e := newBenchEnv(b)
		q, err := e.client.Subscribe(ctx, e.topic, "s", pulsar.QueueConfig{})
		if err != nil {
			b.Fatal(err)
		}
		defer q.Close()
		rawTopic := e.topic + "-raw"
		cons, err := e.raw.Subscribe(pc.ConsumerOptions{Topic: rawTopic, SubscriptionName: "s", Type: pc.Shared,
			EnableBatchIndexAcknowledgment: true})
		if err != nil {
			b.Fatal(err)
		}
		defer cons.Close()
		e.prefill(b, b.N)
		e.topic = rawTopic
		e.prefill(b, b.N)
		var extra []broker.Message // taken by a NextBatch beyond its chunk
		interleave(b, 1000, func(n int) {
			for n > 0 {
				if len(extra) == 0 {
					ms, err := q.NextBatch(ctx)
					if err != nil {
						b.Fatal(err)
					}
					extra = ms
				}
				k := min(n, len(extra))
				for i := range k {
					extra[i].Ack()
				}
				extra, n = extra[k:], n-k
			}
		}, func(n int) {
			for range n {
				m, err := cons.Receive(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if err := cons.AckID(m.ID()); err != nil {
					b.Fatal(err)
				}
			}
		})
	})

	// Log: NextBatch and an Ack of each batch's last record, against
	// Receive and a grouped cumulative AckID every 100th record.
	b.Run("LogConsumeCommit", func(b *testing.B) {
		e := newBenchEnv(b)
		rawTopic := e.topic + "-raw"
		e.prefill(b, b.N)
		backendTopic := e.topic
		e.topic = rawTopic
		e.prefill(b, b.N)
		lc, err := e.client.JoinGroup(ctx, backendTopic, "g", pulsar.LogConfig{})
		if err != nil {
			b.Fatal(err)
		}
		defer lc.Close()
		cons, err := e.raw.Subscribe(pc.ConsumerOptions{Topic: rawTopic, SubscriptionName: "g", Type: pc.Failover,
			SubscriptionInitialPosition: pc.SubscriptionPositionEarliest, EnableBatchIndexAcknowledgment: true})
		if err != nil {
			b.Fatal(err)
		}
		defer cons.Close()
		var extra []broker.Record
		read := 0
		interleave(b, 1000, func(n int) {
			for n > 0 {
				if len(extra) == 0 {
					rs, err := lc.NextBatch(ctx)
					if err != nil {
						b.Fatal(err)
					}
					extra = rs
				}
				k := min(n, len(extra))
				extra[k-1].Ack()
				extra, n = extra[k:], n-k
			}
		}, func(n int) {
			for range n {
				m, err := cons.Receive(ctx)
				if err != nil {
					b.Fatal(err)
				}
				read++
				if read%benchBatch == 0 {
					if err := cons.AckIDCumulative(m.ID()); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	})
}
