package pulsar

import (
	"context"
	"fmt"
	"sync"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/pullkit/broker"
)

// LogConsumer reads a Failover or Exclusive subscription as a log: records
// of each partition in order, acked cumulatively per partition. It
// implements broker.RecordIterator, broker.BatchedIterator and, for Failover
// subscriptions, broker.RevocationNotifier. NextRecord and NextBatch must not
// be called concurrently with each other; Ack may be called from any
// goroutine.
//
// Like QueueConsumer it runs one acker goroutine, stopped by Close after it
// sent every ack made before.
type LogConsumer struct {
	client *Client
	cons   pc.Consumer
	msgs   <-chan pc.ConsumerMessage
	topic  string
	sub    string
	cfg    LogConfig

	mu     sync.RWMutex // as in QueueConsumer
	closed bool
	jobs   chan *recDelivery
	kick   chan struct{} // wakes the acker for a commit that must not wait
	stop   chan struct{}
	acked  chan struct{}

	pmu      sync.Mutex // guards parts, revokers, nextID
	parts    map[int32]*partState
	revokers map[uint64]func([]broker.TopicPartition)
	nextID   uint64
	cbMu     sync.Mutex // revocation callbacks never run concurrently

	errMu    sync.Mutex
	asyncErr error
	fatal    error // a record that cannot be handed out; every later call fails

	closeOnce sync.Once
	closeErr  error
}

var (
	_ broker.RecordIterator     = (*LogConsumer)(nil)
	_ broker.BatchedIterator    = (*LogConsumer)(nil)
	_ broker.RevocationNotifier = (*LogConsumer)(nil)
)

// partState is what the consumer knows of one partition; guarded by pmu,
// except committed, which only the acker touches.
type partState struct {
	gen       uint64 // incremented when the partition is taken away
	inactive  bool   // a Failover consumer that is not the partition's active one
	owned     bool   // active or read from since the last revocation
	committed int64  // highest offset whose cumulative ack the broker confirmed
	// last is the highest offset handed out since the partition was last
	// (re)assigned. After a reconnection the broker replays from the last
	// commit while records prefetched before it are still queued in the
	// client; records at or below last were handed out already and are
	// dropped, so offsets keep increasing.
	last int64
}

// recDelivery is one record handed out; it is also the acker's job.
type recDelivery struct {
	broker.Settler
	c      *LogConsumer
	id     pc.MessageID
	part   int32
	offset int64
	gen    uint64
	done   chan error
}

// JoinGroup opens a log consumer on subscription (the "group") of topic:
// Failover by default, so several consumers share a partitioned topic's
// partitions and take over from each other; Exclusive with cfg.Exclusive.
// A subscription that committed nothing starts at cfg.InitialPosition
// (Earliest by default); an existing one resumes after its committed
// records. Closing never deletes the subscription.
func (c *Client) JoinGroup(ctx context.Context, topic, subscription string, cfg LogConfig) (*LogConsumer, error) {
	if err := validateTopic(topic); err != nil {
		return nil, err
	}
	if err := validateSubscription(subscription); err != nil {
		return nil, err
	}
	if err := checkCommon(&cfg.ReceiverQueueSize, &cfg.MaxBatch, &cfg.AckFlushDelay); err != nil {
		return nil, err
	}
	l := &LogConsumer{
		client: c, topic: topic, sub: subscription, cfg: cfg,
		jobs: make(chan *recDelivery, ackQueue), kick: make(chan struct{}, 1), stop: make(chan struct{}), acked: make(chan struct{}),
		parts: make(map[int32]*partState), revokers: make(map[uint64]func([]broker.TopicPartition)),
	}
	o := pc.ConsumerOptions{
		Topic:                          topic,
		SubscriptionName:               subscription,
		Type:                           pc.Failover,
		SubscriptionInitialPosition:    cfg.InitialPosition.native(PositionEarliest),
		ReceiverQueueSize:              cfg.ReceiverQueueSize,
		Name:                           cfg.ConsumerName,
		AckWithResponse:                true,
		EnableBatchIndexAcknowledgment: true,
		EventListener:                  (*failoverListener)(l),
	}
	if cfg.Exclusive {
		o.Type = pc.Exclusive
		o.EventListener = nil
	}
	if cfg.ConsumerOptions != nil {
		cfg.ConsumerOptions(&o)
	}
	cons, err := c.subscribe(ctx, o)
	if err != nil {
		return nil, err
	}
	l.cons, l.msgs = cons, cons.Chan()
	go l.runAcker()
	// Tracked once complete, as in Subscribe.
	if err := c.track(l); err != nil {
		_ = l.Close()
		return nil, err
	}
	return l, nil
}

