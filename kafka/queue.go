package kafka

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/pullkit/broker"
)

// DefaultShareFetchMaxWait is how long a share fetch may wait for records
// unless Config.FetchMaxWait says otherwise. franz-go flushes
// acknowledgements between share fetches, so AckContext and Settle may wait
// this long; it is shorter than franz-go's 5 s for that reason.
const DefaultShareFetchMaxWait = 500 * time.Millisecond

// QueueOptions tune one share-group consumer; the zero value is ready.
type QueueOptions struct {
	// MaxBatch is the most messages one NextBatch returns and one share
	// fetch asks for. Default DefaultMaxBatch.
	MaxBatch int

	// StartOffset, when set, writes the group's share.auto.offset.reset
	// (StartEarliest: "earliest", StartLatest: "latest") before joining,
	// which needs the AlterConfigs permission on the group. It only
	// matters before the group first reads a partition. Zero leaves the
	// group's configuration alone (Kafka's default is latest).
	StartOffset StartOffset

	// LockDuration, when set, writes the group's
	// share.record.lock.duration.ms: how long a delivered message stays
	// acquired (its ack deadline) before the broker delivers it again.
	// Zero keeps the broker's (30 s by default).
	LockDuration time.Duration

	// Poison.MaxDeliveries, when set, writes the group's
	// share.delivery.count.limit: a message delivered that many times is
	// archived instead of delivered again (Kafka has no dead-letter topic:
	// Action and DeadLetterTopic are ignored). Kafka allows 2 to 10.
	// NackDelay is not supported and ignored.
	Poison broker.PoisonPolicy
}

// QueueConsumer reads a share group (KIP-932): a broker.MessageIterator and
// broker.BatchedMessageIterator. NextMessage and NextBatch must not be
// called concurrently; settlement and Close may come from any goroutine.
//
// franz-go accepts, on each poll, every message of the previous poll that
// was not settled. So that no message is accepted behind the caller's
// back, the consumer polls again only when every message it handed out
// is settled or released at the end of its lock: a NextMessage that needs a new poll
// while messages are held waits for them (or for ctx). Settle held
// messages before asking for more than one poll's worth.
type QueueConsumer struct {
	cl       *kgo.Client
	group    string
	maxBatch int
	lockDur  time.Duration

	mu        sync.Mutex
	buf       []*kgo.Record
	next      int
	held      map[*shareDelivery]struct{} // handed out, not settled
	settled   chan struct{}               // closed when held shrinks
	closed    bool
	cancel    context.CancelFunc
	ackErrs   map[tpKey]ackErr // latest ack failure per partition
	attrs     attrCache
	ackSeq    uint64
	closeOnce sync.Once
	closeErr  error

	renewTimer *time.Timer    // renews extended locks
	renewing   sync.WaitGroup // a renewal in progress, for Close

	// clientCancel ends the client's context: franz-go's own requests
	// (an ack in flight) use it, and leaving the group waits for them,
	// so Close cancels it once its bound passed.
	clientCancel context.CancelFunc
}

type ackErr struct {
	seq uint64
	err error
}

var (
	_ broker.MessageIterator        = (*QueueConsumer)(nil)
	_ broker.BatchedMessageIterator = (*QueueConsumer)(nil)
)

// shareDelivery is one handed-out message's settlement state.
type shareDelivery struct {
	broker.Settler
	c        *QueueConsumer
	r        *kgo.Record
	deadline time.Time     // when the broker's acquisition lock ends
	lock     time.Duration // how long a renewal keeps it
	until    time.Time     // Extend asked to keep it leased until then
	expired  bool          // released by us after the deadline passed
}

