package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/pullkit/broker"
)

// QueueConfig configures a queue consumer: a durable pull consumer with
// explicit acks.
type QueueConfig struct {
	// Subject is the consumer's filter subject (wildcards allowed), and,
	// when Stream is empty, how the stream is found: the stream capturing
	// it. Required unless Stream is set.
	Subject string

	// Stream is the stream to read. Default: the stream capturing Subject.
	Stream string

	// Consumer is the durable consumer's name: consumers opened with one
	// name compete for its messages, and it survives Close. Required.
	Consumer string

	// CreateStream creates a missing stream (named Stream, or after
	// Subject) capturing Subject. Default false: a missing stream is
	// broker.ErrNotFound.
	CreateStream bool

	// Bind uses the existing consumer as it is configured, never creating
	// or updating it; a missing one is broker.ErrNotFound, and one that
	// does not ack explicitly broker.ErrInvalidOption (for a log: one
	// that does not ack cumulatively, AckAll). Default false: the consumer
	// is created, or updated to this config.
	Bind bool

	// DeliverPolicy is where a new consumer starts. Default
	// jetstream.DeliverAllPolicy (the whole stream); DeliverNewPolicy
	// makes it receive only what is published after its creation.
	DeliverPolicy natsjs.DeliverPolicy

	// AckWait is how long the server waits for a settlement before it
	// redelivers. Default 30 s. Extend renews it (jetstream's in-progress),
	// within the AckWait the consumer really has (a bound one's own).
	AckWait time.Duration

	// MaxAckPending caps the messages delivered and not yet settled, across
	// all consumers of the name; the server stops delivering at the cap.
	// Default 1000.
	MaxAckPending int

	// MaxBatch is the most messages NextBatch returns. Default 100.
	MaxBatch int

	// Prefetch is how many messages one pull asks for and the client
	// buffers; they are nacked on Close. Default max(MaxBatch, 256). Keep
	// Prefetch well under what the application settles in AckWait, or
	// buffered messages expire and are redelivered.
	Prefetch int

	// Poison is the policy for messages that keep failing, mapped onto
	// MaxDeliver and Term: see the package doc. DeadLetterTopic, with
	// Action PoisonDeadLetter, is a subject the message is republished to
	// (a stream must capture it) before it is terminated.
	Poison broker.PoisonPolicy

	// CloseTimeout bounds Close's drain of the pull subscription and its
	// flush, and the dead-letter republish of the settlements that do not
	// wait (Nack, Reject) and of a Next call (there with its ctx too).
	// Default 5 s.
	CloseTimeout time.Duration

	// ConsumerConfig, if set, edits the consumer configuration built from
	// the fields above before it is created or updated: the last word on
	// everything (priority groups, sampling, metadata…).
	ConsumerConfig func(*natsjs.ConsumerConfig)

	// PullOptions are passed to nats.go's Consume after this package's
	// (PullExpiry, PullHeartbeat, PullMaxBytes…).
	PullOptions []natsjs.PullConsumeOpt
}

