package inmem

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pullkit/broker"
)

// ErrDeadlineExpired is returned by Settle, AckContext and Extend of a
// message whose ack deadline passed before it was settled: the broker has
// already made it available again, so this settlement does not count.
var ErrDeadlineExpired = errors.New("inmem: ack deadline expired")

// Broker is an in-memory broker holding topics, queue subscriptions and
// consumer groups. It is safe for concurrent use. Its zero value is not
// usable: create one with New.
type Broker struct {
	clock             Clock
	defaultPartitions int
	maxMessageSize    int
	faults            faults

	// closed mirrors the flag under mu so that Publish checks it without
	// taking the broker-wide lock.
	closed atomic.Bool

	mu         sync.Mutex
	isClosed   bool
	topics     map[string]*topic
	publishers map[*Publisher]struct{}
	queues     map[*QueueConsumer]struct{}
	logs       map[*LogConsumer]struct{}
}

// New returns an empty broker. It starts no goroutine: timers of its Clock
// are the only background work, and Close stops them.
func New(opts ...Option) *Broker {
	b := &Broker{
		clock:             systemClock{},
		defaultPartitions: DefaultPartitions,
		maxMessageSize:    DefaultMaxMessageSize,
		topics:            make(map[string]*topic),
		publishers:        make(map[*Publisher]struct{}),
		queues:            make(map[*QueueConsumer]struct{}),
		logs:              make(map[*LogConsumer]struct{}),
	}
	for _, o := range opts {
		if o != nil {
			o(b)
		}
	}
	return b
}

// Close closes the broker, in this order:
//
//  1. publishers refuse further messages (broker.ErrClosed);
//  2. every queue consumer is closed: its unsettled messages go back to
//     their subscription, and settling them later returns broker.ErrClosed;
//  3. every log consumer is closed: its partitions are revoked (OnRevoke
//     callbacks run) and its records can no longer be committed;
//  4. every timer (ack deadlines, delayed nacks) is stopped, and delayed
//     messages are put back with the others.
//
// Topics, subscriptions, commits and dead letters stay readable through
// Committed and DeadLetters. Close is idempotent; calls after the first
// return nil at once.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.isClosed {
		b.mu.Unlock()
		return nil
	}
	b.isClosed = true
	b.closed.Store(true)
	pubs := keys(b.publishers)
	queues := keys(b.queues)
	logs := keys(b.logs)
	topics := make([]*topic, 0, len(b.topics))
	for _, t := range b.topics {
		topics = append(topics, t)
	}
	b.mu.Unlock()

	for _, p := range pubs {
		_ = p.Close()
	}
	for _, c := range queues {
		_ = c.Close()
	}
	closeLogConsumers(logs)
	for _, t := range topics {
		t.shutdown()
	}
	return nil
}

func keys[K comparable](m map[K]struct{}) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// CreateTopic creates a topic with the given number of partitions. Topics
// are also created on first use (publish, Subscribe, JoinGroup) with the
// default partition count, so CreateTopic is needed only for another count.
// Creating an existing topic with the same count is a no-op; with another
// count it fails with broker.ErrInvalidOption, because partitions never
// change once records were placed by key. A count below 1 or above
// MaxPartitions fails with broker.ErrInvalidOption too.
func (b *Broker) CreateTopic(name string, partitions int) error {
	if err := broker.ValidateTopicName(name); err != nil {
		return err
	}
	if partitions < 1 || partitions > MaxPartitions {
		return fmt.Errorf("%w: topic %q: %d partitions, need 1 to %d", broker.ErrInvalidOption, name, partitions, MaxPartitions)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.isClosed {
		return fmt.Errorf("%w: create topic %q", broker.ErrClosed, name)
	}
	if t, ok := b.topics[name]; ok {
		if len(t.parts) != partitions {
			return fmt.Errorf("%w: topic %q exists with %d partitions, not %d", broker.ErrInvalidOption, name, len(t.parts), partitions)
		}
		return nil
	}
	b.topics[name] = newTopic(b, name, partitions)
	return nil
}

// topic returns the named topic, creating it with the default partition
// count if it does not exist yet.
func (b *Broker) topic(name string) (*topic, error) {
	if err := broker.ValidateTopicName(name); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.isClosed {
		return nil, fmt.Errorf("%w: topic %q", broker.ErrClosed, name)
	}
	t, ok := b.topics[name]
	if !ok {
		t = newTopic(b, name, b.defaultPartitions)
		b.topics[name] = t
	}
	return t, nil
}

// lookup returns the named topic if it exists, even after Close.
func (b *Broker) lookup(name string) *topic {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.topics[name]
}

// register records a consumer or publisher so that Close can close it. It
// fails once the broker is closed; the caller then closes what it made.
func register[T comparable](b *Broker, set map[T]struct{}, v T) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.isClosed {
		return broker.ErrClosed
	}
	set[v] = struct{}{}
	return nil
}

func forget[T comparable](b *Broker, set map[T]struct{}, v T) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(set, v)
}

// Committed returns the group's committed position in a partition of topic:
// the offset of the next record to read, that is the last acked offset + 1
// (Kafka's convention). ok is false when the group has committed nothing in
// that partition, or the topic, group or partition does not exist. It works
// after Close too.
func (b *Broker) Committed(topic, group string, partition int) (offset int64, ok bool) {
	t := b.lookup(topic)
	if t == nil {
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.groups[group]
	if g == nil || partition < 0 || partition >= len(g.committed) || g.committed[partition] < 0 {
		return 0, false
	}
	return g.committed[partition], true
}

// DeadLetters returns, oldest first, every message that subscription of
// topic gave up on: rejected, or past its PoisonPolicy.MaxDeliveries. It
// lists them whether they were forwarded to PoisonPolicy.DeadLetterTopic or
// dropped, so tests can check poison handling without a dead-letter topic.
// Forwarded messages can also be consumed from that topic like any other;
// both copies carry the dead-letter attributes (AttrDeadLetterReason…).
// The messages have no Settler. It works after Close too.
func (b *Broker) DeadLetters(topic, subscription string) []broker.Message {
	t := b.lookup(topic)
	if t == nil {
		return nil
	}
	t.mu.Lock()
	s := t.subs[subscription]
	t.mu.Unlock()
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]broker.Message(nil), s.deadLetters...)
}