// JoinShareGroup joins share group group on topics. The cluster must
// answer before ctx ends; the group's configuration is written first when
// o asks for it.
func JoinShareGroup(ctx context.Context, cfg Config, group string, topics []string, o QueueOptions) (*QueueConsumer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if group == "" {
		return nil, fmt.Errorf("%w: empty share group name", broker.ErrInvalidTopic)
	}
	if len(topics) == 0 {
		return nil, fmt.Errorf("%w: no topic to consume", broker.ErrInvalidTopic)
	}
	for _, t := range topics {
		if err := validateTopic(t); err != nil {
			return nil, err
		}
	}
	if err := o.Poison.Validate(); err != nil {
		return nil, err
	}
	if o.MaxBatch < 0 || o.LockDuration < 0 || o.StartOffset > StartLatest {
		return nil, fmt.Errorf("%w: QueueOptions %+v", broker.ErrInvalidOption, o)
	}
	c := &QueueConsumer{
		group:    group,
		maxBatch: o.MaxBatch,
		lockDur:  o.LockDuration,
		held:     map[*shareDelivery]struct{}{},
		settled:  make(chan struct{}),
		ackErrs:  map[tpKey]ackErr{},
	}
	if c.maxBatch == 0 {
		c.maxBatch = DefaultMaxBatch
	}
	opts := cfg.kgoOpts()
	if cfg.FetchMaxWait <= 0 {
		// franz-go sends acks that AckContext and Settle wait for only
		// between share fetches: keep a fetch's long poll short.
		opts = append(opts, kgo.FetchMaxWait(DefaultShareFetchMaxWait))
	}
	opts = append(opts, cfg.consumerOpts()...)
	opts = append(opts, cfg.Opts...)
	opts = append(opts,
		kgo.ShareGroup(group),
		kgo.ConsumeTopics(topics...),
		kgo.ShareMaxRecords(int32(c.maxBatch)),
		kgo.ShareAckCallback(c.onAcks),
	)
	clientCtx, clientCancel := context.WithCancel(context.Background())
	opts = append(opts, kgo.WithContext(clientCtx))
	// The group's configuration must be in place before the consumer's
	// first share fetch initializes the partitions' start, so it is
	// written with a client of its own first.
	if err := writeGroupConfig(ctx, cfg, group, o); err != nil {
		clientCancel()
		return nil, err
	}
	cl, err := newClient(ctx, cfg, opts)
	if err != nil {
		clientCancel()
		return nil, err
	}
	c.cl, c.clientCancel = cl, clientCancel
	return c, nil
}

// writeGroupConfig sets the share group's configuration o asks for.
func writeGroupConfig(ctx context.Context, cfg Config, group string, o QueueOptions) error {
	set := map[string]string{}
	switch o.StartOffset {
	case StartEarliest:
		set["share.auto.offset.reset"] = "earliest"
	case StartLatest:
		set["share.auto.offset.reset"] = "latest"
	}
	if o.LockDuration > 0 {
		set["share.record.lock.duration.ms"] = strconv.FormatInt(max(1, o.LockDuration.Milliseconds()), 10)
	}
	if o.Poison.MaxDeliveries > 0 {
		set["share.delivery.count.limit"] = strconv.Itoa(o.Poison.MaxDeliveries)
	}
	if len(set) == 0 {
		return nil
	}
	admin := cfg.kgoOpts()
	admin = append(admin, cfg.Opts...)
	cl, err := newClient(ctx, cfg, admin)
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType = kmsg.ConfigResourceTypeGroupConfig
	res.ResourceName = group
	for k, v := range set {
		rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		rc.Name = k
		rc.Op = kmsg.IncrementalAlterConfigOpSet
		rc.Value = kmsg.StringPtr(v)
		res.Configs = append(res.Configs, rc)
	}
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return classify(ctx, "configure share group "+group, err)
	}
	for _, r := range resp.Resources {
		if err := kerrFor(r.ErrorCode, r.ErrorMessage); err != nil {
			return classify(ctx, "configure share group "+group, err)
		}
	}
	return nil
}

// Client returns the underlying franz-go client, for inspection. Do not
// poll, ack or close through it.
func (c *QueueConsumer) Client() *kgo.Client { return c.cl }

// onAcks records failed acknowledgements, for AckContext and Settle.
func (c *QueueConsumer) onAcks(_ *kgo.Client, rs kgo.ShareAckResults) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range rs {
		if r.Err == nil {
			continue
		}
		c.ackSeq++
		c.ackErrs[tpKey{r.Topic, r.Partition}] = ackErr{c.ackSeq, r.Err}
	}
}

