package jetstream_test

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/brokertest"
	"github.com/pullkit/broker/jetstream"
)

// Benchmarks: this package against raw nats.go jetstream doing the same
// work, in one run, on the shared embedded server. Every op is one message
// of 100 bytes with a key and one attribute (two headers on the wire for
// both: the raw side sends the same headers this package does), so ns/op
// and allocs/op are per message. Each round gets a fresh stream.
//
//	go test -run '^$' -bench . -benchmem ./jetstream/

const (
	benchPayload  = 100
	benchBatch    = 100 // messages per BatchPublish / per fetch
	benchPrefetch = 256 // QueueConfig's default, for the raw side too
)

type benchEnv struct {
	ctx     context.Context
	c       *jetstream.Client
	subject string
	stream  string
}

// warmOnce runs one round of publishing and consuming before the first
// benchmark, so that whichever benchmark runs first does not pay for the
// server's and the runtime's warm-up (goroutines, heap growth, first file
// store), which made the first benchmark of a run look 25% slower.
var warmOnce sync.Once

func warmUp(b *testing.B) {
	warmOnce.Do(func() {
		e := &benchEnv{}
		e.ctx = context.Background()
		c, err := jetstream.Connect(e.ctx, jetstream.Config{URLs: []string{shared.URL()}})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		e.c = c
		e.subject, e.stream = uniqueSubject("warm")
		if _, err := c.JetStream().CreateStream(e.ctx, natsjs.StreamConfig{Name: e.stream, Subjects: []string{e.subject}}); err != nil {
			b.Fatal(err)
		}
		defer c.JetStream().DeleteStream(context.Background(), e.stream)
		const n = 20000
		e.fill(b, n)
		cons := e.rawConsumer(b, natsjs.AckExplicitPolicy)
		it, err := cons.Messages()
		if err != nil {
			b.Fatal(err)
		}
		defer it.Stop()
		for range n {
			m, err := it.Next()
			if err != nil {
				b.Fatal(err)
			}
			_ = m.Ack()
		}
	})
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	warmUp(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b.Cleanup(cancel)
	c, err := jetstream.Connect(ctx, jetstream.Config{URLs: []string{shared.URL()}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	subject, stream := uniqueSubject("bench")
	if _, err := c.JetStream().CreateStream(ctx, natsjs.StreamConfig{Name: stream, Subjects: []string{subject}}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.JetStream().DeleteStream(context.Background(), stream) })
	return &benchEnv{ctx: ctx, c: c, subject: subject, stream: stream}
}

func benchData() []byte {
	data := make([]byte, benchPayload)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	return data
}

func benchOutbound(n int) []broker.OutboundMessage {
	data := benchData()
	attrs := map[string]any{"source": "bench"}
	msgs := make([]broker.OutboundMessage, n)
	for i := range msgs {
		msgs[i] = broker.OutboundMessage{Key: fmt.Sprint("k", i%16), Data: data, Attributes: attrs}
	}
	return msgs
}

// rawMsg is the nats.Msg the raw side publishes: the same headers.
func rawMsg(subject string, i int, data []byte) *nats.Msg {
	return &nats.Msg{Subject: subject, Data: data, Header: nats.Header{
		"Pullkit-Key": {fmt.Sprint("k", i%16)},
		"source":      {"bench"},
	}}
}

// fill publishes n messages with raw async publishing, outside the timer.
func (e *benchEnv) fill(b *testing.B, n int) {
	b.Helper()
	data := benchData()
	js := e.c.JetStream()
	for i := range n {
		if _, err := js.PublishMsgAsync(rawMsg(e.subject, i, data)); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			<-js.PublishAsyncComplete()
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-e.ctx.Done():
		b.Fatal("fill timed out")
	}
}

func (e *benchEnv) queue(b *testing.B) *jetstream.QueueConsumer {
	q, err := e.c.Subscribe(e.ctx, jetstream.QueueConfig{Subject: e.subject, Consumer: "bench", MaxBatch: benchBatch, Prefetch: benchPrefetch})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = q.Close() })
	return q
}

