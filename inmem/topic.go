package inmem

import (
	"slices"
	"strconv"
	"sync"
	"time"
)

// entry is one published message as the log keeps it. Entries are stored by
// value in their partition's slice and never change once appended, so
// deliveries copy them without locking anything else.
type entry struct {
	key       string
	data      []byte
	attrs     map[string]any
	published time.Time
	id        string // "partition-offset"; set only when queue subscriptions exist
	partition int32
	offset    int64
}

// topic is a partitioned log plus the queue subscriptions and consumer
// groups reading it. mu guards the log, the groups and the subscription
// list; each subscription has its own lock, taken after mu.
type topic struct {
	b    *Broker
	name string

	mu      sync.Mutex
	parts   []partitionLog
	rr      uint32 // round-robin partition for empty keys
	subs    map[string]*subscription
	subList []*subscription // subs in creation order, for the publish loop
	groups  map[string]*group
	logWait chan struct{} // closed and cleared when log readers may have news
}

func newTopic(b *Broker, name string, partitions int) *topic {
	return &topic{
		b:      b,
		name:   name,
		parts:  make([]partitionLog, partitions),
		subs:   make(map[string]*subscription),
		groups: make(map[string]*group),
	}
}

// partitionFor picks the partition of a key: FNV-1a (32-bit) of the key
// modulo the partition count, so one key always lands in one partition;
// empty keys are spread round-robin. Called with mu held.
func (t *topic) partitionFor(key string) int {
	n := uint32(len(t.parts))
	if key == "" {
		p := t.rr % n
		t.rr++
		return int(p)
	}
	return int(fnv1a(key) % n)
}

// fnv1a hashes s without allocating (hash/fnv needs a []byte and an
// interface value).
func fnv1a(s string) uint32 {
	const (
		offset32 = 2166136261
		prime32  = 16777619
	)
	h := uint32(offset32)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= prime32
	}
	return h
}

// appendLocked places e in its partition, fills in its coordinates and
// returns its permanent address.
func (t *topic) appendLocked(e entry, now time.Time) *entry {
	p := t.partitionFor(e.key)
	e.partition = int32(p)
	e.offset = t.parts[p].len()
	e.published = now
	if len(t.subList) > 0 {
		// IDs are only read by queue deliveries; log-only topics skip the
		// allocation.
		var buf [40]byte
		b := strconv.AppendInt(buf[:0], int64(p), 10)
		b = append(b, '-')
		b = strconv.AppendInt(b, e.offset, 10)
		e.id = string(b)
	}
	return t.parts[p].append(e)
}

// publish appends one entry and hands it to every queue subscription.
func (t *topic) publish(e entry) {
	t.mu.Lock()
	ep := t.appendLocked(e, t.b.clock.Now())
	for _, s := range t.subList {
		s.enqueue(ep)
	}
	t.wakeLogLocked()
	t.mu.Unlock()
}

// publishAll appends entries atomically: readers see all of them or none.
func (t *topic) publishAll(es []entry) {
	if len(es) == 0 {
		return
	}
	t.mu.Lock()
	now := t.b.clock.Now()
	var eps []*entry
	if len(t.subList) > 0 {
		eps = make([]*entry, len(es))
	}
	for i := range es {
		ep := t.appendLocked(es[i], now)
		if eps != nil {
			eps[i] = ep
		}
	}
	for _, s := range t.subList {
		s.enqueueAll(eps)
	}
	t.wakeLogLocked()
	t.mu.Unlock()
}

// logWaitLocked returns a channel closed at the next change log readers
// care about (an append, a rebalance). It is made only when someone waits,
// so publishing to a topic nobody waits on allocates nothing.
func (t *topic) logWaitLocked() <-chan struct{} {
	if t.logWait == nil {
		t.logWait = make(chan struct{})
	}
	return t.logWait
}

func (t *topic) wakeLogLocked() {
	if t.logWait != nil {
		close(t.logWait)
		t.logWait = nil
	}
}

// subscription returns the named queue subscription, creating it at the
// current end of the log: it receives what is published from now on.
func (t *topic) subscription(name string) *subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.subs[name]
	if !ok {
		s = newSubscription(t, name)
		t.subs[name] = s
		t.subList = append(t.subList, s)
	}
	return s
}

// shutdown stops the timers of every subscription; part of Broker.Close.
func (t *topic) shutdown() {
	t.mu.Lock()
	subs := slices.Clone(t.subList)
	t.mu.Unlock()
	for _, s := range subs {
		s.shutdown()
	}
}
