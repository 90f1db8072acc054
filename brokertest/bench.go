package brokertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pullkit/broker"
)

// Every benchmark does the same work on every backend, one op per message:
// 100-byte payloads, 16 keys, one string attribute. ns/op and allocs/op are
// per message, and msgs/s is reported alongside.

const (
	benchPayload = 100
	benchBatch   = 100
	fillBatch    = 1000
	benchTimeout = 10 * time.Minute
)

func benchMessages(n int) []broker.OutboundMessage {
	data := make([]byte, benchPayload)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	attrs := map[string]any{"source": "brokertest"}
	msgs := make([]broker.OutboundMessage, n)
	for i := range msgs {
		msgs[i] = broker.OutboundMessage{Key: fmt.Sprint("k", i%16), Data: data, Attributes: attrs}
	}
	return msgs
}

// RunQueueBenchmarks measures h's publish and consume throughput:
// Publish (one message per call), BatchPublish (batches of 100),
// NextMessageAck (NextMessage then Ack) and, with Features.BatchedIterator,
// NextBatchAck (NextBatch then Ack of each message).
func RunQueueBenchmarks(b *testing.B, h QueueHarness) {
	setup := func(b *testing.B) (context.Context, broker.Topic, QueueConsumer) {
		ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
		b.Cleanup(cancel)
		topic, err := h.NewTopic(ctx, b)
		benchMust(b, err, "NewTopic")
		// A subscription exists, so the broker keeps what is published.
		c, err := h.Subscribe(ctx, b, topic, uniqueName("bench"), SubscribeOptions{MaxBatch: benchBatch})
		benchMust(b, err, "Subscribe")
		b.Cleanup(func() { c.Close() })
		return ctx, benchTopic(ctx, b, h.Publisher, topic), c
	}
	b.Run("Publish", func(b *testing.B) {
		ctx, tp, _ := setup(b)
		benchPublish(ctx, b, tp, 1)
	})
	b.Run("BatchPublish", func(b *testing.B) {
		ctx, tp, _ := setup(b)
		benchPublish(ctx, b, tp, benchBatch)
	})
	b.Run("NextMessageAck", func(b *testing.B) {
		ctx, tp, c := setup(b)
		fill(ctx, b, tp)
		for range b.N {
			m, err := c.NextMessage(ctx)
			benchMust(b, err, "NextMessage")
			m.Ack()
		}
		reportRate(b)
	})
	b.Run("NextBatchAck", func(b *testing.B) {
		if !h.Features.BatchedIterator {
			b.Skip("requires QueueFeatures.BatchedIterator")
		}
		ctx, tp, c := setup(b)
		it := c.(broker.BatchedMessageIterator)
		fill(ctx, b, tp)
		for got := 0; got < b.N; {
			batch, err := it.NextBatch(ctx)
			benchMust(b, err, "NextBatch")
			for i := range batch {
				batch[i].Ack()
			}
			got += len(batch)
		}
		reportRate(b)
	})
}

// RunLogBenchmarks measures h's publish and consume throughput on a
// 4-partition topic (or MaxPartitions): Publish, BatchPublish (batches of
// 100), NextRecordAck (NextRecord then Ack of each record) and, with
// Features.BatchedIterator, NextBatchAck (NextBatch then Ack of the last
// record of each partition in the batch, the way a log is meant to be
// committed).
func RunLogBenchmarks(b *testing.B, h LogHarness) {
	partitions := (&logSuite{h: h}).partitions()
	setup := func(b *testing.B) (context.Context, string, broker.Topic) {
		ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
		b.Cleanup(cancel)
		topic, err := h.NewTopic(ctx, b, partitions)
		benchMust(b, err, "NewTopic")
		return ctx, topic, benchTopic(ctx, b, h.Publisher, topic)
	}
	join := func(ctx context.Context, b *testing.B, topic string) LogConsumer {
		c, err := h.JoinGroup(ctx, b, topic, uniqueName("bench"), GroupOptions{MaxBatch: benchBatch})
		benchMust(b, err, "JoinGroup")
		b.Cleanup(func() { c.Close() })
		return c
	}
	b.Run("Publish", func(b *testing.B) {
		ctx, _, tp := setup(b)
		benchPublish(ctx, b, tp, 1)
	})
	b.Run("BatchPublish", func(b *testing.B) {
		ctx, _, tp := setup(b)
		benchPublish(ctx, b, tp, benchBatch)
	})
	b.Run("NextRecordAck", func(b *testing.B) {
		ctx, topic, tp := setup(b)
		fill(ctx, b, tp)
		c := join(ctx, b, topic)
		b.ResetTimer()
		for range b.N {
			r, err := c.NextRecord(ctx)
			benchMust(b, err, "NextRecord")
			r.Ack()
		}
		reportRate(b)
	})
	b.Run("NextBatchAck", func(b *testing.B) {
		if !h.Features.BatchedIterator {
			b.Skip("requires LogFeatures.BatchedIterator")
		}
		ctx, topic, tp := setup(b)
		fill(ctx, b, tp)
		it := join(ctx, b, topic).(broker.BatchedIterator)
		b.ResetTimer()
		last := make([]int, 0, partitions)
		for got := 0; got < b.N; {
			batch, err := it.NextBatch(ctx)
			benchMust(b, err, "NextBatch")
			last = lastOfEachPartition(batch, last[:0])
			for _, i := range last {
				batch[i].Ack()
			}
			got += len(batch)
		}
		reportRate(b)
	})
}

// lastOfEachPartition appends to idx the index of the last record of each
// partition present in batch.
func lastOfEachPartition(batch []broker.Record, idx []int) []int {
	for i := len(batch) - 1; i >= 0; i-- {
		seen := false
		for _, j := range idx {
			if batch[j].Partition == batch[i].Partition {
				seen = true
				break
			}
		}
		if !seen {
			idx = append(idx, i)
		}
	}
	return idx
}

func benchTopic(ctx context.Context, b *testing.B, newPub func(context.Context, testing.TB) (broker.Publisher, error), topic string) broker.Topic {
	p, err := newPub(ctx, b)
	benchMust(b, err, "Publisher")
	if c, ok := p.(interface{ Close() error }); ok {
		b.Cleanup(func() { c.Close() })
	}
	tp, err := p.Topic(topic)
	benchMust(b, err, "Publisher.Topic")
	return tp
}

// benchPublish publishes b.N messages, batch at a time.
func benchPublish(ctx context.Context, b *testing.B, tp broker.Topic, batch int) {
	msgs := benchMessages(batch)
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; {
		k := min(batch, b.N-sent)
		var err error
		if batch == 1 {
			err = tp.Publish(ctx, msgs[0])
		} else {
			err = tp.BatchPublish(ctx, msgs[:k]...)
		}
		benchMust(b, err, "publishing")
		sent += k
	}
	reportRate(b)
}

// fill publishes b.N messages outside the timer, for the consume benchmarks,
// and starts the timer.
func fill(ctx context.Context, b *testing.B, tp broker.Topic) {
	b.StopTimer()
	msgs := benchMessages(fillBatch)
	for sent := 0; sent < b.N; sent += fillBatch {
		benchMust(b, tp.BatchPublish(ctx, msgs[:min(fillBatch, b.N-sent)]...), "filling the topic")
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.StartTimer()
}

func reportRate(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "msgs/s")
	}
}

func benchMust(b *testing.B, err error, what string) {
	b.Helper()
	if err != nil {
		b.Fatalf("%s: %v", what, err)
	}
}
