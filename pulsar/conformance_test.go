package pulsar_test

import (
	"context"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/brokertest"
	"github.com/pullkit/broker/pulsar"
)

// The conformance suites through the real pulsar-client-go client: the queue
// suite on Shared subscriptions and again on KeyShared ones, the log suite on Failover ones, against
// pulsartest and, when PULSAR_URL is set, against that cluster too.

func dlqTopic(topic, sub string) string { return topic + "-" + sub + "-DLQ" }

func queueHarness(tg target, keyShared bool) brokertest.QueueHarness {
	cs := &clients{tg: tg}
	return brokertest.QueueHarness{
		NewTopic: func(ctx context.Context, t testing.TB) (string, error) {
			return uniqueTopic("queue"), nil
		},
		Publisher: func(ctx context.Context, t testing.TB) (broker.Publisher, error) {
			return cs.of(t).Publisher(pulsar.PublisherConfig{KeyBasedBatching: keyShared})
		},
		Subscribe: func(ctx context.Context, t testing.TB, topic, sub string, o brokertest.SubscribeOptions) (brokertest.QueueConsumer, error) {
			return cs.of(t).Subscribe(ctx, topic, sub, pulsar.QueueConfig{
				KeyShared:   keyShared,
				MaxBatch:    o.MaxBatch,
				AckDeadline: o.AckDeadline,
				Poison: broker.PoisonPolicy{
					MaxDeliveries:   o.MaxDeliveries,
					Action:          broker.PoisonDeadLetter,
					DeadLetterTopic: dlqTopic(topic, sub),
				},
			})
		},
		DeadLetters: func(ctx context.Context, t testing.TB, topic, sub string) (brokertest.QueueConsumer, error) {
			return cs.of(t).Subscribe(ctx, dlqTopic(topic, sub), "dlq-reader", pulsar.QueueConfig{})
		},
		Features: brokertest.QueueFeatures{
			DeliveryCount: true,
			// The client-side deadline of QueueConfig.AckDeadline (the
			// client has no ack timeout of its own).
			AckDeadline:     300 * time.Millisecond,
			Extend:          true,
			Reject:          true,
			NackDelay:       true, // Settlement.Delay holds the nack back
			MaxDeliveries:   true,
			MaxMessageSize:  pulsar.DefaultMaxMessageSize,
			BatchedIterator: true,
			// TypedAttributes: Pulsar properties are strings.
		},
		Options: brokertest.Options{LeakOptions: leakOptions()},
	}
}

func logHarness(tg target) brokertest.LogHarness {
	cs := &clients{tg: tg}
	return brokertest.LogHarness{
		NewTopic: func(ctx context.Context, t testing.TB, partitions int) (string, error) {
			name := uniqueTopic("log")
			if partitions > 1 {
				if tg.srv == nil {
					// A real cluster needs an admin call to create a
					// partitioned topic, which this package does not make.
					return name, nil
				}
				return name, tg.srv.CreateTopic(name, partitions)
			}
			return name, nil
		},
		Publisher: func(ctx context.Context, t testing.TB) (broker.Publisher, error) {
			return cs.of(t).Publisher(pulsar.PublisherConfig{})
		},
		JoinGroup: func(ctx context.Context, t testing.TB, topic, group string, o brokertest.GroupOptions) (brokertest.LogConsumer, error) {
			return cs.of(t).JoinGroup(ctx, topic, group, pulsar.LogConfig{MaxBatch: o.MaxBatch})
		},
		Features: brokertest.LogFeatures{
			Rebalance:       true,
			MaxMessageSize:  pulsar.DefaultMaxMessageSize,
			BatchedIterator: true,
		},
		Options: brokertest.Options{LeakOptions: leakOptions()},
	}
}

func TestQueueConformance(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name+"/Shared", func(t *testing.T) { brokertest.RunQueueTests(t, queueHarness(tg, false)) })
		t.Run(tg.name+"/KeyShared", func(t *testing.T) { brokertest.RunQueueTests(t, queueHarness(tg, true)) })
	}
}

func TestLogConformance(t *testing.T) {
	for _, tg := range targets(t) {
		h := logHarness(tg)
		if tg.srv == nil {
			h.Features.MaxPartitions = 1 // see NewTopic
		}
		t.Run(tg.name, func(t *testing.T) { brokertest.RunLogTests(t, h) })
	}
}

// BenchmarkConformance runs the suite's shared benchmarks on pulsartest, so
// this backend is compared with the others on the same work.
func BenchmarkConformance(b *testing.B) {
	tg := targets(b)[0]
	b.Run("Queue", func(b *testing.B) { brokertest.RunQueueBenchmarks(b, queueHarness(tg, false)) })
	b.Run("Log", func(b *testing.B) { brokertest.RunLogBenchmarks(b, logHarness(tg)) })
}
