package pubsub

import (
	"context"
	"errors"
	"fmt"
	"sync"

	gpubsub "cloud.google.com/go/pubsub/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pullkit/broker"
)

// Publisher publishes to Pub/Sub topics. It implements broker.Publisher and
// is safe for concurrent use.
//
// Each topic gets one client-library publisher (gpubsub.Publisher), made on
// the first Topic call for its name and reused by later ones: those hold
// batching goroutines and buffers, so one per topic is what the library
// wants. Close flushes and stops them all.
type Publisher struct {
	c        *Client
	settings gpubsub.PublishSettings
	keyAttr  string // PublishConfig.KeyAttribute

	mu     sync.RWMutex // guards closed and topics; held for reading while handing messages to the library
	closed bool
	topics map[string]*Topic

	closeOnce sync.Once
}

var _ broker.Publisher = (*Publisher)(nil)

// Publisher returns a publisher with cfg's batching. It fails with an error
// wrapping broker.ErrInvalidOption for a bad cfg and broker.ErrClosed on a
// closed client.
func (c *Client) Publisher(cfg PublishConfig) (*Publisher, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	if err := checkKeyAttribute(cfg.KeyAttribute); err != nil {
		return nil, err
	}
	if err := c.usable(); err != nil {
		return nil, err
	}
	return &Publisher{c: c, settings: s, keyAttr: cfg.KeyAttribute, topics: map[string]*Topic{}}, nil
}

// Topic returns the handle of the named topic (an ID, or a full
// "projects/…/topics/…" name), the same one on every call. It does not
// check that the topic exists: publishing to a missing topic fails with an
// error wrapping broker.ErrNotFound. An empty name fails with
// broker.ErrInvalidTopic, a closed publisher with broker.ErrClosed.
func (p *Publisher) Topic(name string) (broker.Topic, error) {
	t, err := p.topic(name)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (p *Publisher) topic(name string) (*Topic, error) {
	if err := broker.ValidateTopicName(name); err != nil {
		return nil, err
	}
	p.mu.RLock()
	t, ok := p.topics[name]
	closed := p.closed
	p.mu.RUnlock()
	switch {
	case closed:
		return nil, fmt.Errorf("%w: pubsub publisher", broker.ErrClosed)
	case ok:
		return t, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("%w: pubsub publisher", broker.ErrClosed)
	}
	if t, ok := p.topics[name]; ok {
		return t, nil
	}
	path := p.c.topicPath(name)
	native := p.c.c.Publisher(path)
	native.PublishSettings = p.settings
	// OutboundMessage.Key travels as the ordering key, which the library
	// accepts only with ordering enabled, unless it goes in an attribute.
	// Messages without a key are not ordered and batch as usual.
	native.EnableMessageOrdering = p.keyAttr == ""
	t = &Topic{p: p, name: name, native: native, limit: messageLimit(path)}
	p.topics[name] = t
	return t, nil
}

// Close flushes every message accepted so far (waiting until each was
// sent or failed), stops the topics' batching goroutines, and makes later
// publishes fail with broker.ErrClosed. It leaves the Client open. Close is
// idempotent; concurrent calls wait for the first.
func (p *Publisher) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		topics := make([]*Topic, 0, len(p.topics))
		for _, t := range p.topics {
			topics = append(topics, t)
		}
		p.mu.Unlock()
		// No new message reaches the library now; Stop sends what it holds.
		var wg sync.WaitGroup
		for _, t := range topics {
			wg.Go(t.native.Stop)
		}
		wg.Wait()
	})
	return nil
}

// Topic publishes to one Pub/Sub topic. It implements broker.Topic.
type Topic struct {
	p      *Publisher
	name   string
	native *gpubsub.Publisher
	limit  int // messageLimit of the topic

	keysMu sync.Mutex
	keys   map[string]*orderedKey // see ordered.go
}

var _ broker.Topic = (*Topic)(nil)

// Native returns the client library's publisher of the topic. Do not Stop
// it: Publisher.Close does.
func (t *Topic) Native() *gpubsub.Publisher { return t.native }

// Publish converts and checks msg (see the package doc for attribute rules
// and limits), hands it to the library's batcher and waits for the server
// to confirm it (it then has a server-assigned ID), for ctx to end (the
// message may still be published: its outcome is unknown) or for
// publishing to fail. Invalid messages are refused before anything is sent,
// with errors wrapping broker.ErrInvalidAttribute or
// broker.ErrMessageTooLarge. msg.Data is kept by the library until sent:
// do not modify it before then, even after Publish returned ctx's error.
func (t *Topic) Publish(ctx context.Context, msg broker.OutboundMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m, err := t.convert(msg)
	if err != nil {
		return err
	}
	var res [1]*gpubsub.PublishResult
	var seq [1]uint64
	if err := t.send(ctx, []*gpubsub.Message{m}, res[:], seq[:]); err != nil {
		return err
	}
	_, err = t.result(ctx, m, res[0], seq[0])
	return err
}

