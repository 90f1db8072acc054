package kafka_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/brokertest"
	"github.com/pullkit/broker/kafka"
)

// The conformance suites, against kfake (a cluster per test) and, when
// KAFKA_BROKERS is set, against that cluster too.

func logHarness(tg target) brokertest.LogHarness {
	return brokertest.LogHarness{
		NewTopic: func(ctx context.Context, t testing.TB, partitions int) (string, error) {
			name := unique("log")
			return name, tg.cluster(t).createTopic(ctx, t, name, partitions, nil)
		},
		Publisher: func(ctx context.Context, t testing.TB) (broker.Publisher, error) {
			return kafka.NewPublisher(ctx, tg.cluster(t).cfg)
		},
		JoinGroup: func(ctx context.Context, t testing.TB, topic, group string, o brokertest.GroupOptions) (brokertest.LogConsumer, error) {
			return kafka.JoinGroup(ctx, tg.cluster(t).cfg, group+"-"+topic, []string{topic}, kafka.LogOptions{MaxBatch: o.MaxBatch})
		},
		Features: brokertest.LogFeatures{
			Rebalance:       true,
			MaxMessageSize:  kafka.DefaultMaxMessageBytes,
			BatchedIterator: true,
			TypedAttributes: true,
		},
		Options: brokertest.Options{Timeout: 30 * time.Second},
	}
}

func TestLogConformance(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) { brokertest.RunLogTests(t, logHarness(tg)) })
	}
}

// lockDuration is the share groups' acquisition lock in the deadline tests.
const lockDuration = 500 * time.Millisecond

func queueHarness(tg target) brokertest.QueueHarness {
	// kfake takes a 500 ms lock and renews it; Kafka refuses locks under
	// 15 s by default (group.share.min.record.lock.duration.ms) and renews
	// only from 4.2, so a real cluster skips the deadline tests.
	var deadline time.Duration
	if tg.name == "kfake" {
		deadline = lockDuration
	}
	return brokertest.QueueHarness{
		NewTopic: func(ctx context.Context, t testing.TB) (string, error) {
			name := unique("queue")
			return name, tg.cluster(t).createTopic(ctx, t, name, 1, nil)
		},
		Publisher: func(ctx context.Context, t testing.TB) (broker.Publisher, error) {
			return kafka.NewPublisher(ctx, tg.cluster(t).cfg)
		},
		Subscribe: func(ctx context.Context, t testing.TB, topic, sub string, o brokertest.SubscribeOptions) (brokertest.QueueConsumer, error) {
			if err := tg.cluster(t).emulateGroupConfig(ctx, o); err != nil {
				return nil, err
			}
			return kafka.JoinShareGroup(ctx, shareConfig(tg.cluster(t).cfg), sub+"-"+topic, []string{topic}, kafka.QueueOptions{
				MaxBatch:     o.MaxBatch,
				StartOffset:  kafka.StartEarliest, // the topic is fresh: earliest is "after the first Subscribe"
				LockDuration: o.AckDeadline,
				Poison:       broker.PoisonPolicy{MaxDeliveries: o.MaxDeliveries},
			})
		},
		Features: brokertest.QueueFeatures{
			DeliveryCount:   true,
			AckDeadline:     deadline,
			Extend:          deadline > 0,
			MaxDeliveries:   true,
			Reject:          true,
			MaxMessageSize:  kafka.DefaultMaxMessageBytes,
			BatchedIterator: true,
			TypedAttributes: true,
		},
		Options: brokertest.Options{Timeout: 30 * time.Second},
	}
}

func TestQueueConformance(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) { brokertest.RunQueueTests(t, queueHarness(tg)) })
	}
}

// shareConfig shortens fetch waits: franz-go sends a flush of share acks
// (AckContext) only between share fetches, so a long-polling fetch delays it.
func shareConfig(cfg kafka.Config) kafka.Config {
	cfg.Opts = append(slices.Clip(cfg.Opts), kgo.FetchMaxWait(50*time.Millisecond))
	return cfg
}
