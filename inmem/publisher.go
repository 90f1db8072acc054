package inmem

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"sync/atomic"

	"github.com/pullkit/broker"
)

// Publisher publishes to the broker's topics. It implements
// broker.Publisher; it is safe for concurrent use and cheap, so tests may
// make one per goroutine.
type Publisher struct {
	b      *Broker
	closed atomic.Bool
}

var _ broker.Publisher = (*Publisher)(nil)

// Publisher returns a new publisher. On a closed broker it returns a
// publisher that refuses everything with broker.ErrClosed.
func (b *Broker) Publisher() *Publisher {
	p := &Publisher{b: b}
	if register(b, b.publishers, p) != nil {
		p.closed.Store(true)
	}
	return p
}

// Close stops the publisher: later publishes fail with broker.ErrClosed.
// Publishing is synchronous, so there is nothing to flush. Close is
// idempotent.
func (p *Publisher) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	forget(p.b, p.b.publishers, p)
	return nil
}

func (p *Publisher) usable() error {
	if p.closed.Load() {
		return fmt.Errorf("%w: publisher", broker.ErrClosed)
	}
	if p.b.closed.Load() {
		return fmt.Errorf("%w: broker", broker.ErrClosed)
	}
	return nil
}

// Topic returns a handle on the named topic, creating the topic with the
// default partition count if it does not exist. An empty name fails with
// broker.ErrInvalidTopic, a closed publisher with broker.ErrClosed.
func (p *Publisher) Topic(name string) (broker.Topic, error) {
	if err := broker.ValidateTopicName(name); err != nil {
		return nil, err
	}
	if err := p.usable(); err != nil {
		return nil, err
	}
	t, err := p.b.topic(name)
	if err != nil {
		return nil, err
	}
	return &topicHandle{p: p, t: t}, nil
}

// topicHandle is the broker.Topic of one publisher and topic.
type topicHandle struct {
	p *Publisher
	t *topic
}

// Publish validates msg (attributes, size), then appends it to its
// partition: FNV-1a of Key modulo the partition count, round-robin for an
// empty key. It returns once the message is in the log and in every queue
// subscription; it never blocks otherwise. Data and []byte attribute values
// are copied, so the caller may reuse them.
func (h *topicHandle) Publish(ctx context.Context, msg broker.OutboundMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := h.p.usable(); err != nil {
		return err
	}
	if err := h.validate(msg); err != nil {
		return err
	}
	if err := h.p.b.faults.take(faultPublish, h.t.name); err != nil {
		return injected("publish to", h.t.name, err)
	}
	h.t.publish(newEntry(msg))
	return nil
}

// BatchPublish validates every message first and publishes none if any is
// invalid (a *broker.BatchError marks the invalid ones with their reason and
// the rest as not sent). Otherwise it appends the messages atomically:
// consumers see all of them or none. Messages failed by FailNextPublishes
// are left out and reported in the *broker.BatchError; inmem never reports
// a message as PublishUnknown.
func (h *topicHandle) BatchPublish(ctx context.Context, msgs ...broker.OutboundMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := h.p.usable(); err != nil {
		be := broker.NewBatchError(len(msgs))
		for i := range msgs {
			be.Fail(i, err)
		}
		return be
	}
	if be := broker.ValidateBatch(msgs); be != nil {
		return be
	}
	var be *broker.BatchError
	for i, m := range msgs {
		if err := h.checkSize(m); err != nil {
			if be == nil {
				be = broker.NewBatchError(len(msgs))
			}
			be.Fail(i, err)
		}
	}
	if be != nil {
		for i := range msgs {
			if be.Status[i] == broker.PublishSent {
				be.Fail(i, fmt.Errorf("not sent: another message of the batch is invalid"))
			}
		}
		return be
	}
	es := make([]entry, 0, len(msgs))
	for i, m := range msgs {
		if err := h.p.b.faults.take(faultPublish, h.t.name); err != nil {
			if be == nil {
				be = broker.NewBatchError(len(msgs))
			}
			be.Fail(i, injected("publish to", h.t.name, err))
			continue
		}
		es = append(es, newEntry(m))
	}
	h.t.publishAll(es)
	if be == nil {
		return nil
	}
	return be
}

func (h *topicHandle) validate(msg broker.OutboundMessage) error {
	if err := broker.ValidateOutbound(msg); err != nil {
		return fmt.Errorf("inmem: publish to %q: %w", h.t.name, err)
	}
	return h.checkSize(msg)
}

func (h *topicHandle) checkSize(msg broker.OutboundMessage) error {
	if max := h.p.b.maxMessageSize; len(msg.Data) > max {
		return fmt.Errorf("%w: publish to %q: %d bytes of data, limit %d", broker.ErrMessageTooLarge, h.t.name, len(msg.Data), max)
	}
	return nil
}

// newEntry copies what the caller could change after Publish returns.
func newEntry(m broker.OutboundMessage) entry {
	return entry{key: m.Key, data: bytes.Clone(m.Data), attrs: cloneAttrs(m.Attributes)}
}

// cloneAttrs copies the map and any []byte values; the other supported
// attribute types are immutable values.
func cloneAttrs(a map[string]any) map[string]any {
	if a == nil {
		return nil
	}
	c := maps.Clone(a)
	for k, v := range c {
		if b, ok := v.([]byte); ok {
			c[k] = bytes.Clone(b)
		}
	}
	return c
}
