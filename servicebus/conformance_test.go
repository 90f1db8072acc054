package servicebus_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/brokertest"
	"github.com/pullkit/broker/servicebus"
)

// The conformance suite through the real azservicebus client: against
// sbtest for a queue and for a topic subscription, and against the
// namespace in SERVICEBUS_CONNECTION_STRING when it is set.

// sbtestLock is the lock duration of the ack-deadline tests on sbtest:
// long enough that a renewal round trip under -race on a busy 2-core
// machine lands well within it, short enough to wait for.
const sbtestLock = time.Second

// clients hands every test its own client (one AMQP connection), closed
// when the test ends, before the suite's goroutine check.
type clients struct {
	tg target
	mu sync.Mutex
	m  map[testing.TB]*servicebus.Client
}

func (cs *clients) of(tb testing.TB) *servicebus.Client {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.m[tb]; ok {
		return c
	}
	if cs.m == nil {
		cs.m = map[testing.TB]*servicebus.Client{}
	}
	c := cs.tg.newClient(tb)
	cs.m[tb] = c
	tb.Cleanup(func() {
		cs.mu.Lock()
		delete(cs.m, tb)
		cs.mu.Unlock()
	})
	return c
}

// queueHarness runs the suite on queues (subscriptions false) or topic
// subscriptions (true) of tg.
func queueHarness(tg target, subscriptions bool) brokertest.QueueHarness {
	cs := &clients{tg: tg}
	features := brokertest.QueueFeatures{
		DeliveryCount: true,
		AckDeadline:   sbtestLock,
		Extend:        true,
		Reject:        true,
		// No NackDelay: Service Bus has no delayed abandon.
		MaxDeliveries:   true,
		MaxMessageSize:  256 << 10, // sbtest's and the emulator's (and Standard tier's) limit
		BatchedIterator: true,
		// No TypedAttributes: AMQP has no type for time.Duration and
		// keeps timestamps to the millisecond; int and uint come back as
		// int64 and uint64 (see the package doc).
	}
	opts := brokertest.Options{}
	if !tg.fast {
		features.AckDeadline = 5 * time.Second // the smallest lock duration Service Bus allows
		opts = brokertest.Options{Timeout: 90 * time.Second, Absence: 2 * time.Second, Parallel: 8,
			// The administration client (NewTopic, Subscribe) talks
			// HTTPS; net/http keeps idle connections to the namespace
			// open after the tests, by design.
			LeakOptions: []goleak.Option{
				goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
				goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
				goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
			},
		}
	}
	entity := func(o brokertest.SubscribeOptions) entityOptions {
		return entityOptions{lockDuration: o.AckDeadline, maxDeliveryCount: o.MaxDeliveries}
	}
	queueConfig := func(topic, sub string, o brokertest.SubscribeOptions) servicebus.QueueConfig {
		qc := servicebus.QueueConfig{
			MaxBatch: o.MaxBatch,
			Poison:   broker.PoisonPolicy{MaxDeliveries: o.MaxDeliveries, Action: broker.PoisonDeadLetter},
			// Off: AckDeadlineExpiryRedelivers checks that the lock of a
			// message held unsettled expires, which renewal prevents.
			AutoRenew: -1,
		}
		if subscriptions {
			qc.Topic, qc.Subscription = topic, sub
		} else {
			qc.Queue = topic
		}
		return qc
	}
	return brokertest.QueueHarness{
		NewTopic: func(ctx context.Context, t testing.TB) (string, error) {
			if subscriptions {
				name := uniqueName("t")
				return name, tg.admin.createTopic(ctx, name)
			}
			name := uniqueName("q")
			return name, tg.admin.createQueue(ctx, name, entityOptions{})
		},
		Publisher: func(ctx context.Context, t testing.TB) (broker.Publisher, error) {
			return cs.of(t).Publisher()
		},
		Subscribe: func(ctx context.Context, t testing.TB, topic, sub string, o brokertest.SubscribeOptions) (brokertest.QueueConsumer, error) {
			var err error
			switch {
			case subscriptions:
				err = tg.admin.createSubscription(ctx, topic, sub, entity(o))
			case o.AckDeadline > 0 || o.MaxDeliveries > 0:
				// A queue is its own (only) subscription: the test's
				// settings go on the queue.
				err = tg.admin.updateQueue(ctx, topic, entity(o))
			}
			if err != nil {
				return nil, err
			}
			return cs.of(t).NewQueue(ctx, queueConfig(topic, sub, o))
		},
		DeadLetters: func(ctx context.Context, t testing.TB, topic, sub string) (brokertest.QueueConsumer, error) {
			qc := queueConfig(topic, sub, brokertest.SubscribeOptions{})
			qc.DeadLetter = true
			return cs.of(t).NewQueue(ctx, qc)
		},
		Features: features,
		Options:  opts,
	}
}

func TestQueueConformance(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			t.Run("Queue", func(t *testing.T) { brokertest.RunQueueTests(t, queueHarness(tg, false)) })
			t.Run("Subscription", func(t *testing.T) { brokertest.RunQueueTests(t, queueHarness(tg, true)) })
		})
	}
}