// Native returns the underlying pulsar-client-go consumer; do not close it.
func (l *LogConsumer) Native() pc.Consumer { return l.cons }

func (l *LogConsumer) closedErr() error {
	return fmt.Errorf("%w: log consumer of subscription %q on %q", broker.ErrClosed, l.sub, l.topic)
}

// partLocked returns partition p's state; pmu must be held.
func (l *LogConsumer) partLocked(p int32) *partState {
	ps := l.parts[p]
	if ps == nil {
		ps = &partState{committed: -1, last: -1}
		l.parts[p] = ps
	}
	return ps
}

// failoverListener receives the client's active-consumer changes.
type failoverListener LogConsumer

func (f *failoverListener) BecameActive(_ pc.Consumer, _ string, partition int32) {
	l := (*LogConsumer)(f)
	l.pmu.Lock()
	ps := l.partLocked(partition)
	ps.inactive, ps.owned = false, true
	l.pmu.Unlock()
}

// BecameInactive revokes the partition: records of it handed out before are
// refused on Ack (broker.ErrPartitionRevoked), those still prefetched are
// dropped, and the OnRevoke callbacks run. It runs on the client's
// connection goroutine, before that connection delivers anything else.
func (f *failoverListener) BecameInactive(_ pc.Consumer, _ string, partition int32) {
	l := (*LogConsumer)(f)
	l.pmu.Lock()
	ps := l.partLocked(partition)
	if ps.inactive {
		l.pmu.Unlock()
		return
	}
	owned := ps.owned
	ps.inactive, ps.owned = true, false
	ps.gen++
	ps.last = -1 // if it comes back, it is replayed from the last commit
	if !owned {
		// A consumer that joins as a standby is told it is inactive:
		// nothing to revoke.
		l.pmu.Unlock()
		return
	}
	fns := make([]func([]broker.TopicPartition), 0, len(l.revokers))
	for _, fn := range l.revokers {
		fns = append(fns, fn)
	}
	l.pmu.Unlock()
	l.cbMu.Lock()
	defer l.cbMu.Unlock()
	for _, fn := range fns {
		fn([]broker.TopicPartition{{Topic: l.topic, Partition: partitionNumber(partition)}})
	}
}

// OnRevoke registers f, called when a Failover subscription hands one of
// this consumer's partitions to another consumer (see failoverListener).
// Exclusive subscriptions never revoke.
func (l *LogConsumer) OnRevoke(f func(revoked []broker.TopicPartition)) (unregister func()) {
	l.pmu.Lock()
	id := l.nextID
	l.nextID++
	l.revokers[id] = f
	l.pmu.Unlock()
	return func() {
		l.pmu.Lock()
		delete(l.revokers, id)
		l.pmu.Unlock()
	}
}

// partitionNumber maps the client's partition index (-1 for a
// non-partitioned topic) to Record.Partition.
func partitionNumber(p int32) int64 { return int64(max(p, 0)) }

// NextRecord returns the next record, waiting like QueueConsumer.NextMessage.
// Records of a partition this consumer lost are dropped. If an Ack nobody
// waited for failed since the last call, it returns that error once.
func (l *LogConsumer) NextRecord(ctx context.Context) (broker.Record, error) {
	if err := l.takeAsyncErr(); err != nil {
		return broker.Record{}, err
	}
	for {
		cm, err := l.receive(ctx, true)
		if err != nil {
			return broker.Record{}, err
		}
		r, ok, err := l.convert(cm, nil, time.Now())
		if err != nil {
			return broker.Record{}, err
		}
		if ok {
			return r, nil
		}
	}
}

