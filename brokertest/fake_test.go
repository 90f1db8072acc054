package brokertest_test

// A small, deliberately simple in-memory queue and log that keeps the
// contract, so that the suite can test itself without depending on a real
// backend. One mutex guards everything; waiters sleep on a channel that is
// closed and replaced on every change.

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/pullkit/broker"
)

type fake struct {
	mu      sync.Mutex
	wake    chan struct{}
	topics  map[string]*fakeTopic
	maxSize int
	ids     int
	bug     string // a deliberate bug, for mutant_test.go; "" for none
	quirk   string // legal but slow behaviour the suite must accept, for mutant_test.go
}

type fakeTopic struct {
	name   string
	parts  [][]fakeRec
	subs   map[string]*fakeSub
	groups map[string]*fakeGroup
}

type fakeRec struct {
	key   string
	data  []byte
	attrs map[string]any
	at    time.Time
}

func newFake(maxSize int) *fake {
	return &fake{wake: make(chan struct{}), topics: map[string]*fakeTopic{}, maxSize: maxSize}
}

// changed wakes every waiter; called with mu held.
func (f *fake) changed() {
	close(f.wake)
	f.wake = make(chan struct{})
}

func (f *fake) createTopic(name string, partitions int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.topics[name] = &fakeTopic{name: name, parts: make([][]fakeRec, partitions), subs: map[string]*fakeSub{}, groups: map[string]*fakeGroup{}}
}

// wait blocks until something changes, ctx ends or until (if not zero).
func (f *fake) wait(ctx context.Context, wake chan struct{}, until time.Time) error {
	var timer <-chan time.Time
	if !until.IsZero() {
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		if f.bug == "masks-ctx-error" {
			return fmt.Errorf("wait interrupted")
		}
		return ctx.Err()
	case <-wake:
	case <-timer:
	}
	return nil
}

// ---- publishing ----

type fakePublisher struct {
	f      *fake
	mu     sync.Mutex
	closed bool
}

type fakeTopicHandle struct {
	p    *fakePublisher
	name string
}

func (p *fakePublisher) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	return nil
}

func (p *fakePublisher) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func (p *fakePublisher) Topic(name string) (broker.Topic, error) {
	if err := broker.ValidateTopicName(name); err != nil {
		return nil, err
	}
	return &fakeTopicHandle{p: p, name: name}, nil
}

func (h *fakeTopicHandle) Publish(ctx context.Context, msg broker.OutboundMessage) error {
	err := h.BatchPublish(ctx, msg)
	if be, ok := err.(*broker.BatchError); ok {
		return be.Errs[0]
	}
	return err
}

func (h *fakeTopicHandle) BatchPublish(ctx context.Context, msgs ...broker.OutboundMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if h.p.isClosed() {
		return broker.ErrClosed
	}
	be := broker.ValidateBatch(msgs)
	if h.p.f.bug == "no-validation" {
		be = nil
	}
	for i, m := range msgs {
		if len(m.Data) > h.p.f.maxSize {
			if be == nil {
				be = broker.NewBatchError(len(msgs))
				for j := range msgs {
					be.Fail(j, fmt.Errorf("not sent: another message of the batch is invalid"))
				}
			}
			be.Fail(i, fmt.Errorf("%w: %d bytes", broker.ErrMessageTooLarge, len(m.Data)))
		}
	}
	if be != nil && h.p.f.bug != "batch-half-sent" {
		return be
	}
	f := h.p.f
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.topics[h.name]
	if !ok {
		return fmt.Errorf("%w: topic %q", broker.ErrNotFound, h.name)
	}
	for i, m := range msgs {
		if be != nil && be.Errs[i] != nil && m.Attributes != nil && broker.ValidateAttributes(m.Attributes) != nil {
			continue // half-sent: the valid ones go out
		}
		r := fakeRec{key: m.Key, data: append([]byte(nil), m.Data...), attrs: map[string]any{}, at: time.Now()}
		for k, v := range m.Attributes {
			r.attrs[k] = v
		}
		hash := fnv.New32a()
		hash.Write([]byte(m.Key))
		p := int(hash.Sum32() % uint32(len(t.parts)))
		t.parts[p] = append(t.parts[p], r)
		for _, s := range t.subs {
			f.ids++
			s.ready = append(s.ready, &fakeMsg{id: fmt.Sprint("id", f.ids), rec: r})
		}
	}
	f.changed()
	return nil
}

// ---- queue ----

type fakeSub struct {
	ready         []*fakeMsg
	deadline      time.Duration
	maxDeliveries int
	dead          *fakeSub
}

