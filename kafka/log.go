package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pullkit/broker"
)

// DefaultCommitInterval is LogOptions.CommitInterval's default.
const DefaultCommitInterval = 100 * time.Millisecond

// LogOptions tune one consumer-group consumer; the zero value is ready.
type LogOptions struct {
	// MaxBatch is the most records one NextBatch returns. Default
	// DefaultMaxBatch. (A poll takes everything franz-go has fetched, up
	// to Config.FetchMaxBytes, so that the next fetch overlaps with the
	// processing of this one.)
	MaxBatch int

	// CommitInterval is how long acked offsets may wait to be committed
	// together: Ack costs no round trip, and a crash replays at most this
	// much processed work. AckContext, Flush, a revocation and Close
	// commit at once. Default DefaultCommitInterval.
	CommitInterval time.Duration

	// OnCommitError, when set, receives every failed commit (an error
	// wrapping the Kafka error, naming the partitions), from the
	// committing goroutine; it must not block for long nor call the
	// consumer. When nil, the first failure not yet reported is returned
	// by the next NextRecord or NextBatch call instead. Either way the
	// commit is retried while the partition stays assigned, and an
	// AckContext waiting on it returns the error.
	OnCommitError func(error)
}

// LogConsumer reads a consumer group's records: a broker.RecordIterator and
// broker.BatchedIterator with manual, batched, asynchronous commits, and a
// broker.RevocationNotifier. NextRecord and NextBatch must not be called
// concurrently; acks, Close and OnRevoke may come from any goroutine.
//
// It runs one goroutine of its own (the committer) besides franz-go's;
// Close stops both.
type LogConsumer struct {
	cl       *kgo.Client
	maxBatch int
	onErr    func(error)

	mu        sync.Mutex
	parts     map[tpKey]*partition // the current assignment
	buf       []polled             // the last poll's records (reused)
	next      int                  // index of the next record of buf not handed out
	spare     []logDelivery        // settlement states for NextRecord, one slab per poll
	polledAt  time.Time            // when buf was polled: its IngestionTime
	attrs     attrCache
	closed    bool
	finalDone bool
	cancel    context.CancelFunc // ends the poll in progress, for Close
	asyncErr  error              // a commit failure to report on the next call
	changed   chan struct{}      // closed (and replaced) when commit state changes
	listeners map[int]func([]broker.TopicPartition)
	nextID    int

	interval  time.Duration
	kick      chan struct{} // asks the committer to commit within interval (capacity 1)
	urgent    chan struct{} // asks the committer to commit now (capacity 1)
	stop      chan struct{} // closed by Close: final commit, then exit
	committed chan struct{} // closed when the committer exited
	closeOnce sync.Once
	closeErr  error

	// commitCtx bounds every commit; Close cancels it once
	// DefaultCloseTimeout passed, so that a commit the cluster does not
	// answer cannot hold Close.
	commitCtx    context.Context
	commitCancel context.CancelFunc
}

var (
	_ broker.RecordIterator     = (*LogConsumer)(nil)
	_ broker.BatchedIterator    = (*LogConsumer)(nil)
	_ broker.RevocationNotifier = (*LogConsumer)(nil)
)

type tpKey struct {
	topic     string
	partition int32
}

// partition is one assigned partition; a new one is made at each
// assignment, so records and acks of an earlier assignment are told apart
// by pointer.
type partition struct {
	tp      broker.TopicPartition
	revoked bool // taken away: acks refused, buffered records dropped
	flushed bool // the revocation's final commit has finished

	acked     int64 // the offset to commit: highest acked offset + 1
	epoch     int32 // leader epoch of the highest acked record
	committed int64 // the highest confirmed commit
	failOff   int64 // the offset of the last failed commit attempt
	failErr   error
}

// polled is a polled record and its partition's assignment.
type polled struct {
	r *kgo.Record
	p *partition
}

// logDelivery is one handed-out record's settlement state.
type logDelivery struct {
	broker.Settler
	c      *LogConsumer
	p      *partition
	offset int64
	epoch  int32
}

