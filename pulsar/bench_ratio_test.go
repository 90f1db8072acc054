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

	// The consume benchmarks run chunks of consumeChunk messages, ten
	// receiver queues: while one side is timed, the other side's client
	// refills its receiver queue (1000 messages, decoded by the client's
	// goroutines) and then stops for lack of flow permits. So each side
	// starts its chunk with at most one queue decoded for free, by the
	// other side's time. With a chunk of one queue (as these benchmarks
	// used to run) the raw side found its whole chunk decoded in advance
	// and was charged almost nothing but channel reads, while the backend
	// was charged the raw client's decoding as well: raw's rate was
	// inflated, by up to 3x.
	//
	// Each raw loop reads what the backend hands out (Key, Payload,
	// Properties, ID, RedeliveryCount, PublishTime) and acks each message
	// like a raw user would. Queue, per message:
	//   - backend: NextBatch (up to 100 prefetched), Ack each message; the
	//     acker sends the acks in batches with response (AckIDList), so
	//     each ack is confirmed and a refused one is reported.
	//   - raw-grouped: Receive, AckID on a consumer without
	//     AckWithResponse: the client's grouping tracker sends acks every
	//     100 ms or 1000 acks, never confirmed (a lost ack is not reported;
	//     the message comes back).
	//   - raw-confirmed: Receive 100, then AckIDList them on a consumer
	//     with AckWithResponse, waiting for the broker's answer: the raw way
	//     to the backend's guarantee (each ack confirmed or reported).
	b.Run("ConsumeAck", func(b *testing.B) { interleavedConsume(b, false) })
	b.Run("ConsumeAckConfirmed", func(b *testing.B) { interleavedConsume(b, true) })

	// Log: NextBatch and an Ack of each batch's last record (a cumulative
	// ack with response, through the backend's acker), against Receive of
	// each record (fields read) and a grouped cumulative AckIDCumulative
	// every 100th record (raw-grouped, unconfirmed).
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
		interleave(b, consumeChunk, func(n int) {
			for n > 0 {
				if len(extra) == 0 {
					rs, err := lc.NextBatch(ctx)
					if err != nil {
						b.Fatal(err)
					}
					extra = rs
				}
				k := min(n, len(extra))
				for i := range k {
					useRecord(&extra[i])
				}
				extra[k-1].Ack()
				extra, n = extra[k:], n-k
			}
		}, func(n int) {
			for range n {
				m, err := cons.Receive(ctx)
				if err != nil {
					b.Fatal(err)
				}
				useRaw(m)
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

// consumeChunk is ten default receiver queues (see the consume benchmarks).
const consumeChunk = 10 * 1000

// sink keeps what the loops read alive.
var sink int

// useRaw reads what a raw user needs of m to do what a backend user does.
func useRaw(m pc.Message) {
	n := len(m.Key()) + len(m.Payload()) + len(m.Properties()["a"]) + int(m.RedeliveryCount())
	id := m.ID()
	n += int(id.EntryID()) + int(m.PublishTime().Unix())
	sink += n
}

func useMessage(m *broker.Message) {
	v, _ := m.Attributes["a"].(string)
	sink += len(m.Key) + len(m.Data) + len(v) + len(m.ID) + m.DeliveryCount + int(m.PublishTime.Unix())
}

func useRecord(r *broker.Record) {
	v, _ := r.Attributes["a"].(string)
	sink += len(r.Key) + len(r.Value) + len(v) + int(r.Offset) + int(r.PublishTime.Unix())
}

func interleavedConsume(b *testing.B, confirmed bool) {
	ctx := context.Background()
	e := newBenchEnv(b)
	q, err := e.client.Subscribe(ctx, e.topic, "s", pulsar.QueueConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	rawTopic := e.topic + "-raw"
	cons, err := e.raw.Subscribe(pc.ConsumerOptions{Topic: rawTopic, SubscriptionName: "s", Type: pc.Shared,
		AckWithResponse: confirmed, EnableBatchIndexAcknowledgment: true})
	if err != nil {
		b.Fatal(err)
	}
	defer cons.Close()
	e.prefill(b, b.N)
	e.topic = rawTopic
	e.prefill(b, b.N)
	var extra []broker.Message // taken by a NextBatch beyond its chunk
	ids := make([]pc.MessageID, 0, benchBatch)
	interleave(b, consumeChunk, func(n int) {
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
				useMessage(&extra[i])
				extra[i].Ack()
			}
			extra, n = extra[k:], n-k
		}
	}, func(n int) {
		for i := range n {
			m, err := cons.Receive(ctx)
			if err != nil {
				b.Fatal(err)
			}
			useRaw(m)
			if !confirmed {
				if err := cons.AckID(m.ID()); err != nil {
					b.Fatal(err)
				}
				continue
			}
			ids = append(ids, m.ID())
			if len(ids) == benchBatch || i == n-1 {
				if err := cons.AckIDList(ids); err != nil {
					b.Fatal(err)
				}
				ids = ids[:0]
			}
		}
	})
}