// NextMessage returns the next message, polling when none is buffered (see
// QueueConsumer on when a poll waits).
func (c *QueueConsumer) NextMessage(ctx context.Context) (broker.Message, error) {
	for {
		c.mu.Lock()
		if err := c.readyLocked(ctx); err != nil {
			c.mu.Unlock()
			return broker.Message{}, err
		}
		if c.next < len(c.buf) {
			m := c.takeLocked()
			c.mu.Unlock()
			return m, nil
		}
		c.mu.Unlock()
		if err := c.poll(ctx); err != nil {
			return broker.Message{}, err
		}
	}
}

// NextBatch returns between 1 and MaxBatch messages.
func (c *QueueConsumer) NextBatch(ctx context.Context) ([]broker.Message, error) {
	for {
		c.mu.Lock()
		if err := c.readyLocked(ctx); err != nil {
			c.mu.Unlock()
			return nil, err
		}
		if n := min(len(c.buf)-c.next, c.maxBatch); n > 0 {
			out := make([]broker.Message, n)
			for i := range out {
				out[i] = c.takeLocked()
			}
			c.mu.Unlock()
			return out, nil
		}
		c.mu.Unlock()
		if err := c.poll(ctx); err != nil {
			return nil, err
		}
	}
}

func (c *QueueConsumer) readyLocked(ctx context.Context) error {
	if c.closed {
		return fmt.Errorf("kafka: share consumer: %w", broker.ErrClosed)
	}
	return ctx.Err()
}

func (c *QueueConsumer) takeLocked() broker.Message {
	r := c.buf[c.next]
	c.buf[c.next] = nil
	c.next++
	d := &shareDelivery{c: c, r: r, deadline: r.AcquisitionDeadline(), lock: c.lockDur}
	if d.deadline.IsZero() && c.lockDur > 0 {
		d.deadline = time.Now().Add(c.lockDur)
	}
	if d.lock == 0 && !d.deadline.IsZero() {
		d.lock = time.Until(d.deadline) // conservative: never longer than the broker's
	}
	d.Settler.Init(d)
	c.held[d] = struct{}{}
	return broker.Message{
		ID:            strconv.FormatInt(int64(r.Partition), 10) + "-" + strconv.FormatInt(r.Offset, 10),
		Key:           stringOf(r.Key),
		Data:          r.Value,
		Attributes:    c.attrs.decode(r.Headers),
		PublishTime:   r.Timestamp,
		IngestionTime: time.Now(),
		DeliveryCount: int(r.DeliveryCount()),
		Settler:       &d.Settler,
	}
}

// poll waits until no handed-out message is held (settled, or released
// here once its lock expired), then polls franz-go.
func (c *QueueConsumer) poll(ctx context.Context) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("kafka: share consumer: %w", broker.ErrClosed)
	}
	c.cancel = cancel
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.cancel = nil
		c.mu.Unlock()
	}()
	if err := c.waitHeld(pctx); err != nil {
		return c.pollErr(ctx, err)
	}
	fetches := c.cl.PollRecords(pctx, c.maxBatch)
	c.mu.Lock()
	clear(c.buf)
	c.buf, c.next = c.buf[:0], 0
	fetches.EachRecord(func(r *kgo.Record) { c.buf = append(c.buf, r) })
	n := len(c.buf)
	closed := c.closed
	c.mu.Unlock()
	var fetchErr error
	fetches.EachError(func(topic string, p int32, err error) {
		if fetchErr == nil && !retriableFetchErr(err) {
			fetchErr = fmt.Errorf("kafka: share fetch %s/%d: %w", topic, p, err)
		}
	})
	switch {
	case closed:
		return fmt.Errorf("kafka: share consumer: %w", broker.ErrClosed)
	case n > 0:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case fetchErr != nil:
		return classify(ctx, "share poll", fetchErr)
	}
	return nil
}

