package inmem

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/pullkit/broker"
)

// msgKey names a message of a subscription: its entry's address is unique
// in the topic, and a subscription holds each message in exactly one place
// (pending, in flight or delayed).
type msgKey = *entry

func (e *entry) msgKey() msgKey { return e }

// qitem is a message of a subscription with its delivery count.
type qitem struct {
	e          *entry
	deliveries int
}

// inflight is a delivered, unsettled message. gen identifies the delivery:
// a settlement or timer from an earlier delivery of the same message carries
// another gen and is ignored.
type inflight struct {
	it       qitem
	gen      uint64
	holder   *QueueConsumer
	deadline time.Time // zero when the holder has no ack deadline
}

type delayed struct {
	it  qitem
	gen uint64
}

// subscription is a durable queue subscription: a FIFO of pending messages,
// the messages in flight, the delayed nacks, and one timer for all of its
// deadlines. mu guards everything.
type subscription struct {
	t    *topic
	b    *Broker
	name string

	mu       sync.Mutex
	closed   bool // the broker was closed: no timers any more
	pending  []qitem
	head     int // pending[head:] is the queue
	inflight map[msgKey]inflight
	delayed  map[msgKey]delayed
	gen      uint64
	wait     chan struct{} // closed and cleared when pending grows
	timers   timers

	deadOut     []deadLetter     // dead letters to forward once mu is released
	deadLetters []broker.Message // everything given up on, for DeadLetters
}

func newSubscription(t *topic, name string) *subscription {
	s := &subscription{
		t:        t,
		b:        t.b,
		name:     name,
		inflight: make(map[msgKey]inflight),
		delayed:  make(map[msgKey]delayed),
	}
	s.timers.s = s
	return s
}

// enqueue adds a freshly published message. Called with the topic's lock
// held, which orders it against the subscription's creation.
func (s *subscription) enqueue(e *entry) {
	s.mu.Lock()
	s.pushLocked(qitem{e: e})
	s.mu.Unlock()
}

func (s *subscription) enqueueAll(es []*entry) {
	s.mu.Lock()
	for i := range es {
		s.pushLocked(qitem{e: es[i]})
	}
	s.mu.Unlock()
}

func (s *subscription) pushLocked(it qitem) {
	if s.head > 0 && s.head == len(s.pending) {
		// Drained: reuse the array from its start.
		clear(s.pending[:s.head])
		s.pending, s.head = s.pending[:0], 0
	} else if s.head >= 1024 && s.head*2 >= len(s.pending) {
		// Mostly consumed: slide the live part down instead of growing.
		n := copy(s.pending, s.pending[s.head:])
		clear(s.pending[n:])
		s.pending, s.head = s.pending[:n], 0
	}
	s.pending = append(s.pending, it)
	if s.wait != nil {
		close(s.wait)
		s.wait = nil
	}
}

func (s *subscription) popLocked() (qitem, bool) {
	if s.head == len(s.pending) {
		return qitem{}, false
	}
	it := s.pending[s.head]
	s.pending[s.head] = qitem{} // let the payload go once it is settled
	s.head++
	return it, true
}

func (s *subscription) waitLocked() <-chan struct{} {
	if s.wait == nil {
		s.wait = make(chan struct{})
	}
	return s.wait
}

// deliverLocked hands it to c and returns the message with a Settler bound
// to this delivery.
func (s *subscription) deliverLocked(c *QueueConsumer, it qitem, now time.Time) broker.Message {
	s.gen++
	gen := s.gen
	it.deliveries++
	key := it.e.msgKey()
	var deadline time.Time
	if c.cfg.AckDeadline > 0 {
		deadline = now.Add(c.cfg.AckDeadline)
		s.timers.addLocked(timerEvent{at: deadline, key: key, gen: gen, kind: eventDeadline})
	}
	s.inflight[key] = inflight{it: it, gen: gen, holder: c, deadline: deadline}
	d := &queueDelivery{c: c, key: key, gen: gen}
	d.Settler.Init(d)
	return broker.Message{
		ID:            it.e.id,
		Key:           it.e.key,
		Data:          it.e.data,
		Attributes:    it.e.attrs,
		PublishTime:   it.e.published,
		IngestionTime: now,
		DeliveryCount: it.deliveries,
		Settler:       &d.Settler,
	}
}

// queueDelivery is one delivery of a message: the Settler that makes its
// settlement once-only and what it needs to find the message again, in one
// allocation.
type queueDelivery struct {
	broker.Settler
	c   *QueueConsumer
	key msgKey
	gen uint64
}

func (d *queueDelivery) Settle(_ context.Context, st broker.Settlement) error {
	return d.c.s.settle(d.c, d.key, d.gen, st)
}

func (d *queueDelivery) Extend(_ context.Context, by time.Duration) error {
	if d.c.cfg.AckDeadline <= 0 {
		return fmt.Errorf("%w: subscription %q has no ack deadline (QueueConfig.AckDeadline < 0)", broker.ErrUnsupported, d.c.s.name)
	}
	return d.c.s.extend(d.c, d.key, d.gen, by)
}

