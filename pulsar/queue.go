package pulsar

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/pullkit/broker"
)

// ackQueue is how many settlements may wait for the acker; Ack blocks
// (back pressure) only when it is full. The acker is kicked when it is half
// full, and sends up to maxAckBatch settlements per request, so acks with
// response keep up with the consumer while a request is on its way.
const (
	ackQueue    = 16384
	maxAckBatch = ackQueue
)

// QueueConsumer reads a Shared or KeyShared subscription. It implements
// broker.MessageIterator and broker.BatchedMessageIterator; NextMessage and
// NextBatch must not be called concurrently with each other (settlement may
// happen from any goroutine).
//
// It runs one goroutine besides the client's own: the acker, which sends
// acknowledgements in batches and waits for the broker's responses; Close
// stops it after it sent everything settled before.
type QueueConsumer struct {
	client   *Client
	cons     pc.Consumer
	msgs     <-chan pc.ConsumerMessage
	topic    string
	sub      string
	cfg      QueueConfig
	dlqTopic string // where Reject sends, "" when it drops

	// mu is held for reading while a settlement is handed to the acker or a
	// nack to the client, and for writing by Close, so none arrives after
	// the acker stopped or the consumer closed.
	mu     sync.RWMutex
	closed bool
	jobs   chan *delivery
	kick   chan struct{} // wakes the acker for a settlement that must not wait
	stop   chan struct{} // closed by Close
	acked  chan struct{} // closed when the acker is done

	errMu    sync.Mutex
	asyncErr error // first failure of an Ack or Reject not waited for

	closeOnce sync.Once
	closeErr  error

	recent *recentAcks // acked messages, to drop stale copies

	// delayed holds the timers of nacks with a Settlement.Delay; guarded by
	// mu (added under its read lock with dmu, stopped by Close).
	dmu     sync.Mutex
	delayed map[*delivery]*time.Timer
	dwg     sync.WaitGroup // timers not yet stopped or finished
	leases  *leases        // nil without QueueConfig.AckDeadline

	dlq pc.Producer // owned by the acker
	ids []pc.MessageID
}

var (
	_ broker.MessageIterator        = (*QueueConsumer)(nil)
	_ broker.BatchedMessageIterator = (*QueueConsumer)(nil)
)

// delivery is one message handed out; it is also the acker's job.
type delivery struct {
	broker.Settler
	c      *QueueConsumer
	msg    pc.Message
	kind   broker.SettleKind
	reason string
	done   chan error // nil when nobody waits for the outcome
}

