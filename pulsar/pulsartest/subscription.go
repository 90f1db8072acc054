package pulsartest

import (
	"hash/fnv"
	"math/bits"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pullkit/broker/pulsar/pulsartest/internal/wire"
)

// subscription is a cursor over a topic plus the consumers attached to it.
//
// State, by entry index:
//   - every entry below markDelete is acknowledged;
//   - acked holds fully acknowledged entries at or above markDelete;
//   - partial holds batches of which only some messages were acknowledged
//     (bit i set = message i not yet acknowledged, the protocol's ack_set
//     convention);
//   - pending holds entries delivered to a consumer and not yet
//     acknowledged;
//   - every other entry at or above markDelete is waiting to be dispatched.
//
// Dispatch always scans from markDelete upwards, so redelivered entries go
// out before newer ones and per-consumer order follows entry order.
type subscription struct {
	t            *topic
	name         string
	typ          wire.CommandSubscribe_SubType
	durable      bool
	markDelete   uint64
	acked        map[uint64]bool
	partial      map[uint64][]int64
	pending      map[uint64]*delivery
	redeliveries map[uint64]uint32
	consumers    []*consumer // in attach order
	rr           int         // next Shared consumer to try
	scanFrom     uint64      // entries below it are acked or pending
	lastActive   *consumer   // Failover: the consumer last told it is active
}

type delivery struct {
	c  *consumer
	at time.Time
}

func newSubscription(t *topic, name string, typ wire.CommandSubscribe_SubType, durable bool, start uint64) *subscription {
	return &subscription{
		t:            t,
		name:         name,
		typ:          typ,
		durable:      durable,
		markDelete:   min(start, uint64(len(t.entries))),
		scanFrom:     min(start, uint64(len(t.entries))),
		acked:        make(map[uint64]bool),
		partial:      make(map[uint64][]int64),
		pending:      make(map[uint64]*delivery),
		redeliveries: make(map[uint64]uint32),
	}
}

// active returns the consumer an Exclusive or Failover subscription
// dispatches to. For Failover it is chosen among the consumers sorted by name,
// by partition index on a partitioned topic, so partitions spread over
// consumers (the rule the Java broker documents for failover subscriptions).
func (sub *subscription) active() *consumer {
	if len(sub.consumers) == 0 {
		return nil
	}
	if sub.typ != wire.CommandSubscribe_Failover {
		return sub.consumers[0]
	}
	sorted := slices.Clone(sub.consumers)
	slices.SortStableFunc(sorted, func(a, b *consumer) int { return strings.Compare(a.name, b.name) })
	i := 0
	if p := sub.t.partition; p > 0 {
		i = int(p) % len(sorted)
	}
	return sorted[i]
}

// checkActive follows a change of the active Failover consumer: every
// consumer learns whether it is now active (ACTIVE_CONSUMER_CHANGE), and what
// the previous active consumer held unacknowledged goes back in line for the
// new one, so that it sees the partition in order (the Java broker rewinds
// its cursor the same way). A newly attached consumer that is not active is
// told so. Call it after every attach or detach.
func (sub *subscription) checkActive(attached *consumer) {
	if sub.typ != wire.CommandSubscribe_Failover {
		return
	}
	a := sub.active()
	if a == sub.lastActive {
		if attached != nil && attached != a {
			attached.cn.activeConsumerChange(attached.id, false)
		}
		return
	}
	previous := sub.lastActive
	sub.lastActive = a
	if previous != nil {
		for idx, d := range sub.pending {
			if d.c != a {
				sub.redeliver(idx)
			}
		}
	}
	for _, c := range sub.consumers {
		c.cn.activeConsumerChange(c.id, c == a)
	}
}

// keyConsumer picks the KeyShared consumer of a key: a hash of the key over
// the consumers in attach order, so a key sticks to one consumer while the
// set of consumers does not change.
func (sub *subscription) keyConsumer(key string) *consumer {
	h := fnv.New32a()
	h.Write([]byte(key))
	return sub.consumers[int(h.Sum32()%uint32(len(sub.consumers)))]
}