type fakeMsg struct {
	id         string
	rec        fakeRec
	deliveries int
	lease      int // bumped on every delivery, so stale settlements are refused
	owner      *fakeQueueConsumer
	expires    time.Time
	notBefore  time.Time // a delayed nack's redelivery time
}

type fakeQueueConsumer struct {
	f        *fake
	s        *fakeSub
	maxBatch int
	closed   bool
	leased   map[*fakeMsg]bool
}

func (f *fake) subscribe(topic, sub string, o brokerOptions) (*fakeQueueConsumer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.topics[topic]
	if !ok {
		return nil, fmt.Errorf("%w: topic %q", broker.ErrNotFound, topic)
	}
	s, ok := t.subs[sub]
	if !ok {
		s = &fakeSub{deadline: o.ackDeadline, maxDeliveries: o.maxDeliveries}
		if s.deadline == 0 {
			s.deadline = time.Hour
		}
		t.subs[sub] = s
	}
	if f.bug == "leaks-goroutine" {
		go func() { select {} }()
	}
	return &fakeQueueConsumer{f: f, s: s, maxBatch: max(o.maxBatch, 1), leased: map[*fakeMsg]bool{}}, nil
}

// brokerOptions is the fake's configuration, filled from the harness options.
type brokerOptions struct {
	ackDeadline   time.Duration
	maxDeliveries int
	maxBatch      int
}

// deadLetters gives a subscription a dead-letter queue and a consumer on it.
func (f *fake) deadLetters(topic, sub string) *fakeQueueConsumer {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.topics[topic].subs[sub]
	if s.dead == nil {
		s.dead = &fakeSub{deadline: time.Hour}
	}
	return &fakeQueueConsumer{f: f, s: s.dead, maxBatch: 1, leased: map[*fakeMsg]bool{}}
}

// requeue puts a message back, or dead-letters it past its deliveries; mu held.
func (s *fakeSub) requeue(m *fakeMsg, reject bool) {
	m.owner, m.lease = nil, m.lease+1
	if reject || (s.maxDeliveries > 0 && m.deliveries >= s.maxDeliveries) {
		if s.dead != nil {
			s.dead.ready = append(s.dead.ready, &fakeMsg{id: m.id, rec: m.rec})
		}
		return
	}
	s.ready = append(s.ready, m)
}

// expire requeues leases past their deadline and returns the next deadline; mu held.
func (c *fakeQueueConsumer) expire() time.Time {
	var soonest time.Time
	now := time.Now()
	for m := range c.leased {
		if m.owner != c {
			delete(c.leased, m)
		} else if !m.expires.After(now) {
			delete(c.leased, m)
			c.s.requeue(m, false)
		} else if soonest.IsZero() || m.expires.Before(soonest) {
			soonest = m.expires
		}
	}
	return soonest
}

func (c *fakeQueueConsumer) NextMessage(ctx context.Context) (broker.Message, error) {
	b, err := c.next(ctx, 1)
	if err != nil {
		return broker.Message{}, err
	}
	return b[0], nil
}

func (c *fakeQueueConsumer) NextBatch(ctx context.Context) ([]broker.Message, error) {
	if c.f.bug == "batch-loses-on-cancel" && ctx.Err() != nil {
		// Drops a message it had "fetched" for the ended call.
		c.f.mu.Lock()
		if len(c.s.ready) > 0 {
			c.s.ready = c.s.ready[1:]
		}
		c.f.mu.Unlock()
	}
	return c.next(ctx, c.maxBatch)
}

func (c *fakeQueueConsumer) next(ctx context.Context, n int) ([]broker.Message, error) {
	if c.f.bug == "ignores-ctx" {
		ctx = context.Background()
	}
	for {
		if err := ctx.Err(); err != nil {
			if c.f.bug == "loses-on-cancel" {
				// Drops a message it had "fetched" for the ended call.
				c.f.mu.Lock()
				if len(c.s.ready) > 0 {
					c.s.ready = c.s.ready[1:]
				}
				c.f.mu.Unlock()
			}
			return nil, err
		}
		f := c.f
		f.mu.Lock()
		if c.closed {
			f.mu.Unlock()
			return nil, broker.ErrClosed
		}
		soonest := c.expire()
		var out []broker.Message
		now := time.Now()
		for i := 0; i < len(c.s.ready) && len(out) < n; {
			m := c.s.ready[i]
			if m.notBefore.After(now) {
				if soonest.IsZero() || m.notBefore.Before(soonest) {
					soonest = m.notBefore
				}
				i++
				continue
			}
			c.s.ready = append(c.s.ready[:i], c.s.ready[i+1:]...)
			out = append(out, c.deliver(m))
		}
		if len(out) > 0 {
			f.mu.Unlock()
			if f.quirk == "late-first-delivery" && c.s.deadline < time.Hour && out[0].DeliveryCount == 1 {
				// The lease started when the message was taken; the
				// client sees it a network delay later.
				time.Sleep(100 * time.Millisecond)
			}
			return out, nil
		}
		wake := f.wake
		f.mu.Unlock()
		if err := f.wait(ctx, wake, soonest); err != nil {
			return nil, err
		}
	}
}