// NextBatch returns between 1 and LogConfig.MaxBatch records, waiting for
// the first only, like QueueConsumer.NextBatch. The slice is the caller's.
func (l *LogConsumer) NextBatch(ctx context.Context) ([]broker.Record, error) {
	if err := l.takeAsyncErr(); err != nil {
		return nil, err
	}
	var batch []broker.Record
	var attrs attrShare
	var now time.Time // when the first record arrived
	for len(batch) < l.cfg.MaxBatch {
		cm, err := l.receive(ctx, len(batch) == 0)
		if err != nil {
			if len(batch) > 0 {
				return batch, nil
			}
			return nil, err
		}
		if cm == nil {
			break
		}
		if now.IsZero() {
			now = time.Now()
		}
		r, ok, err := l.convert(cm, &attrs, now)
		if err != nil {
			if len(batch) > 0 {
				return batch, nil
			}
			return nil, err
		}
		if ok {
			if batch == nil {
				batch = make([]broker.Record, 0, min(l.cfg.MaxBatch, 1+len(l.msgs)))
			}
			batch = append(batch, r)
		}
	}
	return batch, nil
}

func (l *LogConsumer) receive(ctx context.Context, wait bool) (pc.Message, error) {
	return receiveFrom(ctx, l.msgs, l.stop, l.closedErr, wait)
}

// convert makes a Record of cm; ok is false for a record of a revoked
// partition, which is dropped (its new owner reads it), and for a replayed
// record this consumer handed out already (see partState.last). It was
// received at now; attrs, if not nil, shares attributes across one NextBatch
// call.
func (l *LogConsumer) convert(cm pc.Message, attrs *attrShare, now time.Time) (r broker.Record, ok bool, err error) {
	id := cm.ID()
	off, err := Offset(id)
	if err != nil {
		// Handing out later records would let their commits skip this
		// one: stop here for good.
		err = fmt.Errorf("pulsar: log consumer of %q stopped: %w", l.topic, err)
		l.errMu.Lock()
		l.fatal = err
		l.errMu.Unlock()
		return broker.Record{}, false, err
	}
	p := id.PartitionIdx()
	l.pmu.Lock()
	ps := l.partLocked(p)
	if ps.inactive || off <= ps.last {
		l.pmu.Unlock()
		return broker.Record{}, false, nil
	}
	ps.last, ps.owned = off, true
	gen := ps.gen
	l.pmu.Unlock()
	d := &recDelivery{c: l, id: id, part: p, offset: off, gen: gen}
	d.Settler.Init(d)
	var a map[string]any
	if attrs != nil {
		a = attrs.convert(cm.Properties())
	} else {
		a = fromProperties(cm.Properties())
	}
	return broker.Record{
		Offset:        off,
		Partition:     partitionNumber(p),
		Topic:         l.topic,
		Key:           cm.Key(),
		Value:         cm.Payload(),
		Attributes:    a,
		PublishTime:   cm.PublishTime(),
		IngestionTime: now,
		Settler:       &d.Settler,
	}, true, nil
}

func (l *LogConsumer) revoked(d *recDelivery) bool {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	ps := l.partLocked(d.part)
	return ps.inactive || ps.gen != d.gen
}

func (l *LogConsumer) revokedErr(d *recDelivery) error {
	return fmt.Errorf("%w: %s/%d", broker.ErrPartitionRevoked, l.topic, partitionNumber(d.part))
}

