package jetstream

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/pullkit/broker"
)

// MsgIDAttribute is the attribute (a NATS header of the same name) that
// JetStream de-duplicates on: a second message with the same ID inside the
// stream's duplicate window is acknowledged but not stored again. Set it to
// make retries of Publish and BatchPublish idempotent. The message Key is
// not used for this: keys identify payloads, not messages, and many
// messages share one.
const MsgIDAttribute = "Nats-Msg-Id"

// PublisherConfig configures a Publisher. The zero value is ready to use.
type PublisherConfig struct {
	// PublishOptions are passed to every nats.go publish call
	// (jetstream.WithExpectStream, WithRetryAttempts…).
	PublishOptions []natsjs.PublishOpt

	// MaxInFlight bounds the asynchronous publishes one BatchPublish call
	// keeps waiting for acks at once; larger batches are sent in a sliding
	// window. Default 1024. nats.go also caps a connection's pending async
	// publishes (jetstream.WithPublishAsyncMaxPending, 4000 by default).
	MaxInFlight int
}

// Publisher publishes to JetStream subjects over a Client's connection. It
// implements broker.Publisher; its Topics are safe for concurrent use.
type Publisher struct {
	c   *Client
	cfg PublisherConfig

	// mu is held shared by every publish in progress and exclusively by
	// Close, so Close waits for them.
	mu     sync.RWMutex
	closed bool
}

var _ broker.Publisher = (*Publisher)(nil)

// Publisher returns a publisher using this client's connection. Closing it
// does not close the client.
func (c *Client) Publisher(cfg PublisherConfig) *Publisher {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 1024
	}
	return &Publisher{c: c, cfg: cfg}
}

// Topic returns a handle publishing to subject name. The subject must be
// literal (no * or > wildcards, no spaces, no empty tokens), or the error
// wraps broker.ErrInvalidTopic. A stream must capture the subject for
// publishes to succeed; without one they fail with broker.ErrNotFound.
func (p *Publisher) Topic(name string) (broker.Topic, error) {
	if err := validateSubject(name, false); err != nil {
		return nil, err
	}
	p.mu.RLock()
	closed := p.closed
	p.mu.RUnlock()
	if closed {
		return nil, fmt.Errorf("%w: jetstream publisher", broker.ErrClosed)
	}
	return &Topic{p: p, subject: name}, nil
}

// Close waits for publishes in progress to finish (each is bounded by its
// own context) and makes later ones fail with broker.ErrClosed. Every
// publish waits for its acks, so nothing accepted is left unflushed. The
// client stays open. Close is idempotent.
func (p *Publisher) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	return nil
}

// begin registers a publish; false means the publisher is closed.
func (p *Publisher) begin() bool {
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return false
	}
	return true
}

func (p *Publisher) end() { p.mu.RUnlock() }

// Topic publishes to one subject. It implements broker.Topic.
type Topic struct {
	p       *Publisher
	subject string
}

var _ broker.Topic = (*Topic)(nil)

// build validates msg and turns it into a nats.Msg.
func (t *Topic) build(msg broker.OutboundMessage) (*nats.Msg, error) {
	h, hsize, err := encodeHeaders(msg.Key, msg.Attributes)
	if err != nil {
		return nil, err
	}
	if limit := t.p.c.nc.MaxPayload(); limit > 0 && int64(hsize+len(msg.Data)) > limit {
		return nil, fmt.Errorf("%w: %d bytes of payload and %d of headers exceed the server's max payload of %d bytes",
			broker.ErrMessageTooLarge, len(msg.Data), hsize, limit)
	}
	return &nats.Msg{Subject: t.subject, Header: h, Data: msg.Data}, nil
}

func (t *Topic) closedErr() error {
	return fmt.Errorf("%w: jetstream publisher (subject %q)", broker.ErrClosed, t.subject)
}

// Publish publishes msg and waits for the stream's acknowledgement (the
// PubAck), ctx's end, or a failure. Invalid messages are refused before
// anything is sent: attributes (broker.ErrInvalidAttribute), a payload
// over the server's max payload (broker.ErrMessageTooLarge). No stream
// on the subject is broker.ErrNotFound.
func (t *Topic) Publish(ctx context.Context, msg broker.OutboundMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m, err := t.build(msg)
	if err != nil {
		return err
	}
	if !t.p.begin() {
		return t.closedErr()
	}
	defer t.p.end()
	if _, err := t.p.c.js.PublishMsg(ctx, m, t.p.cfg.PublishOptions...); err != nil {
		return t.publishErr(err)
	}
	return nil
}

// unconfirmed reports whether a failed async publish may still have been
// stored: the message was sent and its PubAck lost, when the connection
// broke (nats.go fails every pending ack with ErrDisconnected, and resends
// what it had not written yet after the reconnect) or the ack timed out.
func unconfirmed(err error) bool {
	return errors.Is(err, nats.ErrDisconnected) || errors.Is(err, natsjs.ErrAsyncPublishTimeout) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded)
}

func (t *Topic) publishErr(err error) error {
	return fmt.Errorf("jetstream: publish to %q: %w", t.subject, mapErr(err))
}

// BatchPublish publishes msgs with nats.go's asynchronous publishing and
// waits for every PubAck. If any message is invalid none is sent. When not
// every message was acknowledged it returns a *broker.BatchError: a
// message whose publish failed, or that was never sent because ctx ended
// first, is PublishFailed; one sent whose ack did not come back before ctx
// ended, or was lost with a broken connection, is PublishUnknown (it may
// be stored; set MsgIDAttribute to retry it safely).
func (t *Topic) BatchPublish(ctx context.Context, msgs ...broker.OutboundMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	built := make([]*nats.Msg, len(msgs))
	var be *broker.BatchError
	for i := range msgs {
		m, err := t.build(msgs[i])
		if err != nil {
			if be == nil {
				be = broker.NewBatchError(len(msgs))
			}
			be.Fail(i, err)
		}
		built[i] = m
	}
	if be != nil {
		for i := range msgs {
			if be.Errs[i] == nil {
				be.Fail(i, fmt.Errorf("not sent: another message of the batch is invalid"))
			}
		}
		return be
	}
	if !t.p.begin() {
		return t.closedErr()
	}
	defer t.p.end()

	be = broker.NewBatchError(len(msgs))
	futures := make([]natsjs.PubAckFuture, len(msgs))
	// waitFor settles message i's status from its future.
	waitFor := func(i int) {
		f := futures[i]
		if f == nil {
			return
		}
		futures[i] = nil
		select {
		case <-f.Ok():
		case err := <-f.Err():
			if unconfirmed(err) {
				be.Unknown(i, t.publishErr(err))
			} else {
				be.Fail(i, t.publishErr(err))
			}
		case <-ctx.Done():
			be.Unknown(i, ctx.Err())
		}
	}
	window := t.p.cfg.MaxInFlight
	for i, m := range built {
		if i >= window {
			waitFor(i - window)
		}
		if err := ctx.Err(); err != nil {
			be.Fail(i, err)
			continue
		}
		f, err := t.p.c.js.PublishMsgAsync(m, t.p.cfg.PublishOptions...)
		if err != nil {
			be.Fail(i, t.publishErr(err))
			continue
		}
		futures[i] = f
	}
	for i := max(0, len(built)-window); i < len(built); i++ {
		waitFor(i)
	}
	return be.OrNil()
}
