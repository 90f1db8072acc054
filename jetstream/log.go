package jetstream

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/pullkit/broker"
)

// LogConfig configures a log consumer: a durable pull consumer with
// cumulative acks (AckAll), read as one partition.
type LogConfig struct {
	// Subject, Stream, CreateStream and Bind are as in QueueConfig.
	Subject      string
	Stream       string
	CreateStream bool
	Bind         bool

	// Group is the durable consumer's name; its ack floor is the group's
	// committed offset. Required. Run one LogConsumer per group at a time:
	// two would split the records between them, out of order.
	Group string

	// DeliverPolicy is where a new group starts. Default
	// jetstream.DeliverAllPolicy: the first record of the stream.
	DeliverPolicy natsjs.DeliverPolicy

	// AckWait is how long the server waits for a commit covering a
	// delivered record before it redelivers it. The consumer drops such
	// redeliveries of records it already handed out (order is kept; they
	// are replayed after a restart if never committed), so a long AckWait
	// only saves traffic. Default 30 s.
	AckWait time.Duration

	// MaxAckPending caps records delivered and not yet committed; the
	// server stops delivering at the cap, so commit at least that often.
	// Default 10000.
	MaxAckPending int

	// MaxBatch is the most records NextBatch returns. Default 100.
	MaxBatch int

	// Prefetch is as in QueueConfig. Default max(MaxBatch, 256).
	Prefetch int

	// CloseTimeout, ConsumerConfig and PullOptions are as in QueueConfig.
	CloseTimeout   time.Duration
	ConsumerConfig func(*natsjs.ConsumerConfig)
	PullOptions    []natsjs.PullConsumeOpt
}