func (c *QueueConsumer) pollErr(ctx context.Context, err error) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return fmt.Errorf("kafka: share consumer: %w", broker.ErrClosed)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// waitHeld returns once no handed-out message is held. A held message whose
// acquisition lock has ended is released (the broker delivers it again
// anyway) rather than left for franz-go's next poll to accept.
func (c *QueueConsumer) waitHeld(ctx context.Context) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		c.mu.Lock()
		now := time.Now()
		var earliest time.Time
		for d := range c.held {
			if d.deadline.IsZero() {
				continue
			}
			// Released a little before the broker's lock ends: a
			// release that reached the broker after the lock ended
			// could hit the record's next acquisition (franz-go keeps
			// fetching in the background) and release that instead.
			// A message being extended is the renewer's to keep: it
			// expires when the extension does.
			end := d.deadline.Add(-min(d.lock/4, time.Second))
			if d.until.After(end) {
				end = d.until
			}
			if !now.Before(end) {
				// Our Settler may still be unused: mark it expired so a
				// late Ack reports that the lock was lost.
				d.expired = true
				delete(c.held, d)
				d.r.Ack(kgo.AckRelease)
				continue
			}
			if earliest.IsZero() || end.Before(earliest) {
				earliest = end
			}
		}
		if len(c.held) == 0 {
			c.mu.Unlock()
			return nil
		}
		ch := c.settled
		c.mu.Unlock()
		var tc <-chan time.Time
		if !earliest.IsZero() {
			if timer == nil {
				timer = time.NewTimer(time.Until(earliest))
			} else {
				timer.Reset(time.Until(earliest))
			}
			tc = timer.C
		}
		select {
		case <-ch:
		case <-tc:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Settle passes the settlement to franz-go: ack → accept, nack → release
// (delivered again at once; Delay is not supported), reject → reject
// (archived, never delivered again). Unless s.NoWait, it flushes the
// acknowledgements and returns the broker's answer for the message's
// partition.
func (d *shareDelivery) Settle(ctx context.Context, s broker.Settlement) error {
	c := d.c
	status := kgo.AckAccept
	switch s.Kind {
	case broker.SettleNack:
		status = kgo.AckRelease
	case broker.SettleReject:
		status = kgo.AckReject
	}
	c.mu.Lock()
	if d.expired {
		c.mu.Unlock()
		return fmt.Errorf("kafka: %v of message %d-%d: its acquisition lock expired and it was released for redelivery", s.Kind, d.r.Partition, d.r.Offset)
	}
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("kafka: %v of message %d-%d: %w (the message was released)", s.Kind, d.r.Partition, d.r.Offset, broker.ErrClosed)
	}
	d.r.Ack(status)
	delete(c.held, d)
	close(c.settled)
	c.settled = make(chan struct{})
	seq := c.ackSeq
	c.mu.Unlock()
	if s.NoWait {
		return nil
	}
	if err := c.cl.FlushAcks(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.ackErrs[tpKey{d.r.Topic, d.r.Partition}]; ok && e.seq > seq {
		return classify(ctx, fmt.Sprintf("%v of message %d-%d", s.Kind, d.r.Partition, d.r.Offset), e.err)
	}
	return nil
}

// Close stops fetching and leaves the share group: messages handed out and
// not settled, and messages fetched but not handed out, are released for
// redelivery; settled ones are flushed first (for at most
// DefaultCloseTimeout). Idempotent; the group and its state stay.
func (c *QueueConsumer) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		if c.cancel != nil {
			c.cancel()
		}
		close(c.settled)
		c.settled = make(chan struct{})
		if c.renewTimer != nil {
			c.renewTimer.Stop()
		}
		c.mu.Unlock()
		c.renewing.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), DefaultCloseTimeout)
		defer cancel()
		stop := context.AfterFunc(ctx, c.clientCancel)
		defer stop()
		if err := c.cl.FlushAcks(ctx); err != nil {
			c.closeErr = classify(ctx, "close: flush acks", err)
		}
		// Leaving releases every record franz-go holds that was not
		// acked: the unsettled handed-out ones and the buffered ones.
		// It shares the flush's bound: a cluster that does not answer
		// redelivers them when their locks end.
		_ = c.cl.LeaveGroupContext(ctx)
		c.cl.Close()
		c.clientCancel()
	})
	return c.closeErr
}

func kerrFor(code int16, msg *string) error {
	if code == 0 {
		return nil
	}
	err := kerr.ErrorForCode(code)
	if msg != nil && *msg != "" {
		return fmt.Errorf("%w: %s", err, *msg)
	}
	return err
}
