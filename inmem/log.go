package inmem

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/pullkit/broker"
)

// LogConsumer is one member of a consumer group. It implements
// broker.RecordIterator, broker.BatchedIterator and
// broker.RevocationNotifier. NextRecord and NextBatch must not be called
// concurrently with each other: they share the consumer's read position.
type LogConsumer struct {
	g    *group
	t    *topic
	cfg  LogConfig
	done chan struct{} // closed by Close

	// Guarded by the topic's lock; slices are indexed by partition.
	id     uint64
	closed bool
	parts  []int    // partitions it reads, ascending
	rr     int      // index in parts to read next, for round-robin
	pos    []int64  // next offset to read
	owned  []bool   // may commit: assigned, or being revoked
	epoch  []uint64 // bumped on every assignment and revocation

	cbMu   sync.Mutex
	cbSeq  uint64
	revoke []revokeCallback
}

type revokeCallback struct {
	id uint64
	f  func([]broker.TopicPartition)
}

var (
	_ broker.RecordIterator     = (*LogConsumer)(nil)
	_ broker.BatchedIterator    = (*LogConsumer)(nil)
	_ broker.RevocationNotifier = (*LogConsumer)(nil)
)

// JoinGroup opens a consumer in consumer group group of topic, creating the
// topic and the group if needed, and rebalances the group: its partitions
// are spread over the open consumers, partition p going to the (p mod n)-th
// consumer in join order. Each consumer reads its partitions from the
// group's committed offsets (or from the start, or the end with
// LogConfig.StartAtEnd, for a group that never committed), so records not
// committed before a consumer closed are read again. Closing consumers
// never deletes the group or its commits.
//
// JoinGroup returns after the rebalance, so revocation callbacks of the
// other members have run. Empty names fail with broker.ErrInvalidTopic, a
// bad cfg with broker.ErrInvalidOption, a closed broker with
// broker.ErrClosed.
func (b *Broker) JoinGroup(topic, group string, cfg LogConfig) (*LogConsumer, error) {
	if err := broker.ValidateTopicName(topic); err != nil {
		return nil, err
	}
	if group == "" {
		return nil, fmt.Errorf("%w: empty group name", broker.ErrInvalidTopic)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t, err := b.topic(topic)
	if err != nil {
		return nil, err
	}
	n := len(t.parts)
	c := &LogConsumer{
		t:     t,
		cfg:   cfg,
		done:  make(chan struct{}),
		pos:   make([]int64, n),
		owned: make([]bool, n),
		epoch: make([]uint64, n),
	}
	t.mu.Lock()
	c.g = t.groupLocked(group, cfg.StartAtEnd)
	t.mu.Unlock()
	if err := register(b, b.logs, c); err != nil {
		return nil, fmt.Errorf("%w: join group %q on %q", err, group, topic)
	}

	g := c.g
	g.rebal.Lock()
	defer g.rebal.Unlock()
	t.mu.Lock()
	if c.closed { // Broker.Close got to it first
		t.mu.Unlock()
		return nil, fmt.Errorf("%w: join group %q on %q", broker.ErrClosed, group, topic)
	}
	g.nextID++
	c.id = g.nextID
	g.members = append(g.members, c)
	t.mu.Unlock()
	g.rebalance()
	return c, nil
}

// NextRecord returns the next record of the consumer's partitions: in
// offset order within a partition, taking partitions in turn. It waits until
// a record is available, ctx ends (an error matching ctx.Err()) or the
// consumer is closed (broker.ErrClosed); a canceled call skips nothing.
// Value and Attributes are shared with the log and must not be modified.
func (c *LogConsumer) NextRecord(ctx context.Context) (broker.Record, error) {
	if err := ctx.Err(); err != nil {
		return broker.Record{}, err
	}
	t := c.t
	for {
		t.mu.Lock()
		if c.closed {
			t.mu.Unlock()
			return broker.Record{}, c.closedErr()
		}
		if r, ok := c.nextLocked(t.b.clock.Now()); ok {
			t.mu.Unlock()
			return r, nil
		}
		wait := t.logWaitLocked()
		t.mu.Unlock()
		if err := c.await(ctx, wait); err != nil {
			return broker.Record{}, err
		}
	}
}

// NextBatch returns between 1 and LogConfig.MaxBatch records as soon as at
// least one is available, taking partitions in turn; it waits and fails like
// NextRecord. The slice is the caller's.
func (c *LogConsumer) NextBatch(ctx context.Context) ([]broker.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := c.t
	for {
		t.mu.Lock()
		if c.closed {
			t.mu.Unlock()
			return nil, c.closedErr()
		}
		if n := min(c.availableLocked(), c.cfg.MaxBatch); n > 0 {
			batch := make([]broker.Record, 0, n)
			now := t.b.clock.Now()
			for range n {
				r, _ := c.nextLocked(now)
				batch = append(batch, r)
			}
			t.mu.Unlock()
			return batch, nil
		}
		wait := t.logWaitLocked()
		t.mu.Unlock()
		if err := c.await(ctx, wait); err != nil {
			return nil, err
		}
	}
}

func (c *LogConsumer) await(ctx context.Context, wait <-chan struct{}) error {
	select {
	case <-wait:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.closedErr()
	}
}

func (c *LogConsumer) closedErr() error {
	return fmt.Errorf("%w: consumer of group %q", broker.ErrClosed, c.g.name)
}

func (c *LogConsumer) availableLocked() int {
	n := 0
	for _, p := range c.parts {
		n += int(c.t.parts[p].len() - c.pos[p])
	}
	return n
}

// nextLocked takes the next record, starting at the partition after the
// one read last, so a busy partition cannot starve the others.
func (c *LogConsumer) nextLocked(now time.Time) (broker.Record, bool) {
	n := len(c.parts)
	for i := range n {
		idx := (c.rr + i) % n
		p := c.parts[idx]
		log := &c.t.parts[p]
		if c.pos[p] >= log.len() {
			continue
		}
		e := log.at(c.pos[p])
		c.pos[p]++
		c.rr = (idx + 1) % n
		return c.recordLocked(p, e, now), true
	}
	return broker.Record{}, false
}

func (c *LogConsumer) recordLocked(p int, e *entry, now time.Time) broker.Record {
	off := e.offset
	d := &recordDelivery{c: c, p: p, off: off, epoch: c.epoch[p]}
	d.Settler.Init(d)
	return broker.Record{
		Offset:        off,
		Partition:     int64(p),
		Topic:         c.t.name,
		Key:           e.key,
		Value:         e.data,
		Attributes:    e.attrs,
		PublishTime:   e.published,
		IngestionTime: now,
		Settler:       &d.Settler,
	}
}

// recordDelivery is one record handed out: its once-only Settler and the
// assignment it was read under, in one allocation.
type recordDelivery struct {
	broker.Settler
	c     *LogConsumer
	p     int
	off   int64
	epoch uint64
}

func (d *recordDelivery) Settle(_ context.Context, st broker.Settlement) error {
	return d.c.commit(d.p, d.off, d.epoch, st)
}

func (d *recordDelivery) Extend(context.Context, time.Duration) error {
	return fmt.Errorf("%w: a log record has no ack deadline", broker.ErrUnsupported)
}

// commit applies a record's ack, if its partition is still the consumer's
// from the assignment the record was read under.
func (c *LogConsumer) commit(p int, off int64, epoch uint64, st broker.Settlement) error {
	if st.Kind != broker.SettleAck {
		return fmt.Errorf("%w: %s of a record; a log only commits", broker.ErrUnsupported, st.Kind)
	}
	t, g := c.t, c.g
	t.mu.Lock()
	defer t.mu.Unlock()
	if !c.owned[p] || c.epoch[p] != epoch {
		if c.closed {
			return fmt.Errorf("%w: %w: commit %s/%d offset %d for group %q", broker.ErrPartitionRevoked, broker.ErrClosed, t.name, p, off, g.name)
		}
		return fmt.Errorf("%w: commit %s/%d offset %d for group %q", broker.ErrPartitionRevoked, t.name, p, off, g.name)
	}
	if err := t.b.faults.take(faultCommit, g.name); err != nil {
		return injected("commit for group", g.name, err)
	}
	g.commitLocked(p, off)
	return nil
}

func (c *LogConsumer) assignLocked(p int, pos int64) {
	c.owned[p] = true
	c.epoch[p]++
	c.pos[p] = pos
	i, _ := slices.BinarySearch(c.parts, p)
	c.parts = slices.Insert(c.parts, i, p)
}

func (c *LogConsumer) stopReadingLocked(p int) {
	if i, ok := slices.BinarySearch(c.parts, p); ok {
		c.parts = slices.Delete(c.parts, i, i+1)
		if c.rr > i {
			c.rr--
		}
		if c.rr >= len(c.parts) {
			c.rr = 0
		}
	}
}

// Assigned returns the partitions the consumer currently reads, ascending.
func (c *LogConsumer) Assigned() []int {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	return slices.Clone(c.parts)
}

// OnRevoke registers f, called when partitions are taken from this consumer
// (another consumer joined or left the group, or this one is closing). f
// runs synchronously inside the JoinGroup or Close that caused the
// rebalance, never concurrently with itself, after the consumer stopped
// reading the partitions and before anyone else can read them; records of
// those partitions may still be acked from inside f (to flush finished
// work), and acks after f returns fail with broker.ErrPartitionRevoked. f
// must not call JoinGroup, Close or OnRevoke of the same group. The slice
// is f's to keep. The returned function unregisters f.
func (c *LogConsumer) OnRevoke(f func(revoked []broker.TopicPartition)) (unregister func()) {
	if f == nil {
		return func() {}
	}
	c.cbMu.Lock()
	defer c.cbMu.Unlock()
	c.cbSeq++
	id := c.cbSeq
	c.revoke = append(c.revoke, revokeCallback{id: id, f: f})
	return func() {
		c.cbMu.Lock()
		defer c.cbMu.Unlock()
		c.revoke = slices.DeleteFunc(c.revoke, func(r revokeCallback) bool { return r.id == id })
	}
}

func (c *LogConsumer) notifyRevoked(parts []int) {
	c.cbMu.Lock()
	cbs := slices.Clone(c.revoke)
	c.cbMu.Unlock()
	for _, cb := range cbs {
		cb.f(tps(c.t.name, parts))
	}
}

// Close leaves the group: waiting calls return broker.ErrClosed, the
// consumer's partitions are revoked (its OnRevoke callbacks run, and may
// still commit) and handed to the remaining members, which resume from the
// committed offsets. Acks after that fail with an error matching both
// broker.ErrPartitionRevoked and broker.ErrClosed. The group and its commits
// stay. Close is idempotent.
func (c *LogConsumer) Close() error {
	closeLogConsumers([]*LogConsumer{c})
	return nil
}

// closeLogConsumers closes cs with one rebalance per group, so that when
// Broker.Close closes a whole group its partitions are revoked once, not
// passed from one closing member to the next.
func closeLogConsumers(cs []*LogConsumer) {
	byGroup := make(map[*group][]*LogConsumer)
	var order []*group
	for _, c := range cs {
		if _, ok := byGroup[c.g]; !ok {
			order = append(order, c.g)
		}
		byGroup[c.g] = append(byGroup[c.g], c)
	}
	for _, g := range order {
		t := g.t
		g.rebal.Lock()
		t.mu.Lock()
		closing := false
		for _, c := range byGroup[g] {
			if c.closed {
				continue
			}
			closing = true
			c.closed = true
			close(c.done)
			g.members = slices.DeleteFunc(g.members, func(m *LogConsumer) bool { return m == c })
		}
		t.mu.Unlock()
		if closing {
			g.rebalance()
		}
		g.rebal.Unlock()
		for _, c := range byGroup[g] {
			forget(t.b, t.b.logs, c)
		}
	}
}