func (d *logDelivery) Settle(ctx context.Context, s broker.Settlement) error {
	if s.Kind != broker.SettleAck {
		return fmt.Errorf("kafka: %v of a record: %w: a log record is only acked (committed)", s.Kind, broker.ErrUnsupported)
	}
	return d.c.ack(ctx, d, !s.NoWait)
}

func (d *logDelivery) Extend(context.Context, time.Duration) error {
	return fmt.Errorf("kafka: extend: %w: consumer-group records have no ack deadline", broker.ErrUnsupported)
}

// JoinGroup joins consumer group group on topics and returns its consumer.
// A partition the group never committed starts at cfg.StartOffset
// (default: its first record). The cluster must answer before ctx ends.
func JoinGroup(ctx context.Context, cfg Config, group string, topics []string, o LogOptions) (*LogConsumer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if group == "" {
		return nil, fmt.Errorf("%w: empty group name", broker.ErrInvalidTopic)
	}
	if len(topics) == 0 {
		return nil, fmt.Errorf("%w: no topic to consume", broker.ErrInvalidTopic)
	}
	for _, t := range topics {
		if err := validateTopic(t); err != nil {
			return nil, err
		}
	}
	if o.MaxBatch < 0 || o.CommitInterval < 0 {
		return nil, fmt.Errorf("%w: LogOptions %+v has a negative value", broker.ErrInvalidOption, o)
	}
	c := &LogConsumer{
		maxBatch:  o.MaxBatch,
		onErr:     o.OnCommitError,
		parts:     map[tpKey]*partition{},
		changed:   make(chan struct{}),
		listeners: map[int]func([]broker.TopicPartition){},
		kick:      make(chan struct{}, 1),
		urgent:    make(chan struct{}, 1),
		interval:  o.CommitInterval,
		stop:      make(chan struct{}),
		committed: make(chan struct{}),
	}
	if c.maxBatch == 0 {
		c.maxBatch = DefaultMaxBatch
	}
	if c.interval == 0 {
		c.interval = DefaultCommitInterval
	}
	c.commitCtx, c.commitCancel = context.WithCancel(context.Background())
	reset := kgo.NewOffset().AtStart()
	if cfg.StartOffset == StartLatest {
		reset = kgo.NewOffset().AtEnd()
	}
	opts := cfg.kgoOpts()
	opts = append(opts, cfg.consumerOpts()...)
	opts = append(opts, cfg.Opts...)
	// Ours come last: the semantics depend on them.
	opts = append(opts,
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(reset),
		kgo.DisableAutoCommit(),
		// A poll's records belong to the assignment until the next poll:
		// no revocation can slip between franz-go handing us records and
		// us tying them to their partition's assignment.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(c.onAssigned),
		kgo.OnPartitionsRevoked(func(ctx context.Context, _ *kgo.Client, m map[string][]int32) { c.onRevoked(ctx, m, false) }),
		kgo.OnPartitionsLost(func(ctx context.Context, _ *kgo.Client, m map[string][]int32) { c.onRevoked(ctx, m, true) }),
	)
	cl, err := newClient(ctx, cfg, opts)
	if err != nil {
		c.commitCancel()
		return nil, err
	}
	c.cl = cl
	go c.commitLoop()
	return c, nil
}

// Client returns the underlying franz-go client, for inspection (metrics,
// lag). Do not poll, commit or close through it.
func (c *LogConsumer) Client() *kgo.Client { return c.cl }

func (c *LogConsumer) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for topic, ps := range assigned {
		for _, p := range ps {
			k := tpKey{topic, p}
			if old := c.parts[k]; old != nil && !old.revoked {
				continue
			}
			c.parts[k] = &partition{tp: broker.TopicPartition{Topic: topic, Partition: int64(p)}}
		}
	}
}

