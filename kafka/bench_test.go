package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/brokertest"
	"github.com/pullkit/broker/kafka"
)

// The backend against raw franz-go doing the same work, in the same run, on
// the same in-process kfake cluster. Every op is one record of 100 bytes
// with a key and one string header, so ns/op and allocs/op are per record.
//
//   - Consume/Raw: a consumer-group PollFetches loop that reads every
//     record's key, value, headers, topic, partition, offset and timestamp
//     and commits the polled offsets asynchronously once per poll.
//   - Consume/BatchedIterator: NextBatch, read the same fields of every
//     record (attributes for headers), Ack the last
//     record of each partition of the batch (the commit is asynchronous
//     and batched by the committer).
//   - Consume/RecordIterator: NextRecord and Ack, one record at a time.
//   - Publish/RawProduceSync: ProduceSync of 1000 records per call.
//   - Publish/BatchPublish: BatchPublish of the same 1000 messages.
//
// Records are produced with a raw client before the timer starts; every
// consumer joins its group and reads one record before it starts, so the
// join is not measured either. Consumers fetch at most 1 MiB at a time
// (both the raw one and ours): with franz-go's 50 MiB default the whole
// backlog arrives in the one fetch made before the timer starts, and the
// figures swing with how much of it was decoded by then.

const (
	benchPartitions = 4
	benchBatch      = 1000
	benchFetchBytes = 1 << 20
)

var (
	benchValue = func() []byte {
		b := make([]byte, 100)
		for i := range b {
			b[i] = byte('a' + i%26)
		}
		return b
	}()
	benchHeaders = []kgo.RecordHeader{{Key: "source", Value: []byte("bench")}}
	benchAttrs   = map[string]any{"source": "bench"}
)

// benchCluster is one kfake cluster shared by every benchmark of a run.
func benchCluster(b *testing.B) *testCluster {
	b.Helper()
	return startFake(b)
}

// fillTopic creates a topic and produces n+1 records into it with a raw
// client (the extra one is read before the timer starts).
func fillTopic(b *testing.B, tc *testCluster, n int, headers []kgo.RecordHeader) string {
	b.Helper()
	ctx := context.Background()
	topic := unique("bench")
	if err := tc.createTopic(ctx, b, topic, benchPartitions, nil); err != nil {
		b.Fatal(err)
	}
	cl := tc.rawClient(b, kgo.DefaultProduceTopic(topic))
	defer cl.Close()
	recs := make([]*kgo.Record, 0, benchBatch)
	for i := 0; i <= n; i++ {
		recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i%16), Value: benchValue, Headers: headers})
		if len(recs) == benchBatch || i == n {
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	return topic
}

var sink int

// touchRaw and touchRecord read what a consumer reads of each record, the
// same fields on both sides: key, value, every header or attribute, topic,
// partition, offset and timestamp. (A raw franz-go user reads headers as
// the []RecordHeader franz-go decoded; ours come as the Attributes map the
// broker.Record contract asks for.)
func touchRaw(r *kgo.Record) {
	sink += len(r.Key) + len(r.Value) + len(r.Topic) + int(r.Partition) + int(r.Offset) + r.Timestamp.Nanosecond()
	for _, h := range r.Headers {
		sink += len(h.Key) + len(h.Value)
	}
}

func touchRecord(r *broker.Record) {
	sink += len(r.Key) + len(r.Value) + len(r.Topic) + int(r.Partition) + int(r.Offset) + r.PublishTime.Nanosecond()
	for k, v := range r.Attributes {
		sink += len(k)
		if s, ok := v.(string); ok {
			sink += len(s)
		}
	}
}

// cpuStart is the process CPU time when the timed section began.
var cpuStart time.Duration

// start begins the timed section.
func start(b *testing.B) {
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart = processCPU()
}

// rate ends the timed section and reports throughput and the CPU time per
// message of the whole process (client, kfake and benchmark together).
func rate(b *testing.B) {
	cpu := processCPU() - cpuStart
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/msg")
	}
}

// BenchmarkConsume runs each consumer on records with one header (the
// shared suite's "one attribute") and on records without headers, which
// shows the cost of the Attributes map the broker.Record contract asks for.
func BenchmarkConsume(b *testing.B) {
	tc := benchCluster(b)
	for _, v := range []struct {
		name    string
		headers []kgo.RecordHeader
	}{{"attrs=1", benchHeaders}, {"attrs=0", nil}} {
		b.Run(v.name, func(b *testing.B) { benchConsume(b, tc, v.headers) })
	}
}

