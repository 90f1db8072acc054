package inmem

import (
	"context"
	"fmt"

	"github.com/pullkit/broker"
)

// QueueConsumer reads a queue subscription. It implements
// broker.MessageIterator and broker.BatchedMessageIterator, and, unlike the
// interfaces require, NextMessage and NextBatch may be called concurrently:
// every call takes its own messages from the subscription. Several
// consumers of one subscription compete for its messages.
type QueueConsumer struct {
	s    *subscription
	cfg  QueueConfig
	done chan struct{} // closed by Close

	closed bool // guarded by s.mu
}

var (
	_ broker.MessageIterator        = (*QueueConsumer)(nil)
	_ broker.BatchedMessageIterator = (*QueueConsumer)(nil)
)

// Subscribe opens a consumer of the queue subscription named subscription
// on topic, creating the topic and the subscription if needed. A new
// subscription receives every message published after it was created; an
// existing one resumes where it is: its pending and delayed messages, and
// any unsettled ones once their holders close or their deadlines pass.
// Closing consumers never deletes the subscription.
//
// Empty names fail with broker.ErrInvalidTopic, a bad cfg with
// broker.ErrInvalidOption, a closed broker with broker.ErrClosed.
func (b *Broker) Subscribe(topic, subscription string, cfg QueueConfig) (*QueueConsumer, error) {
	if err := broker.ValidateTopicName(topic); err != nil {
		return nil, err
	}
	if subscription == "" {
		return nil, fmt.Errorf("%w: empty subscription name", broker.ErrInvalidTopic)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t, err := b.topic(topic)
	if err != nil {
		return nil, err
	}
	c := &QueueConsumer{s: t.subscription(subscription), cfg: cfg, done: make(chan struct{})}
	if err := register(b, b.queues, c); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("%w: subscribe %q on %q", err, subscription, topic)
	}
	return c, nil
}

// NextMessage returns the next message of the subscription, waiting until
// one is available, ctx ends (an error matching ctx.Err()) or the consumer
// is closed (broker.ErrClosed). A canceled call takes nothing. The message
// must be settled; its Data and Attributes are shared with the broker's copy
// (later redeliveries and other subscriptions) and must not be modified.
func (c *QueueConsumer) NextMessage(ctx context.Context) (broker.Message, error) {
	if err := ctx.Err(); err != nil {
		return broker.Message{}, err
	}
	s := c.s
	for {
		s.mu.Lock()
		if c.closed {
			s.mu.Unlock()
			return broker.Message{}, c.closedErr()
		}
		if it, ok := s.popLocked(); ok {
			m := s.deliverLocked(c, it, s.b.clock.Now())
			s.mu.Unlock()
			return m, nil
		}
		wait := s.waitLocked()
		s.mu.Unlock()
		if err := c.await(ctx, wait); err != nil {
			return broker.Message{}, err
		}
	}
}

// NextBatch returns between 1 and QueueConfig.MaxBatch messages: whatever
// is available as soon as there is at least one, without waiting to fill
// the batch. It waits and fails like NextMessage. The slice is the
// caller's.
func (c *QueueConsumer) NextBatch(ctx context.Context) ([]broker.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := c.s
	for {
		s.mu.Lock()
		if c.closed {
			s.mu.Unlock()
			return nil, c.closedErr()
		}
		if n := min(len(s.pending)-s.head, c.cfg.MaxBatch); n > 0 {
			batch := make([]broker.Message, 0, n)
			now := s.b.clock.Now()
			for range n {
				it, _ := s.popLocked()
				batch = append(batch, s.deliverLocked(c, it, now))
			}
			s.mu.Unlock()
			return batch, nil
		}
		wait := s.waitLocked()
		s.mu.Unlock()
		if err := c.await(ctx, wait); err != nil {
			return nil, err
		}
	}
}

func (c *QueueConsumer) await(ctx context.Context, wait <-chan struct{}) error {
	select {
	case <-wait:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.closedErr()
	}
}

func (c *QueueConsumer) closedErr() error {
	return fmt.Errorf("%w: consumer of subscription %q", broker.ErrClosed, c.s.name)
}

// Close stops the consumer: waiting calls return broker.ErrClosed, and every
// message it holds unsettled goes back to the subscription at once (subject
// to the PoisonPolicy, since each counts as a delivery); settling one of
// them later returns broker.ErrClosed. The subscription stays. Close is
// idempotent.
func (c *QueueConsumer) Close() error {
	s := c.s
	s.mu.Lock()
	if c.closed {
		s.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	s.releaseLocked(c)
	dead := s.takeDeadLocked()
	s.mu.Unlock()
	s.b.forward(dead)
	forget(s.b, s.b.queues, c)
	return nil
}