// deliver leases m to c and builds the Message; mu held.
func (c *fakeQueueConsumer) deliver(m *fakeMsg) broker.Message {
	m.deliveries++
	m.lease++
	m.owner = c
	m.expires = time.Now().Add(c.s.deadline)
	if c.f.bug == "expires-at-once" {
		m.expires = time.Now()
	}
	c.leased[m] = true
	lease := m.lease
	f := c.f
	held := func() error {
		if m.lease != lease || m.owner == nil {
			return fmt.Errorf("lease of message %s expired", m.id)
		}
		return nil
	}
	settle := func(ctx context.Context, s broker.Settlement) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if err := held(); err != nil {
			return err
		}
		delete(c.leased, m)
		switch {
		case s.Kind == broker.SettleAck && f.bug == "ack-requeues":
			c.s.requeue(m, false)
		case s.Kind == broker.SettleAck || f.bug == "nack-acks":
			m.owner, m.lease = nil, m.lease+1
		default:
			m.notBefore = time.Now().Add(s.Delay)
			if f.bug == "ignores-nack-delay" {
				m.notBefore = time.Time{}
			}
			c.s.requeue(m, s.Kind == broker.SettleReject)
		}
		f.changed()
		return nil
	}
	extend := func(ctx context.Context, d time.Duration) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if err := held(); err != nil {
			return err
		}
		m.expires = time.Now().Add(d)
		return nil
	}
	if f.quirk == "slow-nack-confirm" {
		applied := settle
		settle = func(ctx context.Context, s broker.Settlement) error {
			err := applied(ctx, s)
			if s.Kind == broker.SettleNack && s.Delay > 0 {
				// The nack took effect; its confirmation is slow to come back.
				time.Sleep(300 * time.Millisecond)
			}
			return err
		}
	}
	return broker.Message{
		ID: m.id, Key: m.rec.key, Data: m.rec.data, Attributes: m.rec.attrs,
		PublishTime: m.rec.at, IngestionTime: time.Now(), DeliveryCount: m.deliveries,
		Settler: broker.NewSettler(settle, extend),
	}
}

func (c *fakeQueueConsumer) Close() error {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	for m := range c.leased {
		if m.owner == c && c.f.bug != "close-keeps-leases" {
			c.s.requeue(m, false)
		}
	}
	c.f.changed()
	return nil
}

// ---- log ----

type fakeGroup struct {
	committed []int64 // per partition: the next offset to read
	members   []*fakeLogConsumer
}

type fakeLogConsumer struct {
	f        *fake
	t        *fakeTopic
	g        *fakeGroup
	maxBatch int
	closed   bool
	owned    map[int]int64 // partition → next offset to hand out
	turn     int
	onRevoke map[*func([]broker.TopicPartition)]bool
}

// OnRevoke implements broker.RevocationNotifier; callbacks run with mu held.
func (c *fakeLogConsumer) OnRevoke(fn func([]broker.TopicPartition)) func() {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	if c.onRevoke == nil {
		c.onRevoke = map[*func([]broker.TopicPartition)]bool{}
	}
	key := &fn
	c.onRevoke[key] = true
	return func() {
		c.f.mu.Lock()
		defer c.f.mu.Unlock()
		delete(c.onRevoke, key)
	}
}

func (f *fake) joinGroup(topic, group string, maxBatch int) (*fakeLogConsumer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.topics[topic]
	if !ok {
		return nil, fmt.Errorf("%w: topic %q", broker.ErrNotFound, topic)
	}
	g, ok := t.groups[group]
	if !ok {
		g = &fakeGroup{committed: make([]int64, len(t.parts))}
		t.groups[group] = g
	}
	c := &fakeLogConsumer{f: f, t: t, g: g, maxBatch: max(maxBatch, 1)}
	g.members = append(g.members, c)
	g.assign()
	f.changed()
	return c, nil
}