func benchConsume(b *testing.B, tc *testCluster, headers []kgo.RecordHeader) {
	b.Run("Raw", func(b *testing.B) {
		topic := fillTopic(b, tc, b.N, headers)
		ctx := context.Background()
		cl := tc.rawClient(b,
			kgo.ConsumerGroup(unique("group")), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.FetchMaxBytes(benchFetchBytes), kgo.FetchMaxPartitionBytes(benchFetchBytes))
		got := 0
		for got < 1 {
			got += cl.PollRecords(ctx, 1).NumRecords()
		}
		start(b)
		got = 0
		for got < b.N {
			fs := cl.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				b.Fatal(err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				touchRaw(r)
				got++
			})
			cl.CommitOffsets(ctx, cl.UncommittedOffsets(), nil)
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			b.Fatal(err)
		}
		rate(b)
	})
	join := func(b *testing.B, topic string) *kafka.LogConsumer {
		b.Helper()
		cfg := tc.cfg
		cfg.FetchMaxBytes, cfg.FetchMaxPartitionBytes = benchFetchBytes, benchFetchBytes
		c, err := kafka.JoinGroup(context.Background(), cfg, unique("group"), []string{topic}, kafka.LogOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		r, err := c.NextRecord(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		r.Ack()
		return c
	}
	b.Run("BatchedIterator", func(b *testing.B) {
		c := join(b, fillTopic(b, tc, b.N, headers))
		ctx := context.Background()
		last := make(map[int64]int, benchPartitions)
		start(b)
		for got := 0; got < b.N; {
			batch, err := c.NextBatch(ctx)
			if err != nil {
				b.Fatal(err)
			}
			clear(last)
			for i := range batch {
				touchRecord(&batch[i])
				last[batch[i].Partition] = i
			}
			for _, i := range last {
				batch[i].Ack()
			}
			got += len(batch)
		}
		// Wait for the last commit, as the raw loop does; leaving the
		// group (Close) is not part of the work.
		if err := c.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		rate(b)
	})
	b.Run("RecordIterator", func(b *testing.B) {
		c := join(b, fillTopic(b, tc, b.N, headers))
		ctx := context.Background()
		start(b)
		for range b.N {
			r, err := c.NextRecord(ctx)
			if err != nil {
				b.Fatal(err)
			}
			touchRecord(&r)
			r.Ack()
		}
		// Wait for the last commit, as the raw loop does; leaving the
		// group (Close) is not part of the work.
		if err := c.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		rate(b)
	})
}

func BenchmarkPublish(b *testing.B) {
	tc := benchCluster(b)
	topic := unique("bench")
	if err := tc.createTopic(context.Background(), b, topic, benchPartitions, nil); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("RawProduceSync", func(b *testing.B) {
		cl := tc.rawClient(b, kgo.DefaultProduceTopic(topic))
		recs := make([]*kgo.Record, benchBatch)
		start(b)
		for sent := 0; sent < b.N; {
			n := min(benchBatch, b.N-sent)
			for i := range n {
				// A new record per message, as BatchPublish builds one.
				recs[i] = &kgo.Record{Topic: topic, Key: rawKeys[(sent+i)%16], Value: benchValue, Headers: benchHeaders}
			}
			if err := cl.ProduceSync(ctx, recs[:n]...).FirstErr(); err != nil {
				b.Fatal(err)
			}
			sent += n
		}
		rate(b)
	})
	b.Run("BatchPublish", func(b *testing.B) {
		p, err := kafka.NewPublisher(ctx, tc.cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		tp, err := p.Topic(topic)
		if err != nil {
			b.Fatal(err)
		}
		msgs := make([]broker.OutboundMessage, benchBatch)
		for i := range msgs {
			msgs[i] = broker.OutboundMessage{Key: keys[i%16], Data: benchValue, Attributes: benchAttrs}
		}
		start(b)
		for sent := 0; sent < b.N; {
			n := min(benchBatch, b.N-sent)
			if err := tp.BatchPublish(ctx, msgs[:n]...); err != nil {
				b.Fatal(err)
			}
			sent += n
		}
		rate(b)
	})
}

var keys = func() []string {
	k := make([]string, 16)
	for i := range k {
		k[i] = fmt.Sprint("k", i)
	}
	return k
}()

var rawKeys = func() [][]byte {
	k := make([][]byte, len(keys))
	for i := range k {
		k[i] = []byte(keys[i])
	}
	return k
}()

// The shared suite's benchmarks, for comparison with the other backends.
func BenchmarkConformance(b *testing.B) {
	b.Run("Log", func(b *testing.B) { brokertest.RunLogBenchmarks(b, logHarness(targets()[0])) })
	b.Run("Queue", func(b *testing.B) { brokertest.RunQueueBenchmarks(b, queueHarness(targets()[0])) })
}
