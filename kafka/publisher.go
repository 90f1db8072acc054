package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pullkit/broker"
)

// Publisher publishes to Kafka topics through one franz-go client, which
// batches records per partition (no goroutine per message).
type Publisher struct {
	cl      *kgo.Client
	maxSize int
	closed  atomic.Bool
	once    sync.Once

	// txn is set for a TransactionalPublisher: publishing needs an open
	// transaction.
	txn *TransactionalPublisher
}

var _ broker.Publisher = (*Publisher)(nil)

// NewPublisher connects to the cluster (checking it answers before ctx
// ends) and returns a Publisher. Producing is idempotent unless
// cfg.DisableIdempotence. The client's goroutines stop at Close.
func NewPublisher(ctx context.Context, cfg Config) (*Publisher, error) {
	return newPublisher(ctx, cfg, nil)
}

func newPublisher(ctx context.Context, cfg Config, extra []kgo.Opt) (*Publisher, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	opts := cfg.kgoOpts()
	// The batch cap must fit the largest record we accept plus the
	// record and batch overhead, or franz-go refuses records we let through.
	opts = append(opts,
		kgo.ProducerBatchMaxBytes(int32(cfg.maxMessageBytes()+4096)),
		// Unknown topics are not created by producing (auto-creation is a
		// broker setting; this client never asks for it), and fail after
		// a few metadata refreshes rather than being retried for good.
		kgo.UnknownTopicRetries(2),
	)
	if cfg.DisableIdempotence {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	opts = append(opts, extra...)
	opts = append(opts, cfg.Opts...)
	cl, err := newClient(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	return &Publisher{cl: cl, maxSize: cfg.maxMessageBytes()}, nil
}

// Topic returns a handle that publishes to name. Names must be 1 to 249
// characters of ASCII letters, digits, '.', '_' and '-' (Kafka's rule);
// others are broker.ErrInvalidTopic. The topic must exist unless the broker
// creates topics on first use; an unknown topic fails Publish with
// broker.ErrNotFound.
func (p *Publisher) Topic(name string) (broker.Topic, error) {
	if err := validateTopic(name); err != nil {
		return nil, err
	}
	if p.closed.Load() {
		return nil, fmt.Errorf("kafka: topic %q: %w", name, broker.ErrClosed)
	}
	return &topic{p: p, name: name}, nil
}

// Client returns the underlying franz-go client, for what this package does
// not cover. Do not close it; Close the Publisher.
func (p *Publisher) Client() *kgo.Client { return p.cl }

// Close flushes every record accepted for publishing (for at most
// DefaultCloseTimeout), then closes the client. It is idempotent; later
// publishes fail with broker.ErrClosed.
func (p *Publisher) Close() error {
	var err error
	p.once.Do(func() {
		p.closed.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), DefaultCloseTimeout)
		defer cancel()
		if p.txn != nil {
			p.txn.closeLocked(ctx)
		}
		if ferr := p.cl.Flush(ctx); ferr != nil {
			err = classify(ctx, "close: flush", ferr)
		}
		p.cl.Close()
	})
	return err
}

func validateTopic(name string) error {
	if err := broker.ValidateTopicName(name); err != nil {
		return err
	}
	if len(name) > 249 {
		return fmt.Errorf("%w: %d characters, Kafka allows 249", broker.ErrInvalidTopic, len(name))
	}
	if name == "." || name == ".." {
		return fmt.Errorf("%w: %q", broker.ErrInvalidTopic, name)
	}
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return fmt.Errorf("%w: %q has %q; Kafka allows letters, digits, '.', '_' and '-'", broker.ErrInvalidTopic, name, c)
		}
	}
	return nil
}

type topic struct {
	p    *Publisher
	name string
}

// build validates msg and fills r; nothing is sent if it fails. hc
// caches the headers of the previous message: a batch whose messages share
// one attribute map (a common way to build one) encodes it once, and its
// records share the header slice, which franz-go only reads.
func (t *topic) build(r *kgo.Record, msg broker.OutboundMessage, hc *headerCache) error {
	var err error
	if hc != nil && hc.same(msg.Attributes) {
		r.Headers = hc.headers
	} else {
		if r.Headers, err = encodeAttributes(msg.Attributes); err != nil {
			return err
		}
		if hc != nil {
			hc.set(msg.Attributes, r.Headers)
		}
	}
	r.Topic = t.name
	if msg.Key != "" {
		r.Key = bytesOf(msg.Key)
	}
	r.Value = msg.Data
	if size := len(r.Key) + len(r.Value) + headerBytes(r.Headers); size > t.p.maxSize {
		return fmt.Errorf("%w: key, value and headers take %d bytes, the limit is %d (Config.MaxMessageBytes)", broker.ErrMessageTooLarge, size, t.p.maxSize)
	}
	return nil
}

func (t *topic) ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if t.p.closed.Load() {
		return fmt.Errorf("kafka: publish to %q: %w", t.name, broker.ErrClosed)
	}
	if t.p.txn != nil {
		return t.p.txn.inTxn()
	}
	return nil
}