// BatchPublish checks every message first and sends none if any is
// invalid (the *broker.BatchError then marks them all failed, the invalid
// ones with their reason). Otherwise it hands them all to the library's
// batcher, which packs them into as few requests as PublishConfig allows,
// and waits for each outcome: the *broker.BatchError it returns when not
// all were confirmed says which failed (refused by the server, for
// instance) and which are unknown (ctx ended first, or a transport error
// that may have come after the server stored them).
func (t *Topic) BatchPublish(ctx context.Context, msgs ...broker.OutboundMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if be := broker.ValidateBatch(msgs); be != nil {
		return be
	}
	ms := make([]*gpubsub.Message, len(msgs))
	var be *broker.BatchError
	for i, msg := range msgs {
		m, err := t.convert(msg)
		if err != nil {
			if be == nil {
				be = broker.NewBatchError(len(msgs))
			}
			be.Fail(i, err)
		}
		ms[i] = m
	}
	if be != nil {
		for i := range msgs {
			if be.Status[i] == broker.PublishSent {
				be.Fail(i, errors.New("not sent: another message of the batch is invalid"))
			}
		}
		return be
	}
	res := make([]*gpubsub.PublishResult, len(ms))
	seqs := make([]uint64, len(ms))
	if err := t.send(ctx, ms, res, seqs); err != nil {
		be = broker.NewBatchError(len(msgs))
		for i := range msgs {
			be.Fail(i, err)
		}
		return be
	}
	be = broker.NewBatchError(len(msgs))
	for i, r := range res {
		_, err := t.result(ctx, ms[i], r, seqs[i])
		switch {
		case err == nil:
		case unknownOutcome(err):
			be.Unknown(i, err)
		default:
			be.Fail(i, err)
		}
	}
	return be.OrNil()
}

// convert checks msg and builds the library's message.
func (t *Topic) convert(msg broker.OutboundMessage) (*gpubsub.Message, error) {
	if err := broker.ValidateOutbound(msg); err != nil {
		return nil, fmt.Errorf("pubsub: publish to %q: %w", t.name, err)
	}
	attrs, err := toAttributes(msg.Attributes)
	if err != nil {
		return nil, fmt.Errorf("pubsub: publish to %q: %w", t.name, err)
	}
	orderingKey := msg.Key
	if ka := t.p.keyAttr; ka != "" && msg.Key != "" {
		if attrs, err = withKeyAttribute(attrs, ka, msg.Key); err != nil {
			return nil, fmt.Errorf("pubsub: publish to %q: %w", t.name, err)
		}
		orderingKey = ""
	}
	if len(msg.Data) == 0 && len(attrs) == 0 {
		// Pub/Sub refuses a message with neither; see EmptyAttribute.
		attrs = map[string]string{EmptyAttribute: "1"}
	}
	if err := checkMessage(orderingKey, msg.Data, attrs, t.limit); err != nil {
		return nil, fmt.Errorf("pubsub: publish to %q: %w", t.name, err)
	}
	return &gpubsub.Message{Data: msg.Data, Attributes: attrs, OrderingKey: orderingKey}, nil
}

// send hands ms to the library, unless the publisher is closed. The read
// lock keeps Close from stopping the library's publisher in between. The
// sequence numbers of messages with an ordering key go to seqs (see
// ordered.go).
func (t *Topic) send(ctx context.Context, ms []*gpubsub.Message, res []*gpubsub.PublishResult, seqs []uint64) error {
	t.p.mu.RLock()
	defer t.p.mu.RUnlock()
	if t.p.closed {
		return fmt.Errorf("%w: pubsub publisher of topic %q", broker.ErrClosed, t.name)
	}
	for i, m := range ms {
		if m.OrderingKey != "" {
			seqs[i] = t.track(m.OrderingKey)
		}
		res[i] = t.native.Publish(ctx, m)
	}
	return nil
}

// result waits for r. A result that is ready wins over a ctx that ended.
// A failure pauses the message's ordering key in the library (so that
// later messages of the key cannot overtake the failed one); the key is
// resumed once every message of it in flight then has its outcome (see
// ordered.go), so the caller can publish again.
func (t *Topic) result(ctx context.Context, m *gpubsub.Message, r *gpubsub.PublishResult, seq uint64) (string, error) {
	select {
	case <-r.Ready():
	default:
		select {
		case <-r.Ready():
		case <-ctx.Done():
			if m.OrderingKey != "" {
				t.abandon(m.OrderingKey, seq, r)
			}
			return "", ctx.Err()
		}
	}
	id, err := r.Get(context.Background())
	if m.OrderingKey != "" {
		t.finished(m.OrderingKey, seq, err != nil)
	}
	if err != nil {
		if errors.As(err, new(gpubsub.ErrPublishingPaused)) {
			// The library's text says to call ResumePublish: the backend does.
			return "", fmt.Errorf("pubsub: publish to %q: not sent: an earlier message of its ordering key failed (the key resumes once the key's messages in flight then have their outcomes): %w", t.name, err)
		}
		return "", classify(err, fmt.Sprintf("publish to %q", t.name))
	}
	return id, nil
}

// unknownOutcome reports whether a failed publish may still have been
// stored by the server.
func unknownOutcome(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	s, ok := status.FromError(err)
	if !ok {
		return false
	}
	switch s.Code() {
	case codes.DeadlineExceeded, codes.Canceled, codes.Unknown, codes.Internal, codes.Unavailable, codes.Aborted:
		return true
	}
	return false
}