func (cfg LogConfig) withDefaults() (LogConfig, error) {
	common := consumerCommon{Stream: cfg.Stream, Subject: cfg.Subject, Name: cfg.Group, CreateStream: cfg.CreateStream}
	if err := common.validate("LogConfig.Group"); err != nil {
		return cfg, err
	}
	switch {
	case cfg.AckWait < 0, cfg.MaxAckPending < 0, cfg.MaxBatch < 0, cfg.Prefetch < 0, cfg.CloseTimeout < 0:
		return cfg, fmt.Errorf("%w: negative LogConfig value", broker.ErrInvalidOption)
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.MaxAckPending == 0 {
		cfg.MaxAckPending = 10000
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

func (cfg LogConfig) consumerConfig() natsjs.ConsumerConfig {
	cc := natsjs.ConsumerConfig{
		Durable:       cfg.Group,
		FilterSubject: cfg.Subject,
		AckPolicy:     natsjs.AckAllPolicy,
		AckWait:       cfg.AckWait,
		MaxAckPending: cfg.MaxAckPending,
		DeliverPolicy: cfg.DeliverPolicy,
		MaxDeliver:    -1,
	}
	if cfg.ConsumerConfig != nil {
		cfg.ConsumerConfig(&cc)
	}
	return cc
}

// LogConsumer reads a stream as a log: records in stream order, Offset
// the stream sequence, all in Partition 0, and Ack commits cumulatively
// (JetStream AckAll). It implements broker.RecordIterator and
// broker.BatchedIterator; calls must not be concurrent.
type LogConsumer struct {
	c      *Client
	cfg    LogConfig
	stream string
	cons   natsjs.Consumer
	p      *puller // swapped by resync under mu; Close reads it under mu

	// closing ends when Close begins, so a resync waiting on the server
	// gives up; resyncMu is held by resync, so Close can wait it out.
	closing  context.Context
	endClose context.CancelFunc
	resyncMu sync.Mutex

	// Touched only by the (non-concurrent) Next calls.
	lastDelivery uint64 // consumer sequence of the last delivery seen
	// anchored: lastDelivery is known, even at 0 (a reset consumer numbers
	// its deliveries from 1); otherwise the first delivery sets it.
	anchored   bool
	needResync bool // a delivery was lost in flight: reset before reading on

	mu        sync.Mutex
	closed    bool
	highest   uint64            // highest sequence handed out
	committed uint64            // highest sequence acked
	epoch     uint32            // resets done by resync
	handed    []*recordDelivery // handed out, ascending; trimmed at committed

	errMu    sync.Mutex
	asyncErr error
}

var (
	_ broker.RecordIterator  = (*LogConsumer)(nil)
	_ broker.BatchedIterator = (*LogConsumer)(nil)
)

// JoinLog opens a log consumer as cfg says and starts pulling. A group
// that committed nothing starts at the beginning of the stream (or as
// DeliverPolicy says); a reopened group resumes after its last commit.
// Errors are Subscribe's.
func (c *Client) JoinLog(ctx context.Context, cfg LogConfig) (*LogConsumer, error) {
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
	if err := checkAckPolicy(cons, natsjs.AckAllPolicy, "log"); err != nil {
		return nil, err
	}
	reset, err := c.rewind(ctx, stream, cfg.Group)
	if err != nil {
		return nil, err
	}
	l := &LogConsumer{c: c, cfg: cfg, stream: stream, cons: cons, anchored: reset}
	l.closing, l.endClose = context.WithCancel(context.Background())
	if l.p, err = startPuller(c.nc, cons, cfg.Prefetch, cfg.PullOptions); err != nil {
		return nil, fmt.Errorf("jetstream: consume %q of stream %q: %w", cfg.Group, stream, err)
	}
	return l, nil
}

// rewind resets the group's consumer to its ack floor, so it delivers
// again, in stream order, every record after the last commit: what a
// previous consumer of the group read without committing (whether it
// closed or crashed) is replayed at once and in order. Servers without the
// reset API (older releases) answer "bad request"; there the replay relies
// on the nacks Close sends, whose redelivery order the server does not
// guarantee, and on AckWait after a crash. Any other failure fails the
// join: reading on without the rewind would hand out records published
// after a crashed consumer's uncommitted ones, which the server redelivers
// only after AckWait, and a commit of those would cover them unread.
// It reports whether the consumer was reset.
func (c *Client) rewind(ctx context.Context, stream, group string) (bool, error) {
	_, err := c.js.ResetConsumer(ctx, stream, group)
	var apiErr *natsjs.APIError
	switch {
	case err == nil:
		return true, nil
	case ctx.Err() != nil:
		return false, ctx.Err()
	case errors.As(err, &apiErr) && apiErr.ErrorCode == natsjs.JSErrCodeBadRequest:
		return false, nil // an old server without the reset API
	case transient(err) && !errors.Is(mapErr(err), broker.ErrUnavailable):
		return false, fmt.Errorf("%w: jetstream: rewind group %q of stream %q to its last commit: %w", broker.ErrUnavailable, group, stream, err)
	}
	return false, fmt.Errorf("jetstream: rewind group %q of stream %q to its last commit: %w", group, stream, mapErr(err))
}

// Consumer returns the nats.go consumer, for its Info and CachedInfo.
func (l *LogConsumer) Consumer() natsjs.Consumer { return l.cons }

// NextRecord returns the next record in stream order, waiting like
// QueueConsumer.NextMessage. A canceled call skips nothing.
func (l *LogConsumer) NextRecord(ctx context.Context) (broker.Record, error) {
	for {
		m, err := l.take(ctx)
		if err != nil {
			return broker.Record{}, err
		}
		r, ok, err := l.wrap(m, time.Now())
		if err == errResync {
			continue
		}
		if err != nil {
			return broker.Record{}, err
		}
		if ok {
			return r, nil
		}
	}
}

// NextBatch returns between 1 and MaxBatch records in stream order,
// waiting for the first like NextRecord and adding what is buffered.
func (l *LogConsumer) NextBatch(ctx context.Context) ([]broker.Record, error) {
	for {
		m, err := l.take(ctx)
		if err != nil {
			return nil, err
		}
		now := time.Now()
		batch := make([]broker.Record, 0, min(l.cfg.MaxBatch, 1+len(l.p.buf)))
		for {
			r, ok, err := l.wrap(m, now)
			if err == errResync {
				break // hand out what came before the lost deliveries
			}
			if err != nil {
				return nil, err
			}
			if ok {
				batch = append(batch, r)
			}
			if len(batch) == l.cfg.MaxBatch {
				break
			}
			var more bool
			if m, more = l.p.tryNext(); !more {
				break
			}
		}
		if len(batch) > 0 {
			return batch, nil
		}
	}
}

func (l *LogConsumer) take(ctx context.Context) (natsjs.Msg, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return nil, closedError("log consumer")
	}
	if l.needResync {
		if err := l.resync(ctx); err != nil {
			return nil, err
		}
	}
	m, err := l.p.next(ctx)
	if errors.Is(err, errStopped) {
		return nil, closedError("log consumer")
	}
	return m, err
}

// wrap turns a message into a Record and records it as handed out. It
// returns false for a redelivery of a record this consumer already handed
// out (the server redelivers what AckWait left uncommitted; handing it out
// again would break offset order).
func (l *LogConsumer) wrap(m natsjs.Msg, now time.Time) (broker.Record, bool, error) {
	md, err := metadataOf(m)
	if err != nil {
		return broker.Record{}, false, nil
	}
	d := &recordDelivery{l: l, msg: m, seq: md.streamSeq}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		if d.seq > l.highest {
			_ = m.Nak()
		}
		return broker.Record{}, false, closedError("log consumer")
	}
	// The server numbers every delivery of the consumer, redeliveries
	// included; a number skipped is a delivery lost in flight (a
	// connection that broke with messages on their way). The server
	// redelivers those only after AckWait, behind later records: handing
	// these out first would break offset order, a commit of one would
	// cover the lost records unread, and their redeliveries would be
	// dropped below as already handed out.
	if (l.anchored || l.lastDelivery != 0) && md.consumerSeq != l.lastDelivery+1 {
		l.needResync = true
		l.mu.Unlock()
		return broker.Record{}, false, errResync
	}
	l.lastDelivery = md.consumerSeq
	if d.seq <= l.highest {
		// After a resync, a record handed out before it commits with its
		// new delivery: an AckAll carries the delivery number, and one from
		// the old numbering, above the reset consumer's count, would make
		// the server ignore the next commits below it.
		i := sort.Search(len(l.handed), func(i int) bool { return l.handed[i].seq >= d.seq })
		if i < len(l.handed) && l.handed[i].seq == d.seq && l.handed[i].epoch != l.epoch {
			l.handed[i].msg, l.handed[i].epoch = m, l.epoch
		}
		l.mu.Unlock()
		return broker.Record{}, false, nil
	}
	d.epoch = l.epoch
	d.Settler.Init(d)
	l.highest = d.seq
	// Forget the records a commit already covers.
	i := 0
	for i < len(l.handed) && l.handed[i].seq <= l.committed {
		i++
	}
	if i > 0 {
		l.handed = append(l.handed[:0], l.handed[i:]...)
	}
	l.handed = append(l.handed, d)
	l.mu.Unlock()
	key, attrs := decodeHeaders(m.Headers())
	return broker.Record{
		Offset:        int64(d.seq),
		Partition:     0,
		Topic:         m.Subject(),
		Key:           key,
		Value:         m.Data(),
		Attributes:    attrs,
		PublishTime:   md.timestamp,
		IngestionTime: now,
		Settler:       &d.Settler,
	}, true, nil
}

// errResync is wrap's signal that a delivery was lost in flight.
var errResync = errors.New("jetstream: a delivery was lost; resync")

// resync recovers from deliveries lost in flight: it drops what the
// current pull subscription holds, resets the consumer to its ack floor
// (the last commit) and pulls on a new subscription, so the server
// delivers again, in stream order, everything after the last commit. What
// this consumer already handed out comes again and is dropped as a
// redelivery; the lost records follow in order. A server that cannot be
// reached is waited for, until ctx ends or Close; nothing is committed.
func (l *LogConsumer) resync(ctx context.Context) error {
	l.resyncMu.Lock()
	defer l.resyncMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return closedError("log consumer")
	}
	old := l.p
	l.p = nil
	l.mu.Unlock()
	if old != nil {
		old.abandon(l.cfg.CloseTimeout)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(l.closing, cancel)()
	wait := 50 * time.Millisecond
	for {
		_, err := l.c.js.ResetConsumer(rctx, l.stream, l.cfg.Group)
		if err == nil {
			break
		}
		switch {
		case l.closing.Err() != nil:
			return closedError("log consumer")
		case ctx.Err() != nil:
			return ctx.Err()
		case !transient(err):
			return fmt.Errorf("jetstream: rewind group %q of stream %q after a lost delivery: %w", l.cfg.Group, l.stream, mapErr(err))
		}
		t := time.NewTimer(wait)
		select {
		case <-rctx.Done():
			t.Stop()
			continue // reported above
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
	p, err := startPuller(l.c.nc, l.cons, l.cfg.Prefetch, l.cfg.PullOptions)
	if err != nil {
		return fmt.Errorf("jetstream: consume %q of stream %q: %w", l.cfg.Group, l.stream, err)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		p.abandon(l.cfg.CloseTimeout)
		return closedError("log consumer")
	}
	l.p = p
	l.epoch++
	l.lastDelivery, l.anchored = 0, true // the reset consumer numbers its deliveries from 1
	l.needResync = false
	l.mu.Unlock()
	return nil
}

// transient reports whether a failed API request is worth retrying: the
// server is unreachable or did not answer in time.
func transient(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(mapErr(err), broker.ErrUnavailable) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, natsjs.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrDisconnected)
}

// recordDelivery is one handed-out record.
type recordDelivery struct {
	broker.Settler
	l     *LogConsumer
	msg   natsjs.Msg // guarded by l.mu: wrap swaps in its copy after a resync
	epoch uint32     // guarded by l.mu: the resync msg was delivered after
	seq   uint64
	state atomic.Uint32
}

// Settle implements broker.SettleHandler: an ack with the AckAll policy
// commits this record and every earlier one.
func (d *recordDelivery) Settle(ctx context.Context, s broker.Settlement) error {
	if s.Kind != broker.SettleAck {
		return fmt.Errorf("%w: %v on a log record; a log replays from the last commit", broker.ErrUnsupported, s.Kind)
	}
	if !d.state.CompareAndSwap(live, settled) {
		return fmt.Errorf("%w: record %d was released when its consumer closed", broker.ErrClosed, d.seq)
	}
	l := d.l
	l.mu.Lock()
	if d.seq > l.committed {
		l.committed = d.seq
	}
	msg := d.msg
	l.mu.Unlock()
	var err error
	if s.NoWait {
		err = msg.Ack()
	} else {
		err = msg.DoubleAck(ctx)
	}
	if err != nil {
		err = fmt.Errorf("jetstream: commit record %d: %w", d.seq, mapErr(err))
		if s.NoWait {
			l.errMu.Lock()
			if l.asyncErr == nil {
				l.asyncErr = err
			}
			l.errMu.Unlock()
		}
	}
	return err
}

// Extend implements broker.SettleHandler; records have no lease.
func (d *recordDelivery) Extend(context.Context, time.Duration) error {
	return fmt.Errorf("%w: log records have no lease to extend", broker.ErrUnsupported)
}

// Close stops the consumer: (1) later and waiting calls return
// broker.ErrClosed and acks of records handed out return broker.ErrClosed;
// (2) the pull subscription is drained; (3) every record delivered past the
// last commit (handed out or buffered) is nacked in offset order, so the
// server replays them, in order, to the group's next consumer; (4) the
// connection is flushed, so commits and nacks reach the server first. It
// never commits anything the application did not ack. It returns the
// first failed fire-and-forget commit, if any, and is idempotent.
func (l *LogConsumer) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	p := l.p
	l.mu.Unlock()
	l.endClose()
	// A resync under way gives up (or, done already, abandons its new
	// subscription) and is waited for, so none of its goroutines outlive Close.
	l.resyncMu.Lock()
	l.resyncMu.Unlock() //nolint:staticcheck // a barrier, nothing to guard

	var rest []natsjs.Msg
	if p != nil {
		rest = p.stop(l.cfg.CloseTimeout)
	}

	l.mu.Lock()
	handed, committed, highest := l.handed, l.committed, l.highest
	l.handed = nil
	l.mu.Unlock()
	for _, d := range handed {
		if d.state.CompareAndSwap(live, released) && d.seq > committed {
			_ = d.msg.Nak()
		}
	}
	for _, m := range rest {
		md, err := metadataOf(m)
		if err == nil && md.streamSeq > highest {
			_ = m.Nak()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.CloseTimeout)
	defer cancel()
	var flushErr error
	if !l.c.nc.IsClosed() {
		flushErr = l.c.flush(ctx)
	}
	l.errMu.Lock()
	defer l.errMu.Unlock()
	if l.asyncErr != nil {
		return l.asyncErr
	}
	if flushErr != nil {
		return fmt.Errorf("jetstream: close: flushing commits: %w", flushErr)
	}
	return nil
}