// rawConsumer makes the consumer the raw side reads, configured as this
// package configures its own: AckWait 30 s and MaxAckPending 1000 (queue)
// or 10000 (log).
func (e *benchEnv) rawConsumer(b *testing.B, policy natsjs.AckPolicy) natsjs.Consumer {
	maxAckPending := 1000
	if policy == natsjs.AckAllPolicy {
		maxAckPending = 10000
	}
	cons, err := e.c.JetStream().CreateOrUpdateConsumer(e.ctx, e.stream, natsjs.ConsumerConfig{
		Durable: "raw", FilterSubject: e.subject, AckPolicy: policy, AckWait: 30 * time.Second,
		MaxAckPending: maxAckPending, MaxDeliver: -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	return cons
}

// report adds msgs/s and, because the shared machine makes wall time
// noisy, the process's CPU time per message (client and embedded server
// together, the same on both sides of a comparison).
func report(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// cpuTimer measures the process's user+system CPU time.
type cpuTimer struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) *cpuTimer {
	b.ReportAllocs()
	b.ResetTimer()
	return &cpuTimer{start: cpuNow()}
}

func (c *cpuTimer) report(b *testing.B) {
	used := cpuNow() - c.start
	b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/msg")
	report(b)
}

// BenchmarkConsume: batched and one-at-a-time consume with an ack per
// message, this package versus raw nats.go.
func BenchmarkConsume(b *testing.B) {
	b.Run("Batched/pkg", func(b *testing.B) {
		e := newBenchEnv(b)
		q := e.queue(b)
		e.fill(b, b.N)
		cpu := startCPU(b)
		for got := 0; got < b.N; {
			batch, err := q.NextBatch(e.ctx)
			if err != nil {
				b.Fatal(err)
			}
			for i := range batch {
				batch[i].Ack()
			}
			got += len(batch)
		}
		cpu.report(b)
	})
	b.Run("Batched/raw-fetch", func(b *testing.B) {
		e := newBenchEnv(b)
		cons := e.rawConsumer(b, natsjs.AckExplicitPolicy)
		e.fill(b, b.N)
		cpu := startCPU(b)
		for got := 0; got < b.N; {
			batch, err := cons.Fetch(benchBatch, natsjs.FetchMaxWait(5*time.Second))
			if err != nil {
				b.Fatal(err)
			}
			for m := range batch.Messages() {
				_ = m.Headers()
				if err := m.Ack(); err != nil {
					b.Fatal(err)
				}
				got++
			}
			if err := batch.Error(); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
	})
	b.Run("Batched/raw-messages", func(b *testing.B) {
		e := newBenchEnv(b)
		cons := e.rawConsumer(b, natsjs.AckExplicitPolicy)
		e.fill(b, b.N)
		it, err := cons.Messages(natsjs.PullMaxMessages(benchPrefetch))
		if err != nil {
			b.Fatal(err)
		}
		defer it.Stop()
		cpu := startCPU(b)
		for range b.N {
			m, err := it.Next()
			if err != nil {
				b.Fatal(err)
			}
			_ = m.Headers()
			if err := m.Ack(); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
	})
	b.Run("Batched/raw-consume", func(b *testing.B) {
		// Consume with a handler handing messages to the reading goroutine
		// through a channel: the mechanism this package's consumers use.
		e := newBenchEnv(b)
		cons := e.rawConsumer(b, natsjs.AckExplicitPolicy)
		e.fill(b, b.N)
		ch := make(chan natsjs.Msg, benchPrefetch)
		done := make(chan struct{})
		cc, err := cons.Consume(func(m natsjs.Msg) {
			select {
			case ch <- m:
			case <-done:
			}
		}, natsjs.PullMaxMessages(benchPrefetch))
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Stop()
		defer close(done)
		cpu := startCPU(b)
		for range b.N {
			m := <-ch
			_ = m.Headers()
			if err := m.Ack(); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
	})
	b.Run("OneAtATime/pkg", func(b *testing.B) {
		e := newBenchEnv(b)
		q := e.queue(b)
		e.fill(b, b.N)
		cpu := startCPU(b)
		for range b.N {
			m, err := q.NextMessage(e.ctx)
			if err != nil {
				b.Fatal(err)
			}
			m.Ack()
		}
		cpu.report(b)
	})
	b.Run("OneAtATime/raw-next", func(b *testing.B) {
		// Consumer.Next: one pull request per message, nats.go's
		// one-at-a-time API.
		e := newBenchEnv(b)
		cons := e.rawConsumer(b, natsjs.AckExplicitPolicy)
		e.fill(b, b.N)
		cpu := startCPU(b)
		for range b.N {
			m, err := cons.Next(natsjs.FetchMaxWait(5 * time.Second))
			if err != nil {
				b.Fatal(err)
			}
			_ = m.Headers()
			if err := m.Ack(); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
	})
	b.Run("Confirmed/pkg", func(b *testing.B) {
		// AckContext: every ack confirmed by the server (DoubleAck).
		e := newBenchEnv(b)
		q := e.queue(b)
		e.fill(b, b.N)
		cpu := startCPU(b)
		for range b.N {
			m, err := q.NextMessage(e.ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := m.AckContext(e.ctx); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
	})
	b.Run("Confirmed/raw-messages", func(b *testing.B) {
		e := newBenchEnv(b)
		cons := e.rawConsumer(b, natsjs.AckExplicitPolicy)
		e.fill(b, b.N)
		it, err := cons.Messages(natsjs.PullMaxMessages(benchPrefetch))
		if err != nil {
			b.Fatal(err)
		}
		defer it.Stop()
		cpu := startCPU(b)
		for range b.N {
			m, err := it.Next()
			if err != nil {
				b.Fatal(err)
			}
			_ = m.Headers()
			if err := m.DoubleAck(e.ctx); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
	})
}

// BenchmarkLog: batched record consumption with a cumulative ack every 100
// records, this package versus raw Messages with AckAll.
func BenchmarkLog(b *testing.B) {
	b.Run("Batched/pkg", func(b *testing.B) {
		e := newBenchEnv(b)
		l, err := e.c.JoinLog(e.ctx, jetstream.LogConfig{Subject: e.subject, Group: "bench", MaxBatch: benchBatch, Prefetch: benchPrefetch})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = l.Close() })
		e.fill(b, b.N)
		cpu := startCPU(b)
		for got := 0; got < b.N; {
			batch, err := l.NextBatch(e.ctx)
			if err != nil {
				b.Fatal(err)
			}
			// Commit as often as the raw side: at every 100th record
			// (cumulative, so it covers the ones before), and the last.
			for i := range batch {
				if got++; got%benchBatch == 0 || got == b.N {
					batch[i].Ack()
				}
			}
		}
		cpu.report(b)
	})
	b.Run("Batched/raw-messages", func(b *testing.B) {
		e := newBenchEnv(b)
		cons := e.rawConsumer(b, natsjs.AckAllPolicy)
		e.fill(b, b.N)
		it, err := cons.Messages(natsjs.PullMaxMessages(benchPrefetch))
		if err != nil {
			b.Fatal(err)
		}
		defer it.Stop()
		cpu := startCPU(b)
		for i := range b.N {
			m, err := it.Next()
			if err != nil {
				b.Fatal(err)
			}
			_ = m.Headers()
			if i%benchBatch == benchBatch-1 || i == b.N-1 {
				if err := m.Ack(); err != nil {
					b.Fatal(err)
				}
			}
		}
		cpu.report(b)
	})
}

// BenchmarkPublish: BatchPublish of 100 and Publish of one, this package
// versus raw PublishAsync (waiting for every ack) and Publish.
func BenchmarkPublish(b *testing.B) {
	b.Run("Batch/pkg", func(b *testing.B) {
		e := newBenchEnv(b)
		tp, err := e.c.Publisher(jetstream.PublisherConfig{}).Topic(e.subject)
		if err != nil {
			b.Fatal(err)
		}
		msgs := benchOutbound(benchBatch)
		cpu := startCPU(b)
		for sent := 0; sent < b.N; sent += benchBatch {
			n := min(benchBatch, b.N-sent)
			if err := tp.BatchPublish(e.ctx, msgs[:n]...); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
	})
	b.Run("Batch/raw", func(b *testing.B) {
		e := newBenchEnv(b)
		js := e.c.JetStream()
		data := benchData()
		futures := make([]natsjs.PubAckFuture, benchBatch)
		cpu := startCPU(b)
		for sent := 0; sent < b.N; sent += benchBatch {
			n := min(benchBatch, b.N-sent)
			for i := range n {
				f, err := js.PublishMsgAsync(rawMsg(e.subject, i, data))
				if err != nil {
					b.Fatal(err)
				}
				futures[i] = f
			}
			for _, f := range futures[:n] {
				select {
				case <-f.Ok():
				case err := <-f.Err():
					b.Fatal(err)
				}
			}
		}
		cpu.report(b)
	})
	b.Run("One/pkg", func(b *testing.B) {
		e := newBenchEnv(b)
		tp, err := e.c.Publisher(jetstream.PublisherConfig{}).Topic(e.subject)
		if err != nil {
			b.Fatal(err)
		}
		msg := benchOutbound(1)[0]
		cpu := startCPU(b)
		for range b.N {
			if err := tp.Publish(e.ctx, msg); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
	})
	b.Run("One/raw", func(b *testing.B) {
		e := newBenchEnv(b)
		js := e.c.JetStream()
		data := benchData()
		cpu := startCPU(b)
		for i := range b.N {
			if _, err := js.PublishMsg(e.ctx, rawMsg(e.subject, i, data)); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
	})
}

// BenchmarkConformance runs brokertest's shared benchmarks, comparable
// across backends.
func BenchmarkConformance(b *testing.B) {
	b.Run("Queue", func(b *testing.B) { brokertest.RunQueueBenchmarks(b, queueHarness(shared.URL())) })
	b.Run("Log", func(b *testing.B) { brokertest.RunLogBenchmarks(b, logHarness(shared.URL())) })
}
