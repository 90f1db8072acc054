package inmem_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/brokertest"
	"github.com/pullkit/broker/inmem"
)

// The conformance suite against the in-memory broker. Each test (and each
// benchmark round) gets a broker of its own, closed when it ends, so tests
// are isolated and a benchmark's millions of messages are freed before the
// next round is measured.

// ackDeadline is short so the deadline tests take a fraction of a second on
// the system clock.
const ackDeadline = 250 * time.Millisecond

// brokers hands every test its own broker: the suite passes the same
// testing.TB to every harness call of one test.
type brokers struct {
	mu sync.Mutex
	m  map[testing.TB]*inmem.Broker
}

func (bs *brokers) of(tb testing.TB) *inmem.Broker {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if b, ok := bs.m[tb]; ok {
		return b
	}
	if bs.m == nil {
		bs.m = map[testing.TB]*inmem.Broker{}
	}
	b := inmem.New()
	bs.m[tb] = b
	// Registered before the suite tracks the test's consumers, so it runs
	// after they are closed.
	tb.Cleanup(func() {
		bs.mu.Lock()
		delete(bs.m, tb)
		bs.mu.Unlock()
		if err := b.Close(); err != nil {
			tb.Errorf("closing the broker: %v", err)
		}
	})
	return b
}

var topicSeq atomic.Int64

func newTopic(b *inmem.Broker, partitions int) (string, error) {
	name := fmt.Sprint("conformance-", topicSeq.Add(1))
	return name, b.CreateTopic(name, partitions)
}

// deadLetterTopic is where a subscription's rejected and poison messages go.
func deadLetterTopic(topic string) string { return topic + ".dead" }

func queueHarness() brokertest.QueueHarness {
	var bs brokers
	return brokertest.QueueHarness{
		NewTopic: func(ctx context.Context, t testing.TB) (string, error) {
			return newTopic(bs.of(t), 1)
		},
		Publisher: func(ctx context.Context, t testing.TB) (broker.Publisher, error) {
			return bs.of(t).Publisher(), nil
		},
		Subscribe: func(ctx context.Context, t testing.TB, topic, sub string, o brokertest.SubscribeOptions) (brokertest.QueueConsumer, error) {
			return bs.of(t).Subscribe(topic, sub, inmem.QueueConfig{
				AckDeadline: o.AckDeadline, // 0: the 30 s default
				MaxBatch:    o.MaxBatch,
				Poison: broker.PoisonPolicy{
					MaxDeliveries:   o.MaxDeliveries,
					Action:          broker.PoisonDeadLetter,
					DeadLetterTopic: deadLetterTopic(topic),
				},
			})
		},
		DeadLetters: func(ctx context.Context, t testing.TB, topic, sub string) (brokertest.QueueConsumer, error) {
			return bs.of(t).Subscribe(deadLetterTopic(topic), sub, inmem.QueueConfig{})
		},
		Features: brokertest.QueueFeatures{
			DeliveryCount:   true,
			AckDeadline:     ackDeadline,
			Extend:          true,
			Reject:          true,
			NackDelay:       true,
			MaxDeliveries:   true,
			MaxMessageSize:  inmem.DefaultMaxMessageSize,
			BatchedIterator: true,
			TypedAttributes: true,
		},
	}
}

func logHarness() brokertest.LogHarness {
	var bs brokers
	return brokertest.LogHarness{
		NewTopic: func(ctx context.Context, t testing.TB, partitions int) (string, error) {
			return newTopic(bs.of(t), partitions)
		},
		Publisher: func(ctx context.Context, t testing.TB) (broker.Publisher, error) {
			return bs.of(t).Publisher(), nil
		},
		JoinGroup: func(ctx context.Context, t testing.TB, topic, group string, o brokertest.GroupOptions) (brokertest.LogConsumer, error) {
			return bs.of(t).JoinGroup(topic, group, inmem.LogConfig{MaxBatch: o.MaxBatch})
		},
		Features: brokertest.LogFeatures{
			Rebalance:       true,
			MaxMessageSize:  inmem.DefaultMaxMessageSize,
			BatchedIterator: true,
			TypedAttributes: true,
		},
	}
}

func TestQueueConformance(t *testing.T) { brokertest.RunQueueTests(t, queueHarness()) }

func TestLogConformance(t *testing.T) { brokertest.RunLogTests(t, logHarness()) }

func BenchmarkConformance(b *testing.B) {
	b.Run("Queue", func(b *testing.B) { brokertest.RunQueueBenchmarks(b, queueHarness()) })
	b.Run("Log", func(b *testing.B) { brokertest.RunLogBenchmarks(b, logHarness()) })
}
