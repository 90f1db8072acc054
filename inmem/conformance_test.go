package inmem_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/brokertest"
	"github.com/pullkit/broker/inmem"
)

// The conformance suite against the in-memory broker. One broker serves a
// whole run; every test gets its own topics, so they do not interfere.

// ackDeadline is short so the deadline tests take a fraction of a second on
// the system clock.
const ackDeadline = 250 * time.Millisecond

var topicSeq atomic.Int64

func newTopic(b *inmem.Broker, partitions int) (string, error) {
	name := fmt.Sprint("conformance-", topicSeq.Add(1))
	return name, b.CreateTopic(name, partitions)
}

// deadLetterTopic is where a subscription's rejected and poison messages go.
func deadLetterTopic(topic string) string { return topic + ".dead" }

func queueHarness(b *inmem.Broker) brokertest.QueueHarness {
	return brokertest.QueueHarness{
		NewTopic: func(ctx context.Context, t testing.TB) (string, error) {
			return newTopic(b, 1)
		},
		Publisher: func(ctx context.Context, t testing.TB) (broker.Publisher, error) {
			return b.Publisher(), nil
		},
		Subscribe: func(ctx context.Context, t testing.TB, topic, sub string, o brokertest.SubscribeOptions) (brokertest.QueueConsumer, error) {
			return b.Subscribe(topic, sub, inmem.QueueConfig{
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
			return b.Subscribe(deadLetterTopic(topic), sub, inmem.QueueConfig{})
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

func logHarness(b *inmem.Broker) brokertest.LogHarness {
	return brokertest.LogHarness{
		NewTopic: func(ctx context.Context, t testing.TB, partitions int) (string, error) {
			return newTopic(b, partitions)
		},
		Publisher: func(ctx context.Context, t testing.TB) (broker.Publisher, error) {
			return b.Publisher(), nil
		},
		JoinGroup: func(ctx context.Context, t testing.TB, topic, group string, o brokertest.GroupOptions) (brokertest.LogConsumer, error) {
			return b.JoinGroup(topic, group, inmem.LogConfig{MaxBatch: o.MaxBatch})
		},
		Features: brokertest.LogFeatures{
			Rebalance:       true,
			MaxMessageSize:  inmem.DefaultMaxMessageSize,
			BatchedIterator: true,
			TypedAttributes: true,
		},
	}
}

func newBrokerForSuite(t testing.TB) *inmem.Broker {
	b := inmem.New()
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestQueueConformance(t *testing.T) {
	brokertest.RunQueueTests(t, queueHarness(newBrokerForSuite(t)))
}

func TestLogConformance(t *testing.T) {
	brokertest.RunLogTests(t, logHarness(newBrokerForSuite(t)))
}

func BenchmarkConformance(b *testing.B) {
	b.Run("Queue", func(b *testing.B) { brokertest.RunQueueBenchmarks(b, queueHarness(newBrokerForSuite(b))) })
	b.Run("Log", func(b *testing.B) { brokertest.RunLogBenchmarks(b, logHarness(newBrokerForSuite(b))) })
}