// nextShared picks the next Shared consumer with permits, round robin.
func (sub *subscription) nextShared() *consumer {
	n := len(sub.consumers)
	for i := 0; i < n; i++ {
		c := sub.consumers[(sub.rr+i)%n]
		if c.permits > 0 {
			sub.rr = (sub.rr + i + 1) % n
			return c
		}
	}
	return nil
}

func (sub *subscription) anyPermits() bool {
	for _, c := range sub.consumers {
		if c.permits > 0 {
			return true
		}
	}
	return false
}

// dispatch hands waiting entries to consumers that have permits.
//
// It scans from scanFrom, below which every entry is acknowledged or pending,
// so that a long run of delivered-but-unacknowledged entries is not rescanned
// on every SEND and FLOW.
func (sub *subscription) dispatch() {
	if len(sub.consumers) == 0 {
		return
	}
	now := time.Now()
	// Delayed delivery applies to Shared and KeyShared subscriptions only,
	// as in Pulsar: the others must deliver in order.
	delays := sub.typ == wire.CommandSubscribe_Shared || sub.typ == wire.CommandSubscribe_Key_Shared
	var active *consumer
	if !delays {
		active = sub.active()
	}
	end := uint64(len(sub.t.entries))
	firstWaiting := end // lowest entry left waiting by this scan
	for idx := max(sub.markDelete, sub.scanFrom); idx < end; idx++ {
		if sub.acked[idx] || sub.pending[idx] != nil {
			continue
		}
		if !sub.anyPermits() {
			firstWaiting = min(firstWaiting, idx)
			break
		}
		e := sub.t.entries[idx]
		if delays && e.deliverAt > now.UnixMilli() {
			firstWaiting = min(firstWaiting, idx)
			continue
		}
		var c *consumer
		switch sub.typ {
		case wire.CommandSubscribe_Shared:
			c = sub.nextShared()
		case wire.CommandSubscribe_Key_Shared:
			c = sub.keyConsumer(e.key)
			if c.permits <= 0 {
				// Later entries of this key map to the same consumer and
				// wait too, which keeps per-key order.
				firstWaiting = min(firstWaiting, idx)
				continue
			}
		default:
			c = active
		}
		if c.permits <= 0 {
			// Exclusive and Failover deliver in order, to one consumer.
			firstWaiting = min(firstWaiting, idx)
			break
		}
		sub.deliver(c, idx, e, now)
	}
	sub.scanFrom = firstWaiting
}

// deliver sends one entry to c. Permits count messages, not entries, so a
// batch uses as many permits as it holds messages.
func (sub *subscription) deliver(c *consumer, idx uint64, e *entry, now time.Time) {
	msg := &wire.CommandMessage{
		ConsumerId: proto.Uint64(c.id),
		MessageId:  sub.t.messageID(idx),
	}
	if n := sub.redeliveries[idx]; n > 0 {
		msg.RedeliveryCount = proto.Uint32(n)
	}
	if set := sub.partial[idx]; set != nil {
		msg.AckSet = slices.Clone(set)
	}
	c.permits -= int64(e.numMsgs)
	sub.pending[idx] = &delivery{c: c, at: now}
	c.cn.send(&wire.BaseCommand{Type: wire.BaseCommand_MESSAGE.Enum(), Message: msg}, e.data)
}

// redeliver puts a delivered, unacknowledged entry back in line, counting
// the redelivery. It reports whether idx was pending.
func (sub *subscription) redeliver(idx uint64) bool {
	if sub.pending[idx] == nil {
		return false
	}
	delete(sub.pending, idx)
	sub.redeliveries[idx]++
	sub.scanFrom = min(sub.scanFrom, idx)
	return true
}

// redeliverConsumer puts back everything delivered to c and not acknowledged.
func (sub *subscription) redeliverConsumer(c *consumer) {
	for idx, d := range sub.pending {
		if d.c == c {
			sub.redeliver(idx)
		}
	}
}