// assign deals the partitions out round robin; a member keeps its position
// in partitions it keeps and starts others at the commit; mu held.
func (g *fakeGroup) assign() {
	owned := make([]map[int]int64, len(g.members))
	for i := range owned {
		owned[i] = map[int]int64{}
	}
	for p := range g.committed {
		if len(g.members) == 0 {
			break
		}
		i := p % len(g.members)
		pos, kept := g.members[i].owned[p]
		if !kept {
			pos = g.committed[p]
		}
		owned[i][p] = pos
	}
	for i, m := range g.members {
		var revoked []broker.TopicPartition
		for p := range m.owned {
			if _, kept := owned[i][p]; !kept {
				revoked = append(revoked, broker.TopicPartition{Topic: m.t.name, Partition: int64(p)})
			}
		}
		m.owned = owned[i]
		if len(revoked) > 0 {
			for fn := range m.onRevoke {
				(*fn)(revoked)
			}
		}
	}
}

func (c *fakeLogConsumer) NextRecord(ctx context.Context) (broker.Record, error) {
	b, err := c.next(ctx, 1)
	if err != nil {
		return broker.Record{}, err
	}
	return b[0], nil
}

func (c *fakeLogConsumer) NextBatch(ctx context.Context) ([]broker.Record, error) {
	if c.f.bug == "batch-loses-on-cancel" && ctx.Err() != nil {
		// Skips a record it had "fetched" for the ended call.
		c.f.mu.Lock()
		for p, pos := range c.owned {
			if pos < int64(len(c.t.parts[p])) {
				c.owned[p] = pos + 1
				break
			}
		}
		c.f.mu.Unlock()
	}
	return c.next(ctx, c.maxBatch)
}

func (c *fakeLogConsumer) next(ctx context.Context, n int) ([]broker.Record, error) {
	for {
		if err := ctx.Err(); err != nil {
			if c.f.bug == "loses-on-cancel" {
				// Skips a record it had "fetched" for the ended call.
				c.f.mu.Lock()
				for p, pos := range c.owned {
					if pos < int64(len(c.t.parts[p])) {
						c.owned[p] = pos + 1
						break
					}
				}
				c.f.mu.Unlock()
			}
			return nil, err
		}
		f := c.f
		f.mu.Lock()
		if c.closed {
			f.mu.Unlock()
			return nil, broker.ErrClosed
		}
		var out []broker.Record
		for i := 0; i < len(c.t.parts) && len(out) < n; i++ {
			p := (c.turn + i) % len(c.t.parts)
			pos, ok := c.owned[p]
			for ok && pos < int64(len(c.t.parts[p])) && len(out) < n {
				out = append(out, c.record(p, pos))
				pos++
				c.owned[p] = pos
			}
		}
		c.turn++
		if len(out) > 0 {
			f.mu.Unlock()
			return out, nil
		}
		wake := f.wake
		f.mu.Unlock()
		if err := f.wait(ctx, wake, time.Time{}); err != nil {
			return nil, err
		}
	}
}

// record builds the record at offset off of partition p; mu held.
func (c *fakeLogConsumer) record(p int, off int64) broker.Record {
	r := c.t.parts[p][off]
	f := c.f
	commit := func(ctx context.Context, _ broker.Settlement) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := c.owned[p]; (!ok || c.closed) && f.bug != "acks-after-revoke" {
			return broker.ErrPartitionRevoked
		}
		if f.bug == "commit-rewinds" {
			c.g.committed[p] = off + 1
		} else {
			c.g.committed[p] = max(c.g.committed[p], off+1)
		}
		return nil
	}
	return broker.Record{
		Offset: off, Partition: int64(p), Topic: c.t.name + map[bool]string{true: "-wrong"}[f.bug == "wrong-topic"], Key: r.key, Value: r.data, Attributes: r.attrs,
		PublishTime: r.at, IngestionTime: time.Now(), Settler: broker.NewSettler(commit, nil),
	}
}

func (c *fakeLogConsumer) Close() error {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	for i, m := range c.g.members {
		if m == c {
			c.g.members = append(c.g.members[:i], c.g.members[i+1:]...)
			break
		}
	}
	switch {
	case c.f.bug == "close-keeps-partitions":
	case c.f.bug == "stale-handover" && len(c.g.members) > 0:
		// Hands its partitions over one record before the confirmed
		// commit, as if the commit had not reached the new owner.
		confirmed := append([]int64(nil), c.g.committed...)
		for p := range c.owned {
			c.g.committed[p] = max(0, c.g.committed[p]-1)
		}
		c.g.assign()
		copy(c.g.committed, confirmed)
	default:
		c.g.assign()
	}
	c.f.changed()
	return nil
}
