package brokertest_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/brokertest"
)

// The suite tests itself against the fake in fake_test.go, which declares
// every feature, so that no test of the suite goes unexercised.

var topics atomic.Int64

func fakeTopicName() string { return fmt.Sprint("topic", topics.Add(1)) }

func fakeQueueHarness(f *fake) brokertest.QueueHarness {
	return brokertest.QueueHarness{
		NewTopic: func(ctx context.Context, t testing.TB) (string, error) {
			name := fakeTopicName()
			f.createTopic(name, 1)
			return name, nil
		},
		Publisher: func(ctx context.Context, t testing.TB) (broker.Publisher, error) {
			return &fakePublisher{f: f}, nil
		},
		Subscribe: func(ctx context.Context, t testing.TB, topic, sub string, o brokertest.SubscribeOptions) (brokertest.QueueConsumer, error) {
			return f.subscribe(topic, sub, brokerOptions{ackDeadline: o.AckDeadline, maxDeliveries: o.MaxDeliveries, maxBatch: o.MaxBatch})
		},
		DeadLetters: func(ctx context.Context, t testing.TB, topic, sub string) (brokertest.QueueConsumer, error) {
			return f.deadLetters(topic, sub), nil
		},
		Features: brokertest.QueueFeatures{
			DeliveryCount:   true,
			AckDeadline:     150 * time.Millisecond,
			Extend:          true,
			Reject:          true,
			NackDelay:       true,
			MaxDeliveries:   true,
			MaxMessageSize:  f.maxSize,
			BatchedIterator: true,
			TypedAttributes: true,
		},
	}
}

func fakeLogHarness(f *fake) brokertest.LogHarness {
	return brokertest.LogHarness{
		NewTopic: func(ctx context.Context, t testing.TB, partitions int) (string, error) {
			name := fakeTopicName()
			f.createTopic(name, partitions)
			return name, nil
		},
		Publisher: func(ctx context.Context, t testing.TB) (broker.Publisher, error) {
			return &fakePublisher{f: f}, nil
		},
		JoinGroup: func(ctx context.Context, t testing.TB, topic, group string, o brokertest.GroupOptions) (brokertest.LogConsumer, error) {
			return f.joinGroup(topic, group, o.MaxBatch)
		},
		Features: brokertest.LogFeatures{
			Rebalance:       true,
			MaxMessageSize:  f.maxSize,
			BatchedIterator: true,
			TypedAttributes: true,
		},
	}
}

func TestQueueSuiteAgainstFake(t *testing.T) {
	brokertest.RunQueueTests(t, fakeQueueHarness(newFake(1<<20)))
}

func TestLogSuiteAgainstFake(t *testing.T) {
	brokertest.RunLogTests(t, fakeLogHarness(newFake(1<<20)))
}

func BenchmarkFake(b *testing.B) {
	b.Run("Queue", func(b *testing.B) { brokertest.RunQueueBenchmarks(b, fakeQueueHarness(newFake(1<<20))) })
	b.Run("Log", func(b *testing.B) { brokertest.RunLogBenchmarks(b, fakeLogHarness(newFake(1<<20))) })
}

func TestLogSuiteAgainstASinglePartitionFake(t *testing.T) {
	h := fakeLogHarness(newFake(1 << 20))
	h.Features.MaxPartitions = 1
	h.Options.Timeout = 3 * time.Second
	brokertest.RunLogTests(t, h)
}