// Subscribe opens a consumer of subscription on topic, creating the
// subscription if needed (at cfg.InitialPosition). Closing the consumer never
// deletes the subscription. ctx bounds the wait for the broker. Bad names
// fail with broker.ErrInvalidTopic, a bad cfg with broker.ErrInvalidOption.
func (c *Client) Subscribe(ctx context.Context, topic, subscription string, cfg QueueConfig) (*QueueConsumer, error) {
	if err := validateTopic(topic); err != nil {
		return nil, err
	}
	if err := validateSubscription(subscription); err != nil {
		return nil, err
	}
	if err := checkCommon(&cfg.ReceiverQueueSize, &cfg.MaxBatch, &cfg.AckFlushDelay); err != nil {
		return nil, err
	}
	if err := cfg.Poison.Validate(); err != nil {
		return nil, err
	}
	if cfg.AckDeadline < 0 {
		return nil, fmt.Errorf("%w: negative AckDeadline", broker.ErrInvalidOption)
	}
	q := &QueueConsumer{
		client: c, topic: topic, sub: subscription, cfg: cfg,
		jobs: make(chan *delivery, ackQueue), kick: make(chan struct{}, 1), stop: make(chan struct{}), acked: make(chan struct{}),
		recent: newRecentAcks(max(cfg.ReceiverQueueSize, 1024)),
	}
	o := pc.ConsumerOptions{
		Topic:                          topic,
		SubscriptionName:               subscription,
		Type:                           pc.Shared,
		SubscriptionInitialPosition:    cfg.InitialPosition.native(PositionLatest),
		ReceiverQueueSize:              cfg.ReceiverQueueSize,
		Name:                           cfg.ConsumerName,
		NackRedeliveryDelay:            cfg.Poison.NackDelay,
		AckWithResponse:                true,
		EnableBatchIndexAcknowledgment: true,
	}
	if cfg.KeyShared {
		o.Type = pc.KeyShared
	}
	if o.NackRedeliveryDelay == 0 {
		o.NackRedeliveryDelay = DefaultNackDelay
	}
	if cfg.Poison.Action == broker.PoisonDeadLetter {
		q.dlqTopic = cfg.Poison.DeadLetterTopic
		if q.dlqTopic == "" {
			q.dlqTopic = topic + "-" + subscription + "-DLQ"
		}
		if err := validateTopic(q.dlqTopic); err != nil {
			return nil, fmt.Errorf("%w: dead-letter topic: %w", broker.ErrInvalidOption, err)
		}
		if cfg.Poison.MaxDeliveries > 0 {
			o.DLQ = &pc.DLQPolicy{MaxDeliveries: uint32(cfg.Poison.MaxDeliveries), DeadLetterTopic: q.dlqTopic}
		}
	}
	if cfg.ConsumerOptions != nil {
		cfg.ConsumerOptions(&o)
	}
	cons, err := c.subscribe(ctx, o)
	if err != nil {
		return nil, err
	}
	q.cons, q.msgs = cons, cons.Chan()
	go q.runAcker()
	if cfg.AckDeadline > 0 {
		q.leases = newLeases(q, cfg.AckDeadline)
		go q.leases.run()
	}
	// Tracked once complete, so that Client.Close can close it; a client
	// closed meanwhile gets it closed here.
	if err := c.track(q); err != nil {
		_ = q.Close()
		return nil, err
	}
	return q, nil
}

// Native returns the underlying pulsar-client-go consumer. Receiving or
// settling through it bypasses this package's bookkeeping; do not close it.
func (q *QueueConsumer) Native() pc.Consumer { return q.cons }

func (q *QueueConsumer) closedErr() error {
	return fmt.Errorf("%w: consumer of subscription %q on %q", broker.ErrClosed, q.sub, q.topic)
}

// NextMessage returns the next message, waiting until one arrives, ctx ends
// (an error matching ctx.Err()) or the consumer is closed
// (broker.ErrClosed). A canceled call takes nothing from the client's
// queue. If an Ack or Reject that nobody waited for failed since the last
// call, NextMessage returns that error once, and the next call goes on.
func (q *QueueConsumer) NextMessage(ctx context.Context) (broker.Message, error) {
	if err := q.takeAsyncErr(); err != nil {
		return broker.Message{}, err
	}
	for {
		cm, err := q.receive(ctx, true)
		if err != nil {
			return broker.Message{}, err
		}
		if m, ok := q.convert(cm, nil, time.Now()); ok {
			return m, nil
		}
	}
}

// NextBatch returns between 1 and QueueConfig.MaxBatch messages: it waits
// like NextMessage for the first, then takes what the client already
// prefetched, without waiting to fill the batch. The slice is the caller's.
func (q *QueueConsumer) NextBatch(ctx context.Context) ([]broker.Message, error) {
	if err := q.takeAsyncErr(); err != nil {
		return nil, err
	}
	var (
		batch []broker.Message
		attrs attrShare
		ids   idArena
		now   time.Time // when the first message arrived
	)
	for len(batch) < q.cfg.MaxBatch {
		cm, err := q.receive(ctx, len(batch) == 0)
		if err != nil {
			if len(batch) > 0 {
				// Hand out what was taken; the error shows on the next call
				// (ctx's and ErrClosed persist by themselves).
				break
			}
			return nil, err
		}
		if cm == nil {
			break
		}
		if now.IsZero() {
			now = time.Now()
		}
		if m, ok := q.convert(cm, &attrs, now); ok {
			if batch == nil {
				n := min(q.cfg.MaxBatch, 1+len(q.msgs))
				batch = make([]broker.Message, 0, n)
				ids.buf, ids.ends = make([]byte, 0, 24*n), make([]int, 0, n)
			}
			ids.add(cm.ID())
			batch = append(batch, m)
		}
	}
	ids.assign(batch)
	return batch, nil
}