// onRevoked runs in franz-go's group goroutine before the partitions can be
// given to another member: it refuses later acks, drops buffered records,
// commits what was acked (unless the partitions were lost, when a commit
// cannot succeed) and tells the listeners.
func (c *LogConsumer) onRevoked(ctx context.Context, revoked map[string][]int32, lost bool) {
	c.mu.Lock()
	var (
		gone  []*partition
		flush []pendingCommit
		tps   []broker.TopicPartition
	)
	for topic, ps := range revoked {
		for _, p := range ps {
			k := tpKey{topic, p}
			st := c.parts[k]
			if st == nil {
				continue
			}
			delete(c.parts, k)
			st.revoked = true
			gone = append(gone, st)
			tps = append(tps, st.tp)
			if !lost && st.acked > st.committed {
				flush = append(flush, pendingCommit{st, st.acked, st.epoch})
			}
		}
	}
	listeners := make([]func([]broker.TopicPartition), 0, len(c.listeners))
	for _, f := range c.listeners {
		listeners = append(listeners, f)
	}
	c.mu.Unlock()

	if len(flush) > 0 {
		ctx, cancel := context.WithTimeout(ctx, DefaultCloseTimeout)
		stop := context.AfterFunc(c.commitCtx, cancel) // Close's bound
		c.commit(ctx, flush)
		stop()
		cancel()
	}
	c.mu.Lock()
	for _, st := range gone {
		st.flushed = true
	}
	c.broadcastLocked()
	c.mu.Unlock()
	if len(tps) == 0 {
		return
	}
	for _, f := range listeners {
		f(append([]broker.TopicPartition(nil), tps...))
	}
}

// OnRevoke registers f, called with the partitions this consumer loses in
// a rebalance (and on Close), from franz-go's group goroutine, before
// their new owner can read them. f must not block for long nor call the
// consumer.
func (c *LogConsumer) OnRevoke(f func(revoked []broker.TopicPartition)) (unregister func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextID
	c.nextID++
	c.listeners[id] = f
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.listeners, id)
	}
}

// NextRecord returns the next record, polling when none is buffered. A
// commit failure not yet reported (see LogOptions.OnCommitError) is
// returned first.
func (c *LogConsumer) NextRecord(ctx context.Context) (broker.Record, error) {
	for {
		c.mu.Lock()
		if err := c.readyLocked(ctx); err != nil {
			c.mu.Unlock()
			return broker.Record{}, err
		}
		if i, ok := c.skipRevokedLocked(); ok {
			if len(c.spare) == 0 {
				c.spare = make([]logDelivery, len(c.buf)-i)
			}
			d := &c.spare[0]
			c.spare = c.spare[1:]
			var r broker.Record
			c.convertLocked(&r, d, c.buf[i])
			c.buf[i] = polled{}
			c.next++
			c.mu.Unlock()
			return r, nil
		}
		c.mu.Unlock()
		if err := c.poll(ctx); err != nil {
			return broker.Record{}, err
		}
	}
}

// NextBatch returns between 1 and MaxBatch records, those already polled
// or else the next poll's.
func (c *LogConsumer) NextBatch(ctx context.Context) ([]broker.Record, error) {
	for {
		c.mu.Lock()
		if err := c.readyLocked(ctx); err != nil {
			c.mu.Unlock()
			return nil, err
		}
		if i, ok := c.skipRevokedLocked(); ok {
			// A run of records of assigned partitions, converted in
			// place into the caller's slice, their settlement states
			// in one slab: two allocations per batch, none per record,
			// and each record is written once, right before the
			// caller reads it (still in cache).
			j, end := i+1, min(len(c.buf), i+c.maxBatch)
			for j < end && !c.buf[j].p.revoked {
				j++
			}
			out, dels := make([]broker.Record, j-i), make([]logDelivery, j-i)
			for k := range out {
				c.convertLocked(&out[k], &dels[k], c.buf[i+k])
			}
			clear(c.buf[i:j])
			c.next = j
			c.mu.Unlock()
			return out, nil
		}
		c.mu.Unlock()
		if err := c.poll(ctx); err != nil {
			return nil, err
		}
	}
}

