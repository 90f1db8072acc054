package pubsub_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/brokertest"
	"github.com/pullkit/broker/pubsub"
)

// The conformance suite runs against pstest in process, always, and again
// against the emulator or project named by PUBSUB_EMULATOR_HOST when it is
// set.

// target is one Pub/Sub endpoint the suite runs against.
type target struct {
	name string
	// client returns the client of one test; pstest gives every test a
	// server of its own.
	client func(tb testing.TB) *pubsub.Client
	// ackDeadline is the shortest lease the target honours.
	ackDeadline time.Duration
	// maxDeliveries: the target accepts a dead-letter policy of 2 attempts
	// (Pub/Sub and its emulator want at least 5).
	maxDeliveries bool
	absence       time.Duration
	// keyAttribute, if set, carries keys in an attribute, with ordering off.
	keyAttribute string
}

func targets() []target {
	ts := []target{{
		name: "pstest",
		client: func(tb testing.TB) *pubsub.Client {
			return newClient(tb, newServer(tb))
		},
		// pstest takes the lease the streaming pull asks for, however short.
		ackDeadline:   time.Second,
		maxDeliveries: true,
		absence:       500 * time.Millisecond,
	}}
	// Again with keys in an attribute instead of ordering keys.
	keyAttr := ts[0]
	keyAttr.name, keyAttr.keyAttribute = "pstest-keyattribute", "key"
	ts = append(ts, keyAttr)
	if os.Getenv("PUBSUB_EMULATOR_HOST") != "" {
		ts = append(ts, target{
			name:        "emulator",
			client:      func(tb testing.TB) *pubsub.Client { return newClient(tb, nil) },
			ackDeadline: 10 * time.Second, // Pub/Sub's minimum
			absence:     time.Second,
		})
	}
	return ts
}

// clients hands every test its own client: the suite passes the same
// testing.TB to every harness call of one test.
type clients struct {
	t  target
	mu sync.Mutex
	m  map[testing.TB]*pubsub.Client
}

func (cs *clients) of(tb testing.TB) *pubsub.Client {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.m[tb]; ok {
		return c
	}
	if cs.m == nil {
		cs.m = map[testing.TB]*pubsub.Client{}
	}
	// Registered before the suite tracks the test's consumers, so the
	// client and server close after them.
	c := cs.t.client(tb)
	cs.m[tb] = c
	tb.Cleanup(func() {
		cs.mu.Lock()
		delete(cs.m, tb)
		cs.mu.Unlock()
	})
	return c
}

func deadTopic(topic string) string { return topic + "-dead" }

// subName makes the suite's short subscription names unique on a shared
// emulator.
func subName(topic, sub string) string { return topic + "-" + sub }

func queueHarness(t target) brokertest.QueueHarness {
	cs := &clients{t: t}
	return brokertest.QueueHarness{
		NewTopic: func(ctx context.Context, tb testing.TB) (string, error) {
			name := uniqueName("conformance")
			return name, cs.of(tb).EnsureTopic(ctx, name)
		},
		Publisher: func(ctx context.Context, tb testing.TB) (broker.Publisher, error) {
			return cs.of(tb).Publisher(pubsub.PublishConfig{KeyAttribute: t.keyAttribute})
		},
		Subscribe: func(ctx context.Context, tb testing.TB, topic, sub string, o brokertest.SubscribeOptions) (brokertest.QueueConsumer, error) {
			c := cs.of(tb)
			// Every subscription gets a dead-letter policy, so Pub/Sub
			// counts deliveries (Message.DeliveryCount); 100 attempts is
			// "unlimited" for the tests that do not ask for a limit.
			maxAttempts := 100
			if o.MaxDeliveries > 0 {
				maxAttempts = o.MaxDeliveries
			}
			if err := c.EnsureTopic(ctx, deadTopic(topic)); err != nil {
				return nil, err
			}
			if err := c.EnsureSubscription(ctx, pubsub.SubscriptionConfig{
				Name: subName(topic, sub), Topic: topic,
				DeadLetterTopic: deadTopic(topic), MaxDeliveryAttempts: maxAttempts,
			}); err != nil {
				return nil, err
			}
			rc := pubsub.ReceiveConfig{MaxBatch: o.MaxBatch, DeadLetterTopic: deadTopic(topic), KeyAttribute: t.keyAttribute}
			if o.AckDeadline > 0 {
				// A fixed, short lease and no extension, so an unsettled
				// message expires after AckDeadline.
				rc.AckDeadline = o.AckDeadline
				rc.MaxExtension = -1
			}
			return c.Subscribe(ctx, subName(topic, sub), rc)
		},
		DeadLetters: func(ctx context.Context, tb testing.TB, topic, sub string) (brokertest.QueueConsumer, error) {
			c := cs.of(tb)
			name := subName(deadTopic(topic), sub)
			if err := c.EnsureTopic(ctx, deadTopic(topic)); err != nil {
				return nil, err
			}
			if err := c.EnsureSubscription(ctx, pubsub.SubscriptionConfig{Name: name, Topic: deadTopic(topic)}); err != nil {
				return nil, err
			}
			return c.Subscribe(ctx, name, pubsub.ReceiveConfig{KeyAttribute: t.keyAttribute})
		},
		Features: brokertest.QueueFeatures{
			// Known because every subscription above has a dead-letter policy.
			DeliveryCount: true,
			AckDeadline:   t.ackDeadline,
			// Extend: the client library leases messages by itself and
			// has no per-message extension; with extension disabled (as
			// the deadline tests need) Extend returns ErrUnsupported.
			Extend: false,
			// Reject publishes to ReceiveConfig.DeadLetterTopic and acks.
			Reject: true,
			// Pub/Sub has no delayed nack (only a subscription-wide retry
			// policy).
			NackDelay:       false,
			MaxDeliveries:   t.maxDeliveries,
			MaxMessageSize:  pubsub.MaxMessageSize,
			BatchedIterator: true,
			// Pub/Sub attributes are strings.
			TypedAttributes: false,
		},
		Options: brokertest.Options{Absence: t.absence, LeakOptions: leakOptions},
	}
}

func TestQueueConformance(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) { brokertest.RunQueueTests(t, queueHarness(tg)) })
	}
}
