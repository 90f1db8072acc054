package jetstream_test

import (
	"context"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/brokertest"
	"github.com/pullkit/broker/jetstream"
)

// The conformance suites against the embedded server, and again against
// NATS_URL when it is set. Each test gets its own client (connection) and
// its own streams, deleted when it ends.

// ackDeadline is the AckWait of the deadline tests: short, so they take a
// fraction of a second.
const ackDeadline = 400 * time.Millisecond

// maxPayload is nats-server's default max_payload.
const maxPayload = 1 << 20

func deadLetterSubject(topic string) string { return topic + ".dead" }

func newTopic(cs *clients, t testing.TB, ctx context.Context) (string, error) {
	c, err := cs.of(t)
	if err != nil {
		return "", err
	}
	subject, stream := uniqueSubject("conf")
	if _, err := c.JetStream().CreateStream(ctx, natsjs.StreamConfig{Name: stream, Subjects: []string{subject}}); err != nil {
		return "", err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.JetStream().DeleteStream(ctx, stream)
		_ = c.JetStream().DeleteStream(ctx, stream+"_dead")
	})
	return subject, nil
}

func queueHarness(url string) brokertest.QueueHarness {
	cs := &clients{url: url}
	return brokertest.QueueHarness{
		NewTopic: func(ctx context.Context, t testing.TB) (string, error) {
			return newTopic(cs, t, ctx)
		},
		Publisher: func(ctx context.Context, t testing.TB) (broker.Publisher, error) {
			c, err := cs.of(t)
			if err != nil {
				return nil, err
			}
			return c.Publisher(jetstream.PublisherConfig{}), nil
		},
		Subscribe: func(ctx context.Context, t testing.TB, topic, sub string, o brokertest.SubscribeOptions) (brokertest.QueueConsumer, error) {
			c, err := cs.of(t)
			if err != nil {
				return nil, err
			}
			return c.Subscribe(ctx, jetstream.QueueConfig{
				Subject:       topic,
				Consumer:      sub,
				DeliverPolicy: natsjs.DeliverNewPolicy,
				AckWait:       o.AckDeadline, // 0: the 30 s default
				MaxBatch:      o.MaxBatch,
				Poison: broker.PoisonPolicy{
					MaxDeliveries:   o.MaxDeliveries,
					Action:          broker.PoisonDeadLetter,
					DeadLetterTopic: deadLetterSubject(topic),
				},
			})
		},
		DeadLetters: func(ctx context.Context, t testing.TB, topic, sub string) (brokertest.QueueConsumer, error) {
			c, err := cs.of(t)
			if err != nil {
				return nil, err
			}
			return c.Subscribe(ctx, jetstream.QueueConfig{
				Subject:      deadLetterSubject(topic),
				Consumer:     sub,
				CreateStream: true,
			})
		},
		Features: brokertest.QueueFeatures{
			DeliveryCount:   true,
			AckDeadline:     ackDeadline,
			Extend:          true,
			Reject:          true,
			NackDelay:       true,
			MaxDeliveries:   true,
			MaxMessageSize:  maxPayload,
			BatchedIterator: true,
			TypedAttributes: true,
		},
		Options: brokertest.Options{Timeout: 30 * time.Second, LeakOptions: leakOptions()},
	}
}

func logHarness(url string) brokertest.LogHarness {
	cs := &clients{url: url}
	return brokertest.LogHarness{
		NewTopic: func(ctx context.Context, t testing.TB, partitions int) (string, error) {
			return newTopic(cs, t, ctx)
		},
		Publisher: func(ctx context.Context, t testing.TB) (broker.Publisher, error) {
			c, err := cs.of(t)
			if err != nil {
				return nil, err
			}
			return c.Publisher(jetstream.PublisherConfig{}), nil
		},
		JoinGroup: func(ctx context.Context, t testing.TB, topic, group string, o brokertest.GroupOptions) (brokertest.LogConsumer, error) {
			c, err := cs.of(t)
			if err != nil {
				return nil, err
			}
			return c.JoinLog(ctx, jetstream.LogConfig{Subject: topic, Group: group, MaxBatch: o.MaxBatch})
		},
		Features: brokertest.LogFeatures{
			// One stream is one partition: JetStream orders a stream, and a
			// consumer's ack floor is one cumulative offset.
			MaxPartitions: 1,
			// Consumers of one group compete for records instead of
			// sharing partitions; one consumer per group is the contract.
			Rebalance:       false,
			MaxMessageSize:  maxPayload,
			BatchedIterator: true,
			TypedAttributes: true,
		},
		Options: brokertest.Options{Timeout: 30 * time.Second, LeakOptions: leakOptions()},
	}
}

func TestQueueConformance(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) { brokertest.RunQueueTests(t, queueHarness(tg.url)) })
	}
}

func TestLogConformance(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) { brokertest.RunLogTests(t, logHarness(tg.url)) })
	}
}