// Publish sends one record and waits for the broker's acknowledgement
// (acks=all), or for ctx to end: then the outcome is unknown and the error
// matches ctx.Err().
func (t *topic) Publish(ctx context.Context, msg broker.OutboundMessage) error {
	if err := t.ready(ctx); err != nil {
		return err
	}
	r := new(kgo.Record)
	if err := t.build(r, msg, nil); err != nil {
		return fmt.Errorf("kafka: publish to %q: %w", t.name, err)
	}
	done := make(chan error, 1)
	fctx, stopFlush := context.WithCancel(ctx)
	defer stopFlush()
	t.p.cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
		done <- err
		stopFlush()
	})
	// Flush ends franz-go's linger for what is buffered; it returns when
	// the record's promise ran (stopFlush) or ctx ended.
	_ = t.p.cl.Flush(fctx)
	select {
	case err := <-done:
		if err != nil && t.p.txn != nil {
			t.p.txn.failed.Store(true)
		}
		return classify(ctx, "publish to "+t.name, err)
	case <-ctx.Done():
		return fmt.Errorf("kafka: publish to %q: outcome unknown: %w", t.name, ctx.Err())
	}
}

// batch tracks the promises of one BatchPublish.
type batch struct {
	recs []kgo.Record
	mu   sync.Mutex
	be   *broker.BatchError
	fin  []bool // fin[i]: record i's promise ran
	left int
	done chan struct{}
	// stopFlush ends the BatchPublish's Flush once every promise ran.
	stopFlush context.CancelFunc
	// abandoned is set when BatchPublish returned on ctx: later promises
	// must not touch be, which the caller now owns.
	abandoned bool
}

// promise records one record's outcome; the record's index is its place
// in recs (one allocation for the batch instead of a closure per record).
func (b *batch) promise(r *kgo.Record, err error) {
	i := int((uintptr(unsafe.Pointer(r)) - uintptr(unsafe.Pointer(&b.recs[0]))) / unsafe.Sizeof(kgo.Record{}))
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.abandoned {
		return
	}
	if err != nil {
		if ambiguous(err) {
			b.be.Unknown(i, err)
		} else {
			b.be.Fail(i, err)
		}
	}
	b.fin[i] = true
	b.left--
	if b.left == 0 {
		close(b.done)
		b.stopFlush()
	}
}

// ambiguous reports a produce error after which the record may or may not
// have been written.
func ambiguous(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return false // the broker answered: it refused the record
	}
	switch {
	case errors.Is(err, kgo.ErrMaxBuffered), errors.Is(err, kgo.ErrAborting),
		errors.Is(err, kgo.ErrClientClosed):
		return false
	}
	return true // timeouts, retries exhausted, ctx: possibly written
}

// BatchPublish validates every message first and sends none if one is
// invalid or too large. Otherwise it hands all records to franz-go at once
// (they are batched per partition) and waits for every acknowledgement or
// ctx's end. The returned *broker.BatchError says per message: sent,
// failed (the broker refused it, or it was never sent) or unknown (no
// answer before ctx ended or a retry limit passed).
func (t *topic) BatchPublish(ctx context.Context, msgs ...broker.OutboundMessage) error {
	if err := t.ready(ctx); err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	b := &batch{recs: make([]kgo.Record, len(msgs)), fin: make([]bool, len(msgs)), left: len(msgs), done: make(chan struct{})}
	var (
		bad *broker.BatchError
		hc  headerCache
	)
	for i, m := range msgs {
		if err := t.build(&b.recs[i], m, &hc); err != nil {
			if bad == nil {
				bad = broker.NewBatchError(len(msgs))
			}
			bad.Fail(i, fmt.Errorf("kafka: publish to %q: %w", t.name, err))
		}
	}
	if bad != nil {
		for i := range msgs {
			if bad.Status[i] == broker.PublishSent {
				bad.Fail(i, errors.New("not sent: another message of the batch is invalid"))
			}
		}
		return bad
	}
	b.be = broker.NewBatchError(len(msgs))
	fctx, stopFlush := context.WithCancel(ctx)
	defer stopFlush()
	b.stopFlush = stopFlush
	for i := range b.recs {
		t.p.cl.Produce(ctx, &b.recs[i], b.promise)
	}
	// The records linger until Flush, so franz-go sends them in as few
	// requests as it can; Flush returns when the last promise ran
	// (stopFlush) or ctx ended.
	_ = t.p.cl.Flush(fctx)
	select {
	case <-b.done:
	case <-ctx.Done():
		b.mu.Lock()
		if b.left > 0 {
			// The caller gets be now: later promises must not touch it.
			b.abandoned = true
			err := fmt.Errorf("kafka: publish to %q: no acknowledgement before ctx ended: %w", t.name, ctx.Err())
			for i, fin := range b.fin {
				if !fin {
					b.be.Unknown(i, err)
				}
			}
		}
		b.mu.Unlock()
	}
	for i, err := range b.be.Errs {
		if err != nil {
			if t.p.txn != nil {
				t.p.txn.failed.Store(true)
			}
			b.be.Errs[i] = classify(ctx, "publish to "+t.name, err)
		}
	}
	return b.be.OrNil()
}

// headerCache remembers the headers encoded for one attribute map.
type headerCache struct {
	attrs   unsafe.Pointer // the map's identity
	headers []kgo.RecordHeader
}

func mapID(m map[string]any) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&m)) }

func (c *headerCache) same(m map[string]any) bool {
	return c.attrs != nil && len(m) > 0 && mapID(m) == c.attrs
}

func (c *headerCache) set(m map[string]any, hs []kgo.RecordHeader) {
	if len(m) == 0 {
		c.attrs, c.headers = nil, nil
		return
	}
	c.attrs, c.headers = mapID(m), hs
}