// Settle commits the record's offset (broker.SettleHandler): a cumulative
// ack of its message id, sent by the acker, which keeps only the highest
// offset per partition and never sends one below what the broker already
// confirmed. AckContext waits for the broker's answer.
func (d *recDelivery) Settle(ctx context.Context, s broker.Settlement) error {
	l := d.c
	if s.Kind != broker.SettleAck {
		return fmt.Errorf("%w: %v on a log record", broker.ErrUnsupported, s.Kind)
	}
	if l.revoked(d) {
		return l.revokedErr(d)
	}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return l.closedErr()
	}
	if !s.NoWait {
		d.done = make(chan error, 1)
	}
	select {
	case l.jobs <- d:
	case <-ctx.Done():
		l.mu.RUnlock()
		return ctx.Err()
	}
	l.mu.RUnlock()
	if d.done != nil || len(l.jobs) >= cap(l.jobs)/2 {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	if s.NoWait {
		return nil
	}
	select {
	case err := <-d.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Extend returns broker.ErrUnsupported: records have no lease.
func (d *recDelivery) Extend(context.Context, time.Duration) error {
	return fmt.Errorf("%w: log records have no ack deadline", broker.ErrUnsupported)
}

// runAcker is QueueConsumer.runAcker for commits: AckContext goes at once,
// plain Acks wait up to AckFlushDelay.
func (l *LogConsumer) runAcker() {
	defer close(l.acked)
	batch := make([]*recDelivery, 0, 64)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if len(batch) > 0 {
			l.commit(batch)
			clear(batch)
			batch = batch[:0]
		}
	}
	for {
		select {
		case d := <-l.jobs:
			batch = append(batch, d)
		case <-l.kick:
			continue
		case <-l.stop:
			for {
				if batch = l.drain(batch); len(batch) == 0 {
					return
				}
				flush()
			}
		}
		batch = l.drain(batch)
		waited := false
		for _, d := range batch {
			waited = waited || d.done != nil
		}
		if !waited && l.cfg.AckFlushDelay > 0 && len(batch) < maxAckBatch {
			timer.Reset(l.cfg.AckFlushDelay)
			select {
			case <-timer.C:
			case <-l.kick:
				timer.Stop()
			case <-l.stop:
				timer.Stop()
			}
			batch = l.drain(batch)
		}
		flush()
	}
}

func (l *LogConsumer) drain(batch []*recDelivery) []*recDelivery {
	for len(batch) < maxAckBatch {
		select {
		case d := <-l.jobs:
			batch = append(batch, d)
		default:
			return batch
		}
	}
	return batch
}

// commit sends one cumulative ack per partition, for the highest offset of
// the batch, and gives every job of the partition its outcome.
func (l *LogConsumer) commit(batch []*recDelivery) {
	top := make(map[int32]*recDelivery, 4)
	for _, d := range batch {
		if t := top[d.part]; t == nil || d.offset > t.offset {
			top[d.part] = d
		}
	}
	result := make(map[int32]error, len(top))
	for p, d := range top {
		l.pmu.Lock()
		ps := l.partLocked(p)
		committed := ps.committed
		l.pmu.Unlock()
		if d.offset <= committed {
			continue // covered by an earlier commit
		}
		if l.revoked(d) {
			result[p] = l.revokedErr(d)
			continue
		}
		if err := retry(func() error { return l.cons.AckIDCumulative(d.id) }); err != nil {
			result[p] = classify(fmt.Sprintf("commit %s/%d offset %d", l.topic, partitionNumber(p), d.offset), err)
			continue
		}
		l.pmu.Lock()
		ps.committed = max(ps.committed, d.offset)
		l.pmu.Unlock()
	}
	for _, d := range batch {
		l.finish(d, result[d.part])
	}
}

func (l *LogConsumer) finish(d *recDelivery, err error) {
	if d.done != nil {
		d.done <- err
		return
	}
	if err != nil {
		l.errMu.Lock()
		if l.asyncErr == nil {
			l.asyncErr = err
		}
		l.errMu.Unlock()
	}
}

func (l *LogConsumer) takeAsyncErr() error {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	if l.fatal != nil {
		return l.fatal
	}
	err := l.asyncErr
	l.asyncErr = nil
	return err
}

// Close stops the consumer: waiting calls return broker.ErrClosed, the
// acker sends every ack made before and waits for the broker's answers,
// then the client's consumer closes; uncommitted records are read again by
// the next consumer of the subscription, from the last commit. The
// subscription stays. Close returns the first failure of an Ack nobody
// waited for, if not yet reported. Idempotent; concurrent calls wait for the first.
func (l *LogConsumer) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		close(l.stop)
		l.mu.Unlock()
		<-l.acked
		l.cons.Close()
		l.client.untrack(l)
		l.closeErr = l.takeAsyncErr()
	})
	return l.closeErr
}