func (cfg QueueConfig) withDefaults() (QueueConfig, error) {
	common := consumerCommon{Stream: cfg.Stream, Subject: cfg.Subject, Name: cfg.Consumer, CreateStream: cfg.CreateStream}
	if err := common.validate("QueueConfig.Consumer"); err != nil {
		return cfg, err
	}
	if err := cfg.Poison.Validate(); err != nil {
		return cfg, err
	}
	if cfg.deadLetters() {
		if err := validateSubject(cfg.Poison.DeadLetterTopic, false); err != nil {
			return cfg, fmt.Errorf("Poison.DeadLetterTopic: %w", err)
		}
	}
	switch {
	case cfg.AckWait < 0, cfg.MaxAckPending < 0, cfg.MaxBatch < 0, cfg.Prefetch < 0, cfg.CloseTimeout < 0:
		return cfg, fmt.Errorf("%w: negative QueueConfig value", broker.ErrInvalidOption)
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.MaxAckPending == 0 {
		cfg.MaxAckPending = 1000
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 100
	}
	if cfg.Prefetch == 0 {
		cfg.Prefetch = max(cfg.MaxBatch, 256)
	}
	if cfg.CloseTimeout == 0 {
		cfg.CloseTimeout = 5 * time.Second
	}
	return cfg, nil
}

func (cfg QueueConfig) deadLetters() bool {
	return cfg.Poison.Action == broker.PoisonDeadLetter && cfg.Poison.DeadLetterTopic != ""
}

// consumerConfig is the JetStream consumer for cfg. With a dead-letter
// subject the server gets one delivery more than MaxDeliveries: the client
// dead-letters a message on its last nack, or on arrival past the limit
// (when its last delivery's ack wait expired), so none is dropped silently.
func (cfg QueueConfig) consumerConfig() natsjs.ConsumerConfig {
	cc := natsjs.ConsumerConfig{
		Durable:       cfg.Consumer,
		FilterSubject: cfg.Subject,
		AckPolicy:     natsjs.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxAckPending: cfg.MaxAckPending,
		DeliverPolicy: cfg.DeliverPolicy,
		MaxDeliver:    -1,
	}
	if n := cfg.Poison.MaxDeliveries; n > 0 {
		cc.MaxDeliver = n
		if cfg.deadLetters() {
			cc.MaxDeliver = n + 1
		}
	}
	if cfg.ConsumerConfig != nil {
		cfg.ConsumerConfig(&cc)
	}
	return cc
}

// QueueConsumer reads a durable JetStream pull consumer with explicit
// acks. It implements broker.MessageIterator and
// broker.BatchedMessageIterator; NextMessage and NextBatch may be called
// concurrently. Several QueueConsumers of one durable consumer compete for
// its messages.
type QueueConsumer struct {
	c      *Client
	cfg    QueueConfig
	stream string
	cons   natsjs.Consumer
	p      *puller

	mu     sync.Mutex
	closed bool
	out    map[*delivery]struct{} // handed out, unsettled

	errMu    sync.Mutex
	asyncErr error // first failed fire-and-forget settlement
}

var (
	_ broker.MessageIterator        = (*QueueConsumer)(nil)
	_ broker.BatchedMessageIterator = (*QueueConsumer)(nil)
)

// Subscribe opens a queue consumer as cfg says and starts pulling. It
// fails with broker.ErrInvalidTopic or broker.ErrInvalidOption for a bad
// cfg and broker.ErrNotFound for a missing stream (without CreateStream)
// or consumer (with Bind).
func (c *Client) Subscribe(ctx context.Context, cfg QueueConfig) (*QueueConsumer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	stream, err := c.resolveStream(ctx, cfg.Stream, cfg.Subject, cfg.CreateStream)
	if err != nil {
		return nil, err
	}
	cons, err := c.openConsumer(ctx, stream, cfg.consumerConfig(), cfg.Bind)
	if err != nil {
		return nil, err
	}
	if err := checkAckPolicy(cons, natsjs.AckExplicitPolicy, "queue"); err != nil {
		return nil, err
	}
	// The server applies the consumer's AckWait, which Bind or the
	// ConsumerConfig hook may have set otherwise: Extend renews within it.
	if info := cons.CachedInfo(); info != nil && info.Config.AckWait > 0 {
		cfg.AckWait = info.Config.AckWait
	}
	q := &QueueConsumer{c: c, cfg: cfg, stream: stream, cons: cons, out: map[*delivery]struct{}{}}
	if q.p, err = startPuller(c.nc, cons, cfg.Prefetch, cfg.PullOptions); err != nil {
		return nil, fmt.Errorf("jetstream: consume %q of stream %q: %w", cfg.Consumer, stream, err)
	}
	return q, nil
}

// Consumer returns the nats.go consumer, for its Info and CachedInfo.
func (q *QueueConsumer) Consumer() natsjs.Consumer { return q.cons }

// NextMessage returns the next message, waiting until one arrives, ctx
// ends (ctx's error), the consumer is closed (broker.ErrClosed) or the
// server deleted the consumer (broker.ErrNotFound). A canceled call
// takes nothing: the message stays buffered for the next call. The
// message must be settled.
func (q *QueueConsumer) NextMessage(ctx context.Context) (broker.Message, error) {
	for {
		m, err := q.take(ctx)
		if err != nil {
			return broker.Message{}, err
		}
		d, msg, ok := q.wrap(ctx, m, time.Now())
		if !ok {
			continue
		}
		if err := q.register(d); err != nil {
			return broker.Message{}, err
		}
		return msg, nil
	}
}

// NextBatch returns between 1 and MaxBatch messages: it waits like
// NextMessage for the first, then adds what is already buffered, without
// waiting to fill the batch. The slice is the caller's.
func (q *QueueConsumer) NextBatch(ctx context.Context) ([]broker.Message, error) {
	for {
		m, err := q.take(ctx)
		if err != nil {
			return nil, err
		}
		now := time.Now()
		batch := make([]broker.Message, 0, min(q.cfg.MaxBatch, 1+len(q.p.buf)))
		ds := make([]*delivery, 0, cap(batch))
		for {
			if d, msg, ok := q.wrap(ctx, m, now); ok {
				batch = append(batch, msg)
				ds = append(ds, d)
			}
			if len(batch) == q.cfg.MaxBatch {
				break
			}
			var more bool
			if m, more = q.p.tryNext(); !more {
				break
			}
		}
		if len(batch) == 0 {
			continue
		}
		if err := q.register(ds...); err != nil {
			return nil, err
		}
		return batch, nil
	}
}

func (q *QueueConsumer) take(ctx context.Context) (natsjs.Msg, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q.mu.Lock()
	closed := q.closed
	q.mu.Unlock()
	if closed {
		return nil, closedError("queue consumer")
	}
	m, err := q.p.next(ctx)
	if errors.Is(err, errStopped) {
		return nil, closedError("queue consumer")
	}
	return m, err
}

// register records handed-out deliveries, so Close can nack them; on a
// closed consumer it nacks them at once.
func (q *QueueConsumer) register(ds ...*delivery) error {
	q.mu.Lock()
	if !q.closed {
		for _, d := range ds {
			q.out[d] = struct{}{}
		}
		q.mu.Unlock()
		return nil
	}
	q.mu.Unlock()
	for _, d := range ds {
		d.release()
	}
	return closedError("queue consumer")
}

func (q *QueueConsumer) forget(d *delivery) {
	q.mu.Lock()
	delete(q.out, d)
	q.mu.Unlock()
}

// wrap turns a JetStream message into a broker.Message. It returns false
// for a message that must not be handed out: past MaxDeliveries with a
// dead-letter subject (it is dead-lettered here), or one without
// JetStream metadata (terminated).
func (q *QueueConsumer) wrap(ctx context.Context, m natsjs.Msg, now time.Time) (*delivery, broker.Message, bool) {
	md, err := metadataOf(m)
	if err != nil {
		_ = m.Term()
		return nil, broker.Message{}, false
	}
	d := &delivery{q: q, msg: m, seq: md.streamSeq, count: int(md.delivered)}
	d.Settler.Init(d)
	if q.cfg.deadLetters() && q.cfg.Poison.Exceeded(d.count) {
		if d.state.CompareAndSwap(live, settled) {
			// Bounded by the caller's ctx too: this runs inside a Next
			// call. A republish cut short by it nacks the message, which
			// comes back to be dead-lettered again: nothing to report.
			dctx, cancel := context.WithTimeout(ctx, q.cfg.CloseTimeout)
			err := q.deadLetter(dctx, d, "max deliveries exceeded", false)
			cancel()
			if ctx.Err() == nil {
				q.recordErr(err)
			}
		}
		return nil, broker.Message{}, false
	}
	key, attrs := decodeHeaders(m.Headers())
	return d, broker.Message{
		ID:            strconv.FormatUint(d.seq, 10),
		Key:           key,
		Data:          m.Data(),
		Attributes:    attrs,
		PublishTime:   md.timestamp,
		IngestionTime: now,
		DeliveryCount: d.count,
		Settler:       &d.Settler,
	}, true
}

// Delivery states.
const (
	live     uint32 = iota
	settled         // the application settled it
	released        // Close nacked it
)

// delivery is one handed-out message: its Settler, the native message and
// what its settlement needs.
type delivery struct {
	broker.Settler
	q     *QueueConsumer
	msg   natsjs.Msg
	seq   uint64
	count int
	state atomic.Uint32

	// extMu guards ext, the state of an extension past AckWait (rare, so
	// allocated on first use).
	extMu sync.Mutex
	ext   *extension
}

type extension struct {
	timer *time.Timer
	until time.Time
}

// Settle implements broker.SettleHandler.
func (d *delivery) Settle(ctx context.Context, s broker.Settlement) error {
	if !d.state.CompareAndSwap(live, settled) {
		return fmt.Errorf("%w: message %d was nacked when its consumer closed", broker.ErrClosed, d.seq)
	}
	d.q.forget(d)
	d.stopExtending()
	q := d.q
	var err error
	switch s.Kind {
	case broker.SettleAck:
		if s.NoWait {
			err = d.msg.Ack()
		} else {
			err = d.msg.DoubleAck(ctx)
		}
	case broker.SettleNack:
		if q.cfg.deadLetters() && q.cfg.Poison.MaxDeliveries > 0 && d.count >= q.cfg.Poison.MaxDeliveries {
			err = q.deadLetter(ctx, d, "max deliveries reached", s.NoWait)
			break
		}
		delay := s.Delay
		if delay <= 0 {
			delay = q.cfg.Poison.NackDelay
		}
		if delay > 0 {
			err = d.msg.NakWithDelay(delay)
		} else {
			err = d.msg.Nak()
		}
		if err == nil && !s.NoWait {
			err = q.c.flush(ctx)
		}
	case broker.SettleReject:
		if q.cfg.deadLetters() {
			err = q.deadLetter(ctx, d, s.Reason, s.NoWait)
			break
		}
		err = d.term(s.Reason)
		if err == nil && !s.NoWait {
			err = q.c.flush(ctx)
		}
	}
	if err != nil {
		err = fmt.Errorf("jetstream: %v message %d: %w", s.Kind, d.seq, mapErr(err))
		if s.NoWait {
			q.recordErr(err)
		}
	}
	return err
}

func (d *delivery) term(reason string) error {
	if reason != "" {
		return d.msg.TermWithReason(reason)
	}
	return d.msg.Term()
}

// Extend implements broker.SettleHandler: it sends an in-progress
// acknowledgement, which restarts the message's AckWait, and waits until
// the server has it. For d longer than AckWait it keeps sending one every
// AckWait/2 until d has passed or the message is settled.
func (d *delivery) Extend(ctx context.Context, dur time.Duration) error {
	if d.state.Load() == released {
		return fmt.Errorf("%w: message %d was nacked when its consumer closed", broker.ErrClosed, d.seq)
	}
	if err := d.msg.InProgress(); err != nil {
		return fmt.Errorf("jetstream: extend message %d: %w", d.seq, mapErr(err))
	}
	if err := d.q.c.flush(ctx); err != nil {
		return fmt.Errorf("jetstream: extend message %d: %w", d.seq, err)
	}
	ackWait := d.q.cfg.AckWait
	if dur <= ackWait {
		return nil
	}
	d.extMu.Lock()
	defer d.extMu.Unlock()
	if d.ext == nil {
		d.ext = &extension{}
	}
	if until := time.Now().Add(dur); until.After(d.ext.until) {
		d.ext.until = until
	}
	if d.ext.timer == nil && d.state.Load() == live {
		d.ext.timer = time.AfterFunc(ackWait/2, d.renew)
	}
	return nil
}

// renew runs on a timer while an extension lasts.
func (d *delivery) renew() {
	d.extMu.Lock()
	defer d.extMu.Unlock()
	if d.ext == nil || d.ext.timer == nil || d.state.Load() != live {
		return
	}
	ackWait := d.q.cfg.AckWait
	// The lease just sent lasts until now+AckWait; renew again if the
	// extension reaches beyond it.
	if err := d.msg.InProgress(); err != nil || !time.Now().Add(ackWait).Before(d.ext.until) {
		d.ext.timer = nil
		return
	}
	d.ext.timer.Reset(ackWait / 2)
}

func (d *delivery) stopExtending() {
	d.extMu.Lock()
	if d.ext != nil && d.ext.timer != nil {
		d.ext.timer.Stop()
		d.ext.timer = nil
	}
	d.extMu.Unlock()
}

// release nacks a delivery on Close, unless the application settled it.
func (d *delivery) release() {
	if d.state.CompareAndSwap(live, released) {
		d.stopExtending()
		_ = d.msg.Nak()
	}
}

// deadLetter republishes the message to the dead-letter subject, waiting
// for the PubAck, then terminates it. If the republish fails the message
// is nacked instead (it comes back), and the error returned.
func (q *QueueConsumer) deadLetter(ctx context.Context, d *delivery, reason string, noWait bool) error {
	if noWait {
		// Ack, Nack and Reject do not take a context; bound the republish.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), q.cfg.CloseTimeout)
		defer cancel()
	}
	h := nats.Header{}
	for k, vs := range d.msg.Headers() {
		// Expectations were about the original stream, and would fail here.
		if strings.HasPrefix(k, "Nats-Expected") {
			continue
		}
		h[k] = vs
	}
	if reason == "" {
		reason = "rejected"
	}
	h.Set(deadReasonHeader, strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, reason))
	h.Set(deadSubjectHeader, d.msg.Subject())
	h.Set(deadSequenceHeader, strconv.FormatUint(d.seq, 10))
	dlq := q.cfg.Poison.DeadLetterTopic
	if _, err := q.c.js.PublishMsg(ctx, &nats.Msg{Subject: dlq, Header: h, Data: d.msg.Data()}); err != nil {
		_ = d.msg.Nak()
		return fmt.Errorf("jetstream: dead-letter message %d to %q (nacked instead): %w", d.seq, dlq, mapErr(err))
	}
	if err := d.term(reason); err != nil {
		return err
	}
	if noWait {
		return nil
	}
	return q.c.flush(ctx)
}