// receive takes one message from the client's queue. With wait false it
// returns nil at once if none is ready.
func (q *QueueConsumer) receive(ctx context.Context, wait bool) (pc.Message, error) {
	return receiveFrom(ctx, q.msgs, q.stop, q.closedErr, wait)
}

// convert makes a broker.Message of cm, received at now, or reports false
// for a message it drops: one past MaxDeliveries under PoisonTerminate
// (acked here), or a stale copy of an acked one (see recentAcks). attrs,
// if not nil, shares attributes across one NextBatch call, which also sets
// the ID (see idArena).
func (q *QueueConsumer) convert(cm pc.Message, attrs *attrShare, now time.Time) (broker.Message, bool) {
	// Stale copies are redeliveries: the first delivery skips the lookup.
	if cm.RedeliveryCount() > 0 && q.recent.has(cm.ID()) {
		return broker.Message{}, false // a stale copy of an acked message
	}
	d := &delivery{c: q, msg: cm}
	d.Settler.Init(d)
	count := int(cm.RedeliveryCount()) + 1
	if q.cfg.Poison.Action == broker.PoisonTerminate && q.cfg.Poison.Exceeded(count) {
		d.kind = broker.SettleAck
		_ = q.enqueue(context.Background(), d)
		return broker.Message{}, false
	}
	if q.leases != nil {
		q.leases.add(d, now)
	}
	var a map[string]any
	var id string
	if attrs != nil {
		a = attrs.convert(cm.Properties())
	} else {
		a, id = fromProperties(cm.Properties()), messageIDString(cm.ID())
	}
	return broker.Message{
		ID:            id,
		Key:           cm.Key(),
		Data:          cm.Payload(),
		Attributes:    a,
		PublishTime:   cm.PublishTime(),
		IngestionTime: now,
		DeliveryCount: count,
		Settler:       &d.Settler,
	}, true
}

// messageIDString is "ledger:entry:batchIndex:partition".
func messageIDString(id pc.MessageID) string {
	var buf [80]byte
	return string(appendMessageID(buf[:0], id))
}

func appendMessageID(b []byte, id pc.MessageID) []byte {
	b = strconv.AppendInt(b, id.LedgerID(), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, id.EntryID(), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(id.BatchIdx()), 10)
	b = append(b, ':')
	return strconv.AppendInt(b, int64(id.PartitionIdx()), 10)
}

// idArena builds the IDs of one NextBatch call as substrings of one string:
// one allocation per batch instead of one per message.
type idArena struct {
	buf  []byte
	ends []int
}

func (a *idArena) add(id pc.MessageID) {
	a.buf = appendMessageID(a.buf, id)
	a.ends = append(a.ends, len(a.buf))
}

// assign sets the IDs of batch, whose messages were added in order.
func (a *idArena) assign(batch []broker.Message) {
	s := string(a.buf)
	start := 0
	for i, end := range a.ends {
		batch[i].ID = s[start:end]
		start = end
	}
}

