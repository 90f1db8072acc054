package pulsar

import (
	"sync"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"
)

// entryKey identifies a batch entry within a consumer's topic.
type entryKey struct {
	ledger, entry int64
	part          int32
}

// entryAcks is the set of acked batch indexes of one entry.
type entryAcks struct {
	key  entryKey
	bits []uint64
}

func (e *entryAcks) bit(i int32) (word int, mask uint64) {
	if i < 0 {
		i = 0 // not batched
	}
	return int(i / 64), 1 << (i % 64)
}

// recentAcks remembers the last messages acked (from the moment Ack is
// called, until the broker refuses the ack), so that a copy of an acked
// message that the broker had dispatched before the ack reached it is
// dropped instead of handed out again. Such copies come after a
// reconnection (the broker redelivers what was unacknowledged, acks in
// flight included) and after nacks: the client asks for the redelivery of
// whole batch entries, once per nacked message, so an entry can be
// redelivered again while an ack of one of its messages is on its way.
// Such copies arrive within a receiver queue or so of the ack, so a bounded
// window of entries suffices; they carry a redelivery count above 0 (the
// broker counts the redelivery), so first deliveries skip the lookup. Acks
// mostly come entry by entry, so the last entry is kept at hand.
type recentAcks struct {
	mu   sync.Mutex
	set  map[entryKey]*entryAcks
	ring []*entryAcks
	next int
	last *entryAcks
}

func newRecentAcks(entries int) *recentAcks {
	return &recentAcks{set: make(map[entryKey]*entryAcks, entries), ring: make([]*entryAcks, 0, entries)}
}

func entryOf(id pc.MessageID) entryKey {
	return entryKey{id.LedgerID(), id.EntryID(), id.PartitionIdx()}
}

// lookupLocked returns k's acks, creating them (and evicting the oldest
// entry) if create is set; r.mu must be held.
func (r *recentAcks) lookupLocked(k entryKey, create bool) *entryAcks {
	if r.last != nil && r.last.key == k {
		return r.last
	}
	e := r.set[k]
	if e == nil {
		if !create {
			return nil
		}
		e = &entryAcks{key: k}
		if len(r.ring) < cap(r.ring) {
			r.ring = append(r.ring, e)
		} else {
			delete(r.set, r.ring[r.next].key)
			r.ring[r.next] = e
			r.next = (r.next + 1) % len(r.ring)
		}
		r.set[k] = e
	}
	r.last = e
	return e
}

func (r *recentAcks) add(id pc.MessageID) {
	r.mu.Lock()
	e := r.lookupLocked(entryOf(id), true)
	w, m := e.bit(id.BatchIdx())
	for len(e.bits) <= w {
		e.bits = append(e.bits, 0)
	}
	e.bits[w] |= m
	r.mu.Unlock()
}

// remove forgets id, for an ack the broker refused: its copies must come
// through.
func (r *recentAcks) remove(id pc.MessageID) {
	r.mu.Lock()
	if e := r.lookupLocked(entryOf(id), false); e != nil {
		if w, m := e.bit(id.BatchIdx()); w < len(e.bits) {
			e.bits[w] &^= m
		}
	}
	r.mu.Unlock()
}

func (r *recentAcks) has(id pc.MessageID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.lookupLocked(entryOf(id), false)
	if e == nil {
		return false
	}
	w, m := e.bit(id.BatchIdx())
	return w < len(e.bits) && e.bits[w]&m != 0
}

// retryDelays are the pauses before sending again an acknowledgement that
// failed: typically the connection dropped and the client is reconnecting,
// after which the same message ids can still be acknowledged.
var retryDelays = []time.Duration{50 * time.Millisecond, 150 * time.Millisecond, 400 * time.Millisecond}

// retry calls f until it succeeds or retryDelays are used up, and returns
// its last error.
func retry(f func() error) error {
	err := f()
	for _, d := range retryDelays {
		if err == nil {
			return nil
		}
		time.Sleep(d)
		err = f()
	}
	return err
}
