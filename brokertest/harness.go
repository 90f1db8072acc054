package brokertest

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pullkit/broker"
)

// QueueConsumer is what QueueHarness.Subscribe returns: a message iterator
// with Close. If Features.BatchedIterator is set it must also implement
// broker.BatchedMessageIterator.
type QueueConsumer interface {
	broker.MessageIterator
	Close() error
}

// LogConsumer is what LogHarness.JoinGroup returns: a record iterator with
// Close. If Features.BatchedIterator is set it must also implement
// broker.BatchedIterator.
type LogConsumer interface {
	broker.RecordIterator
	Close() error
}

// SubscribeOptions is what one queue test asks of its subscription; the
// harness maps it onto the backend's configuration. Reopening a subscription
// always passes the options it was created with.
type SubscribeOptions struct {
	// AckDeadline is the ack deadline or lock duration the test needs. It is
	// zero (keep the backend's default, which must be long enough that a
	// message held for a few seconds is not redelivered) except in the
	// tests gated on QueueFeatures.AckDeadline, where it equals that value.
	AckDeadline time.Duration

	// MaxDeliveries, when not zero, asks for a poison policy that
	// dead-letters (or drops) a message after this many deliveries. Only set
	// when QueueFeatures.MaxDeliveries is true.
	MaxDeliveries int

	// MaxBatch, when not zero, is the most messages one NextBatch may
	// return. Only set when QueueFeatures.BatchedIterator is true.
	MaxBatch int
}

// QueueFeatures declares what a queue backend can do beyond the contract
// every backend keeps. A test that needs a feature the harness does not
// declare is skipped with "requires QueueFeatures.X".
type QueueFeatures struct {
	// DeliveryCount: messages carry DeliveryCount (1 on first delivery, then
	// one more on each redelivery).
	DeliveryCount bool

	// AckDeadline is an ack deadline the backend honours and that is short
	// enough to wait for in a test (a few hundred milliseconds is best).
	// 0 skips the deadline-expiry and Extend tests.
	AckDeadline time.Duration

	// Extend: Message.Extend pushes the ack deadline back. Needs AckDeadline.
	Extend bool

	// Reject: Message.Reject stops redelivery of the message.
	Reject bool

	// NackDelay: a nack settled with broker.Settlement.Delay is not
	// redelivered before the delay has passed.
	NackDelay bool

	// MaxDeliveries: SubscribeOptions.MaxDeliveries is honoured, so a
	// message nacked that many times is not delivered again.
	MaxDeliveries bool

	// MaxMessageSize is the largest payload the backend accepts, if it
	// refuses larger ones with broker.ErrMessageTooLarge before sending.
	// 0 means unknown: the oversize test is skipped. The large round-trip
	// test sends min(256 KiB, MaxMessageSize/2) bytes.
	MaxMessageSize int

	// BatchedIterator: consumers also implement
	// broker.BatchedMessageIterator and honour SubscribeOptions.MaxBatch.
	BatchedIterator bool

	// TypedAttributes: attribute values come back with the Go type and
	// value they were published with. Without it only string attributes
	// are compared; the others must still be accepted and present.
	TypedAttributes bool
}

// QueueHarness connects the queue tests to one backend. Its functions are
// called by many tests at once (unless Options.Serial), and every call made
// for one test (or one benchmark round) receives that test's testing.TB, so
// a harness may key per-test state, such as a server per test, by it. They
// register t.Cleanup for whatever they create beyond the returned value.
type QueueHarness struct {
	// NewTopic creates a fresh, empty topic for one test and returns its name.
	NewTopic func(ctx context.Context, t testing.TB) (string, error)

	// Publisher returns a publisher for one test. If it implements
	// io.Closer the suite closes it when the test ends.
	Publisher func(ctx context.Context, t testing.TB) (broker.Publisher, error)

	// Subscribe opens a consumer on subscription sub of topic. The first
	// call for a (topic, sub) pair creates a durable subscription that
	// receives every message published after that call; later calls with
	// the same names open another consumer on the same subscription (after
	// a Close or alongside a live consumer, which then compete). The suite
	// closes every consumer it opens. Subscription names are unique within
	// one run of the suite but short ("sub3"); prefix them if your backend
	// needs names unique across runs.
	Subscribe func(ctx context.Context, t testing.TB, topic, sub string, opts SubscribeOptions) (QueueConsumer, error)

	// DeadLetters, if set, opens a consumer on the dead-letter destination
	// of subscription sub of topic. The suite calls it right after the
	// subscription's first Subscribe and before publishing, so the harness
	// can create the destination then. Nil: dead-lettered and rejected
	// messages are only checked to stop being delivered.
	DeadLetters func(ctx context.Context, t testing.TB, topic, sub string) (QueueConsumer, error)

	Features QueueFeatures
	Options  Options
}