func (q *QueueConsumer) recordErr(err error) {
	if err == nil {
		return
	}
	q.errMu.Lock()
	if q.asyncErr == nil {
		q.asyncErr = err
	}
	q.errMu.Unlock()
}

// Close stops the consumer, in order: (1) later and waiting calls return
// broker.ErrClosed; (2) the pull subscription is drained, so nothing more
// is delivered to this consumer; (3) every message handed out and still
// unsettled is nacked (settling it afterwards returns broker.ErrClosed),
// then every message pulled but never handed out; (4) the connection is flushed, so the acks and nacks sent reach
// the server before Close returns. Steps 2 and 4 wait at most
// CloseTimeout each. The durable consumer stays on the server. Close
// returns the first failure of a fire-and-forget settlement (Ack, Nack,
// Reject), if any. It is idempotent.
func (q *QueueConsumer) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	out := q.out
	q.out = nil
	q.mu.Unlock()

	// Stop pulling before nacking: a nack while the pull subscription is
	// open would be redelivered into it, counting a delivery nobody saw.
	rest := q.p.stop(q.cfg.CloseTimeout)
	for d := range out {
		d.release()
	}
	for _, m := range rest {
		_ = m.Nak()
	}
	ctx, cancel := context.WithTimeout(context.Background(), q.cfg.CloseTimeout)
	defer cancel()
	var flushErr error
	if !q.c.nc.IsClosed() {
		flushErr = q.c.flush(ctx)
	}
	q.errMu.Lock()
	defer q.errMu.Unlock()
	if q.asyncErr != nil {
		return q.asyncErr
	}
	if flushErr != nil {
		return fmt.Errorf("jetstream: close: flushing settlements: %w", flushErr)
	}
	return nil
}