// requeueLocked makes a message available again, after delay, unless the
// policy says it had its last delivery.
func (s *subscription) requeueLocked(it qitem, gen uint64, pol broker.PoisonPolicy, delay time.Duration) {
	if pol.Exceeded(it.deliveries + 1) {
		s.deadLetterLocked(it, pol, fmt.Sprintf("delivered %d times, PoisonPolicy.MaxDeliveries is %d", it.deliveries, pol.MaxDeliveries))
		return
	}
	if delay > 0 && !s.closed {
		key := it.e.msgKey()
		s.delayed[key] = delayed{it: it, gen: gen}
		s.timers.addLocked(timerEvent{at: s.b.clock.Now().Add(delay), key: key, gen: gen, kind: eventReady})
		return
	}
	s.pushLocked(it)
}

// settle applies the settlement of one delivery; the Settler guarantees it
// is called at most once per delivery.
func (s *subscription) settle(c *QueueConsumer, key msgKey, gen uint64, st broker.Settlement) error {
	s.mu.Lock()
	if c.closed {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s of a message of subscription %q after its consumer closed; it is delivered again", broker.ErrClosed, st.Kind, s.name)
	}
	inf, ok := s.inflight[key]
	if !ok || inf.gen != gen {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s of message %d-%d of subscription %q: it was delivered again", ErrDeadlineExpired, st.Kind, key.partition, key.offset, s.name)
	}
	if err := s.b.faults.take(faultSettle, s.name); err != nil {
		s.mu.Unlock()
		return injected(st.Kind.String()+" on subscription", s.name, err)
	}
	delete(s.inflight, key)
	switch st.Kind {
	case broker.SettleNack:
		delay := st.Delay
		if delay <= 0 {
			delay = c.cfg.Poison.NackDelay
		}
		s.requeueLocked(inf.it, gen, c.cfg.Poison, delay)
	case broker.SettleReject:
		reason := st.Reason
		if reason == "" {
			reason = "rejected"
		}
		s.deadLetterLocked(inf.it, c.cfg.Poison, reason)
	}
	dead := s.takeDeadLocked()
	s.mu.Unlock()
	s.b.forward(dead)
	return nil
}

// extend keeps a delivery leased for at least d from now.
func (s *subscription) extend(c *QueueConsumer, key msgKey, gen uint64, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w: extend by %v, need a positive duration", broker.ErrInvalidOption, d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.closed {
		return fmt.Errorf("%w: extend after the consumer of subscription %q closed", broker.ErrClosed, s.name)
	}
	inf, ok := s.inflight[key]
	if !ok || inf.gen != gen {
		return fmt.Errorf("%w: extend message %d-%d of subscription %q: it was delivered again", ErrDeadlineExpired, key.partition, key.offset, s.name)
	}
	// At least d from now, never shorter than the lease already has left:
	// the contract of broker.Message.Extend, and what Pub/Sub's modack and
	// Service Bus's renewal do.
	until := s.b.clock.Now().Add(d)
	if !until.After(inf.deadline) {
		return nil
	}
	inf.deadline = until
	s.inflight[key] = inf
	s.timers.addLocked(timerEvent{at: inf.deadline, key: key, gen: gen, kind: eventDeadline})
	return nil
}

// fire handles a due timer event; stale events (settled, extended or
// redelivered since) are ignored.
func (s *subscription) fireLocked(ev timerEvent) {
	switch ev.kind {
	case eventDeadline:
		inf, ok := s.inflight[ev.key]
		if !ok || inf.gen != ev.gen || !inf.deadline.Equal(ev.at) {
			return
		}
		delete(s.inflight, ev.key)
		s.requeueLocked(inf.it, inf.gen, inf.holder.cfg.Poison, 0)
	case eventReady:
		d, ok := s.delayed[ev.key]
		if !ok || d.gen != ev.gen {
			return
		}
		delete(s.delayed, ev.key)
		s.pushLocked(d.it)
	}
}

// liveLocked reports whether ev still matters, for compacting the timers.
func (s *subscription) liveLocked(ev timerEvent) bool {
	switch ev.kind {
	case eventDeadline:
		inf, ok := s.inflight[ev.key]
		return ok && inf.gen == ev.gen && inf.deadline.Equal(ev.at)
	default:
		d, ok := s.delayed[ev.key]
		return ok && d.gen == ev.gen
	}
}

func (s *subscription) liveCountLocked() int { return len(s.inflight) + len(s.delayed) }

// release returns every message c holds, in log order, for redelivery.
func (s *subscription) releaseLocked(c *QueueConsumer) {
	var held []inflight
	for k, inf := range s.inflight {
		if inf.holder == c {
			held = append(held, inf)
			delete(s.inflight, k)
		}
	}
	slices.SortFunc(held, func(a, b inflight) int {
		if c := cmp.Compare(a.it.e.partition, b.it.e.partition); c != 0 {
			return c
		}
		return cmp.Compare(a.it.e.offset, b.it.e.offset)
	})
	for _, inf := range held {
		s.requeueLocked(inf.it, inf.gen, c.cfg.Poison, 0)
	}
}

// shutdown is the subscription's part of Broker.Close: stop the timer and
// put delayed messages back with the others, so nothing is left scheduled.
func (s *subscription) shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.timers.stopLocked()
	held := make([]delayed, 0, len(s.delayed))
	for _, d := range s.delayed {
		held = append(held, d)
	}
	clear(s.delayed)
	slices.SortFunc(held, func(a, b delayed) int {
		if c := cmp.Compare(a.it.e.partition, b.it.e.partition); c != 0 {
			return c
		}
		return cmp.Compare(a.it.e.offset, b.it.e.offset)
	})
	for _, d := range held {
		s.pushLocked(d.it)
	}
}
