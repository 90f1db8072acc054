package kafka_test

import (
	"context"
	"testing"
	"time"

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