// GroupOptions is what one log test asks of its consumer.
type GroupOptions struct {
	// MaxBatch, when not zero, is the most records one NextBatch may
	// return. Only set when LogFeatures.BatchedIterator is true.
	MaxBatch int
}

// LogFeatures declares what a log backend can do beyond the contract.
type LogFeatures struct {
	// MaxPartitions is the most partitions NewTopic can create; 0 means no
	// limit. Tests ask for min(4, MaxPartitions) partitions; a backend
	// without partitions sets 1.
	MaxPartitions int

	// Rebalance: several consumers in one group share the topic's
	// partitions, and the partitions of a consumer that closes go to the
	// others. If consumers also implement broker.RevocationNotifier, the
	// suite checks that revoked partitions are reported and refuse acks.
	Rebalance bool

	// MaxMessageSize is as in QueueFeatures.
	MaxMessageSize int

	// BatchedIterator: consumers also implement broker.BatchedIterator and
	// honour GroupOptions.MaxBatch.
	BatchedIterator bool

	// TypedAttributes is as in QueueFeatures.
	TypedAttributes bool
}

// LogHarness connects the log tests to one backend, with QueueHarness's
// calling rules.
type LogHarness struct {
	// NewTopic creates a fresh, empty topic with the given number of
	// partitions for one test and returns its name.
	NewTopic func(ctx context.Context, t testing.TB, partitions int) (string, error)

	// Publisher is as in QueueHarness. Records with one key must land in one
	// partition.
	Publisher func(ctx context.Context, t testing.TB) (broker.Publisher, error)

	// JoinGroup opens a consumer in group on topic. A group that has
	// committed nothing for a partition starts at its first record;
	// reopening a group resumes from its committed offsets (Close flushes
	// acks first). Group names are unique within one run of the suite.
	JoinGroup func(ctx context.Context, t testing.TB, topic, group string, opts GroupOptions) (LogConsumer, error)

	Features LogFeatures
	Options  Options
}

// Options tune how the suite runs; the zero value suits an in-process backend.
type Options struct {
	// Timeout bounds each test: its context ends then, and a test still
	// running max(2×Prompt, 2 s) later is failed and its consumers and
	// publishers closed; 10 s after that the watchdog panics with every
	// goroutine's stack, rather than let a hung backend block until go
	// test's own timeout. Default 20 s.
	Timeout time.Duration

	// Absence is how long the suite waits before concluding that a message
	// that must not arrive did not (acked, rejected, never published).
	// Raise it for backends whose redelivery is slow to show. Default 250 ms.
	Absence time.Duration

	// Prompt is how soon a blocked call must return once its context ends.
	// Default 1 s, the contract's bound.
	Prompt time.Duration

	// Parallel is how many tests run at once. Default 16.
	Parallel int

	// Serial runs the tests one at a time, for backends whose test server
	// cannot serve several topics at once.
	Serial bool

	// LeakOptions are passed to goleak when the suite checks, after all its
	// tests, that no goroutine started during them is still running: use
	// goleak.IgnoreTopFunction for client libraries that keep background
	// goroutines. The check compares with the goroutines alive when the
	// suite started, so do not run the suite from a parallel test.
	LeakOptions []goleak.Option

	// SkipLeakCheck turns the goroutine check off.
	SkipLeakCheck bool
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 20 * time.Second
	}
	if o.Absence <= 0 {
		o.Absence = 250 * time.Millisecond
	}
	if o.Prompt <= 0 {
		o.Prompt = time.Second
	}
	if o.Parallel <= 0 {
		o.Parallel = 16
	}
	return o
}

// largeSize is the size of the "large payload" round trip, capped by the
// backend's declared maximum.
func largeSize(maxSize int) int {
	const want = 256 << 10
	if maxSize > 0 && maxSize/2 < want {
		return maxSize / 2
	}
	return want
}