func (c *LogConsumer) readyLocked(ctx context.Context) error {
	if c.closed {
		return fmt.Errorf("kafka: consumer: %w", broker.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.asyncErr; err != nil {
		c.asyncErr = nil
		return err
	}
	return nil
}

// skipRevokedLocked drops the polled records of revoked partitions before
// the next one to hand out and returns its index, if any is left.
func (c *LogConsumer) skipRevokedLocked() (int, bool) {
	for ; c.next < len(c.buf); c.next++ {
		if !c.buf[c.next].p.revoked {
			return c.next, true
		}
		c.buf[c.next] = polled{}
	}
	return 0, false
}

// poll fills the buffer from franz-go. Records handed out before are not
// buffered any more, so this is where a blocked rebalance may proceed.
func (c *LogConsumer) poll(ctx context.Context) error {
	c.cl.AllowRebalance()
	pctx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cancel()
		return fmt.Errorf("kafka: consumer: %w", broker.ErrClosed)
	}
	c.cancel = cancel
	c.mu.Unlock()

	// Everything franz-go buffered, so that it fetches the next batch
	// while this one is handed out.
	fetches := c.cl.PollFetches(pctx)
	cancel()

	c.mu.Lock()
	c.cancel = nil
	clear(c.buf)
	c.buf, c.next, c.spare = c.buf[:0], 0, nil
	var fetchErr error
	fetches.EachError(func(topic string, p int32, err error) {
		if fetchErr == nil && !retriableFetchErr(err) {
			fetchErr = fmt.Errorf("kafka: fetch %s/%d: %w", topic, p, err)
		}
	})
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		st := c.parts[tpKey{fp.Topic, fp.Partition}]
		if st == nil || st.revoked {
			return // not ours (cannot happen while rebalances wait for us)
		}
		for _, r := range fp.Records {
			c.buf = append(c.buf, polled{r, st})
		}
	})
	if len(c.buf) > 0 {
		c.polledAt = time.Now()
	}
	closed := c.closed
	n := len(c.buf)
	c.mu.Unlock()
	if n == 0 {
		// Nothing handed out from this poll: let a waiting rebalance go.
		c.cl.AllowRebalance()
	}
	switch {
	case closed:
		return fmt.Errorf("kafka: consumer: %w", broker.ErrClosed)
	case n > 0:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case fetchErr != nil:
		return classify(ctx, "poll", fetchErr)
	}
	return nil
}

// convertLocked writes b's record into rec and its settlement state into
// d, both zero. Keys and string attributes share the fetched bytes
// (franz-go never reuses them unless given record pools).
func (c *LogConsumer) convertLocked(rec *broker.Record, d *logDelivery, b polled) {
	r := b.r
	d.c, d.p, d.offset, d.epoch = c, b.p, r.Offset, r.LeaderEpoch
	d.Settler.Init(d)
	rec.Offset = r.Offset
	rec.Partition = int64(r.Partition)
	rec.Topic = r.Topic
	rec.Key = stringOf(r.Key)
	rec.Value = r.Value
	rec.Attributes = c.attrs.decode(r.Headers)
	rec.PublishTime = r.Timestamp
	rec.IngestionTime = c.polledAt
	rec.Settler = &d.Settler
}

// retriableFetchErr reports fetch errors franz-go handles by itself.
func retriableFetchErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, kgo.ErrClientClosed) || isRetriable(err)
}

// Close stops fetching, commits every acked offset (waiting up to
// DefaultCloseTimeout; it returns an error if some acked offset stayed
// uncommitted, not for earlier failures a retry made good), leaves the group so that its partitions move to the
// other members at once, and stops every goroutine. Records handed out but
// not acked are not committed: the group replays them. Close is
// idempotent; it never deletes the group or its commits.
func (c *LogConsumer) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		if c.cancel != nil {
			c.cancel()
		}
		c.mu.Unlock()
		// The commit in flight, the final one, a revocation's and
		// leaving the group share one bound: past it they are given up
		// (uncommitted acks are reported; an unfinished leave lets the
		// group move the partitions at the session timeout instead).
		ctx, cancel := context.WithTimeout(context.Background(), DefaultCloseTimeout)
		defer cancel()
		stop := context.AfterFunc(ctx, c.commitCancel)
		defer stop()
		close(c.stop)
		<-c.committed
		c.cl.AllowRebalance()
		_ = c.cl.LeaveGroupContext(ctx)
		c.cl.Close()
		c.commitCancel()
		c.mu.Lock()
		c.finalDone = true
		c.broadcastLocked()
		c.mu.Unlock()
	})
	return c.closeErr
}