// expireDeliveries redelivers entries delivered before the deadline.
func (sub *subscription) expireDeliveries(deadline time.Time) {
	any := false
	for idx, d := range sub.pending {
		if d.at.Before(deadline) {
			any = sub.redeliver(idx) || any
		}
	}
	if any {
		sub.dispatch()
	}
}

// ackIndividual acknowledges one entry, or some messages of a batch when the
// id carries an ack_set (batch index acknowledgement).
func (sub *subscription) ackIndividual(id *wire.MessageIdData) {
	idx := id.GetEntryId()
	if idx < sub.markDelete || idx >= uint64(len(sub.t.entries)) || sub.acked[idx] {
		return
	}
	if len(id.AckSet) > 0 && !sub.ackBatchIndexes(idx, id.AckSet) {
		return
	}
	sub.ackEntry(idx)
	sub.advance()
}

// ackBatchIndexes merges a client's ack_set into a batch's state; it reports
// whether every message of the batch is now acknowledged.
func (sub *subscription) ackBatchIndexes(idx uint64, set []int64) bool {
	e := sub.t.entries[idx]
	cur := sub.partial[idx]
	if cur == nil {
		cur = fullAckSet(e.numMsgs)
	}
	for i := range cur {
		if i < len(set) {
			cur[i] &= set[i]
		}
	}
	left := 0
	for _, w := range cur {
		left += bits.OnesCount64(uint64(w))
	}
	if left == 0 {
		return true
	}
	sub.partial[idx] = cur
	return false
}

// fullAckSet is the ack_set of a batch of n messages none of which is
// acknowledged: bits 0..n-1 set, in 64-bit words.
func fullAckSet(n int) []int64 {
	words := make([]int64, (n+63)/64)
	for i := 0; i < n; i++ {
		words[i/64] |= 1 << (i % 64)
	}
	return words
}

func (sub *subscription) ackEntry(idx uint64) {
	sub.acked[idx] = true
	delete(sub.partial, idx)
	delete(sub.pending, idx)
	delete(sub.redeliveries, idx)
}

// ackCumulative acknowledges every entry up to and including id's entry (or,
// with an ack_set, the entries before it and part of it). An entry id of -1
// (the client's "entry before the first") acknowledges nothing.
func (sub *subscription) ackCumulative(id *wire.MessageIdData) {
	last := id.GetEntryId()
	if last == ^uint64(0) {
		return
	}
	n := uint64(len(sub.t.entries))
	if n == 0 {
		return
	}
	if last >= n {
		last = n - 1
	}
	full := last + 1
	if len(id.AckSet) > 0 && !sub.ackBatchIndexes(last, id.AckSet) {
		full = last
	}
	for idx := sub.markDelete; idx < full; idx++ {
		sub.ackEntry(idx)
	}
	sub.advance()
}

// advance moves markDelete over acknowledged entries.
func (sub *subscription) advance() {
	for sub.markDelete < uint64(len(sub.t.entries)) && sub.acked[sub.markDelete] {
		delete(sub.acked, sub.markDelete)
		sub.markDelete++
	}
}

// reset moves the cursor: entries before idx count as acknowledged, all from
// idx on as never delivered.
func (sub *subscription) reset(idx uint64) {
	sub.markDelete = min(idx, uint64(len(sub.t.entries)))
	sub.scanFrom = sub.markDelete
	clear(sub.acked)
	clear(sub.partial)
	clear(sub.pending)
	clear(sub.redeliveries)
}

// backlog counts the messages not yet acknowledged.
func (sub *subscription) backlog() int {
	n := 0
	for idx := sub.markDelete; idx < uint64(len(sub.t.entries)); idx++ {
		if sub.acked[idx] {
			continue
		}
		if set := sub.partial[idx]; set != nil {
			for _, w := range set {
				n += bits.OnesCount64(uint64(w))
			}
			continue
		}
		n += sub.t.entries[idx].numMsgs
	}
	return n
}

// markDeleteID is the id of the last entry of the acknowledged prefix (-1
// when nothing is).
func (sub *subscription) markDeleteID() *wire.MessageIdData {
	return sub.t.messageID(sub.markDelete - 1)
}