// Settle carries a settlement to the client (broker.SettleHandler).
//   - Ack goes to the acker, which acknowledges with response; AckContext
//     waits for the broker's answer.
//   - Nack is the client's NackID: redelivery after NackRedeliveryDelay.
//     A Settlement.Delay (the client has one delay per consumer) holds the
//     nack back until it passed, so redelivery comes no sooner.
//     It goes through the acker too, after the acks settled before it, so
//     that the redelivery of a batch entry it triggers already knows which
//     of the entry's messages were acked.
//   - Reject publishes the message to the dead-letter topic, then acks it;
//     without a dead-letter topic it acks (drops) it.
func (d *delivery) Settle(ctx context.Context, s broker.Settlement) error {
	q := d.c
	if q.leases != nil && !q.leases.release(d) {
		return expiredErr(d)
	}
	d.kind, d.reason = s.Kind, s.Reason
	if !s.NoWait {
		d.done = make(chan error, 1)
	}
	if s.Kind == broker.SettleNack && s.Delay > 0 {
		return q.nackLater(d, s.Delay)
	}
	if s.Kind != broker.SettleNack {
		q.recent.add(d.msg.ID())
	}
	if err := q.enqueue(ctx, d); err != nil {
		if s.Kind != broker.SettleNack {
			q.recent.remove(d.msg.ID())
		}
		return err
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

// nackLater nacks d once delay has passed. The client's nack delay comes on
// top (it has one per consumer), so the message is not redelivered before
// delay. Close stops the timers: the consumer's close redelivers what it held.
func (q *QueueConsumer) nackLater(d *delivery, delay time.Duration) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return q.closedErr()
	}
	q.dmu.Lock()
	defer q.dmu.Unlock()
	if q.delayed == nil {
		q.delayed = make(map[*delivery]*time.Timer)
	}
	q.dwg.Add(1)
	q.delayed[d] = time.AfterFunc(delay, func() {
		defer q.dwg.Done()
		q.dmu.Lock()
		delete(q.delayed, d)
		q.dmu.Unlock()
		_ = q.enqueue(context.Background(), d) // fails only once closed
	})
	return nil
}

// enqueue hands d to the acker, unless the consumer is closed or ctx ends
// while the acker's queue is full.
func (q *QueueConsumer) enqueue(ctx context.Context, d *delivery) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return q.closedErr()
	}
	select {
	case q.jobs <- d: // the acker runs until Close, which waits for mu
	case <-ctx.Done():
		return ctx.Err()
	}
	if d.done != nil || d.kind != broker.SettleAck || len(q.jobs) >= cap(q.jobs)/2 {
		select {
		case q.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// Extend keeps the message leased for at least dur from now when
// QueueConfig.AckDeadline is set; otherwise it returns
// broker.ErrUnsupported (pulsar-client-go v0.19.0 has no ack timeout, and
// the message stays with this consumer until settled).
func (d *delivery) Extend(_ context.Context, dur time.Duration) error {
	q := d.c
	if q.leases == nil {
		return fmt.Errorf("%w: no QueueConfig.AckDeadline, so no deadline to extend", broker.ErrUnsupported)
	}
	if !q.leases.extend(d, dur) {
		return expiredErr(d)
	}
	return nil
}

// runAcker sends the settlements handed to it until Close, then what is
// left. Settlements someone waits for, nacks and rejects go at once, with
// everything queued before them; plain Acks wait up to AckFlushDelay for
// others to share their request, without waking the acker one by one (a
// half-full queue kicks it early).
func (q *QueueConsumer) runAcker() {
	defer close(q.acked)
	batch := make([]*delivery, 0, 64)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case d := <-q.jobs:
			batch = append(batch, d)
		case <-q.kick:
			continue
		case <-q.stop:
			for {
				if batch = q.drain(batch); len(batch) == 0 {
					return
				}
				q.flush(&batch)
			}
		}
		batch = q.drain(batch)
		if !urgent(batch) && q.cfg.AckFlushDelay > 0 && len(batch) < maxAckBatch {
			timer.Reset(q.cfg.AckFlushDelay)
			select {
			case <-timer.C:
			case <-q.kick:
				timer.Stop()
			case <-q.stop:
				timer.Stop()
			}
			batch = q.drain(batch)
		}
		q.flush(&batch)
	}
}

// urgent reports whether a settlement of batch must not wait.
func urgent(batch []*delivery) bool {
	for _, d := range batch {
		if d.done != nil || d.kind != broker.SettleAck {
			return true
		}
	}
	return false
}

func (q *QueueConsumer) flush(batch *[]*delivery) {
	if len(*batch) > 0 {
		q.settleBatch(*batch)
		clear(*batch)
		*batch = (*batch)[:0]
	}
}

func (q *QueueConsumer) drain(batch []*delivery) []*delivery {
	for len(batch) < maxAckBatch {
		select {
		case d := <-q.jobs:
			batch = append(batch, d)
		default:
			return batch
		}
	}
	return batch
}

