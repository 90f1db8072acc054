package pulsar

import (
	"context"
	"errors"
	"fmt"
	"sync"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/pullkit/broker"
)

// Publisher publishes to Pulsar topics. It keeps one batching producer per
// topic, created by the first Topic call for it. It is safe for concurrent use.
type Publisher struct {
	client *Client
	cfg    PublisherConfig

	mu        sync.Mutex
	closed    bool
	producers map[string]*topicProducer
}

var _ broker.Publisher = (*Publisher)(nil)

type topicProducer struct {
	p    *Publisher
	name string
	prod pc.Producer
}

var _ broker.Topic = (*topicProducer)(nil)

// Publisher returns a publisher. A bad cfg fails with broker.ErrInvalidOption,
// a closed client with broker.ErrClosed.
func (c *Client) Publisher(cfg PublisherConfig) (*Publisher, error) {
	if cfg.MaxMessageSize < 0 || cfg.BatchingMaxPublishDelay < 0 || cfg.SendTimeout < 0 {
		return nil, fmt.Errorf("%w: negative PublisherConfig value", broker.ErrInvalidOption)
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	p := &Publisher{client: c, cfg: cfg, producers: make(map[string]*topicProducer)}
	if err := c.track(p); err != nil {
		return nil, err
	}
	return p, nil
}

// Topic returns the handle of topic name, creating its producer on first use:
// a round trip to the broker that blocks up to Config.OperationTimeout. Names
// are checked as Pulsar parses them (broker.ErrInvalidTopic); a closed
// publisher fails with broker.ErrClosed.
func (p *Publisher) Topic(name string) (broker.Topic, error) {
	if err := validateTopic(name); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("%w: publisher", broker.ErrClosed)
	}
	if t, ok := p.producers[name]; ok {
		return t, nil
	}
	o := pc.ProducerOptions{
		Topic:                   name,
		BatchingMaxPublishDelay: p.cfg.BatchingMaxPublishDelay,
		SendTimeout:             p.cfg.SendTimeout,
	}
	if p.cfg.KeyBasedBatching {
		o.BatcherBuilderType = pc.KeyBasedBatchBuilder
	}
	if p.cfg.ProducerOptions != nil {
		p.cfg.ProducerOptions(&o)
	}
	// Creating the producer under p.mu serialises creations, and a Close
	// waits for one in progress rather than leave it open.
	prod, err := p.client.native.CreateProducer(o)
	if err != nil {
		return nil, classify(fmt.Sprintf("create producer for %q", name), err)
	}
	t := &topicProducer{p: p, name: name, prod: prod}
	p.producers[name] = t
	return t, nil
}

// Close flushes every producer (waiting for the broker's receipts of what
// was accepted) and closes them; later calls fail with broker.ErrClosed.
// It is idempotent.
func (p *Publisher) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	prods := p.producers
	p.producers = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, t := range prods {
		// pulsar Producer.Close flushes and waits for pending sends.
		wg.Go(t.prod.Close)
	}
	wg.Wait()
	p.client.untrack(p)
	return nil
}

func (p *Publisher) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// outbound checks msg and converts it to a producer message.
func (t *topicProducer) outbound(msg broker.OutboundMessage) (*pc.ProducerMessage, error) {
	if err := broker.ValidateOutbound(msg); err != nil {
		return nil, err
	}
	props, size, err := toProperties(msg.Attributes)
	if err != nil {
		return nil, err
	}
	size += len(msg.Data) + len(msg.Key)
	if size > t.p.cfg.MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes (payload, key and attributes) on %q, max %d",
			broker.ErrMessageTooLarge, size, t.name, t.p.cfg.MaxMessageSize)
	}
	return &pc.ProducerMessage{Payload: msg.Data, Key: msg.Key, Properties: props}, nil
}

// Publish sends msg and waits for the broker's receipt, ctx's end (an
// error matching ctx.Err(); the message may or may not have been stored)
// or a failure. An invalid message is refused before anything is sent.
func (t *topicProducer) Publish(ctx context.Context, msg broker.OutboundMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	pm, err := t.outbound(msg)
	if err != nil {
		return err
	}
	if t.p.isClosed() {
		return fmt.Errorf("%w: publisher", broker.ErrClosed)
	}
	_, err = t.prod.Send(ctx, pm)
	return classify(fmt.Sprintf("publish to %q", t.name), err)
}

type sendResult struct {
	i   int
	err error
}

// BatchPublish hands every message to the producer (SendAsync), flushes,
// and waits for each receipt. If any message is invalid none is sent. When
// not all were confirmed it returns a *broker.BatchError: failed messages
// were refused by the client or the broker; unknown ones were handed over
// but ctx ended before their receipt came.
func (t *topicProducer) BatchPublish(ctx context.Context, msgs ...broker.OutboundMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	pms := make([]*pc.ProducerMessage, len(msgs))
	var invalid *broker.BatchError
	for i, m := range msgs {
		pm, err := t.outbound(m)
		if err != nil {
			if invalid == nil {
				invalid = broker.NewBatchError(len(msgs))
			}
			invalid.Fail(i, err)
		}
		pms[i] = pm
	}
	if invalid != nil {
		for i := range msgs {
			if invalid.Errs[i] == nil {
				invalid.Fail(i, errors.New("not sent: another message of the batch is invalid"))
			}
		}
		return invalid
	}
	be := broker.NewBatchError(len(msgs))
	if t.p.isClosed() {
		for i := range msgs {
			be.Fail(i, fmt.Errorf("%w: publisher", broker.ErrClosed))
		}
		return be
	}
	// Buffered for every callback, so a callback never blocks the client,
	// even after this call returned on ctx's end.
	results := make(chan sendResult, len(msgs))
	got := make([]bool, len(msgs))
	handed := 0
	for i, pm := range pms {
		if err := ctx.Err(); err != nil {
			// Never handed over: certainly not published.
			for j := i; j < len(msgs); j++ {
				be.Fail(j, err)
				got[j] = true
			}
			break
		}
		t.prod.SendAsync(ctx, pm, func(_ pc.MessageID, _ *pc.ProducerMessage, err error) {
			results <- sendResult{i, err}
		})
		handed++
	}
	// The client would send the last partial batch after its batching
	// delay; flushing sends it now. Its error is the messages' own.
	if handed > 0 {
		_ = t.prod.FlushWithCtx(ctx)
	}
	record := func(r sendResult) {
		got[r.i] = true
		switch {
		case r.err == nil:
		case errors.Is(r.err, context.Canceled) || errors.Is(r.err, context.DeadlineExceeded):
			be.Unknown(r.i, r.err)
		default:
			be.Fail(r.i, classify(fmt.Sprintf("publish to %q", t.name), r.err))
		}
	}
	for n := 0; n < handed; n++ {
		select {
		case r := <-results:
			record(r)
		case <-ctx.Done():
			// Take the receipts that came meanwhile; the rest are unknown.
			for drained := false; !drained; {
				select {
				case r := <-results:
					record(r)
				default:
					drained = true
				}
			}
			for i := range got {
				if !got[i] {
					be.Unknown(i, ctx.Err())
				}
			}
			return be
		}
	}
	return be.OrNil()
}