func (q *QueueConsumer) settleBatch(batch []*delivery) {
	q.ids = q.ids[:0]
	acks := batch[:0:0]
	var nacks []*delivery
	for _, d := range batch {
		if d.kind == broker.SettleNack {
			nacks = append(nacks, d)
			continue
		}
		if d.kind == broker.SettleReject && q.dlqTopic != "" {
			if err := q.deadLetter(d); err != nil {
				// Not dead-lettered: let it come back rather than lose it.
				q.recent.remove(d.msg.ID())
				q.cons.NackID(d.msg.ID())
				q.finish(d, err)
				continue
			}
		}
		q.ids = append(q.ids, d.msg.ID())
		acks = append(acks, d)
	}
	// Nacks after the acks: see Settle.
	defer func() {
		for _, d := range nacks {
			q.cons.NackID(d.msg.ID())
			q.finish(d, nil)
		}
	}()
	if len(q.ids) == 0 {
		return
	}
	err := retry(func() error { return q.cons.AckIDList(q.ids) })
	var perID pc.AckError
	if !errors.As(err, &perID) {
		perID = nil
	}
	for i, d := range acks {
		e := err
		if perID != nil {
			e = perID[q.ids[i]]
		}
		if e != nil {
			e = classify(fmt.Sprintf("ack %s on subscription %q", messageIDString(d.msg.ID()), q.sub), e)
			q.recent.remove(d.msg.ID())
		}
		q.finish(d, e)
	}
	clear(q.ids)
}

// deadLetter publishes d's message to the dead-letter topic, with its key
// and properties, plus the reject reason as property "pullkit-reject-reason".
func (q *QueueConsumer) deadLetter(d *delivery) error {
	if q.dlq == nil {
		p, err := q.client.native.CreateProducer(pc.ProducerOptions{Topic: q.dlqTopic})
		if err != nil {
			return classify(fmt.Sprintf("create dead-letter producer for %q", q.dlqTopic), err)
		}
		q.dlq = p
	}
	props := d.msg.Properties()
	if d.reason != "" {
		cp := make(map[string]string, len(props)+1)
		for k, v := range props {
			cp[k] = v
		}
		cp["pullkit-reject-reason"] = d.reason
		props = cp
	}
	_, err := q.dlq.Send(context.Background(), &pc.ProducerMessage{
		Payload: d.msg.Payload(), Key: d.msg.Key(), OrderingKey: d.msg.OrderingKey(), Properties: props,
	})
	return classify(fmt.Sprintf("dead-letter to %q", q.dlqTopic), err)
}

func (q *QueueConsumer) finish(d *delivery, err error) {
	if d.done != nil {
		d.done <- err
		return
	}
	if err != nil {
		q.errMu.Lock()
		if q.asyncErr == nil {
			q.asyncErr = err
		}
		q.errMu.Unlock()
	}
}

func (q *QueueConsumer) takeAsyncErr() error {
	q.errMu.Lock()
	defer q.errMu.Unlock()
	err := q.asyncErr
	q.asyncErr = nil
	return err
}

// Close stops the consumer: waiting calls return broker.ErrClosed, the
// acker sends every settlement made before and waits for the broker's
// answers, then the client's consumer closes, and the broker redelivers
// every message it holds unacknowledged (handed out or only prefetched) to
// the subscription's other consumers. The subscription stays. Settling
// after Close returns broker.ErrClosed. Close returns the first failure of an
// Ack or Reject nobody waited for, if it was not yet reported. Idempotent;
// concurrent calls wait for the first.
func (q *QueueConsumer) Close() error {
	q.closeOnce.Do(func() {
		q.mu.Lock()
		q.closed = true
		close(q.stop)
		q.mu.Unlock()
		q.dmu.Lock()
		for d, t := range q.delayed {
			if t.Stop() {
				q.dwg.Done() // never to run
			}
			delete(q.delayed, d)
		}
		q.dmu.Unlock()
		q.dwg.Wait()
		<-q.acked
		if q.leases != nil {
			<-q.leases.done
		}
		q.cons.Close()
		if q.dlq != nil {
			q.dlq.Close()
		}
		q.client.untrack(q)
		q.closeErr = q.takeAsyncErr()
	})
	return q.closeErr
}
