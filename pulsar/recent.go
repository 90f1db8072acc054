package pulsar

import (
	"sync"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"
)

// msgKey identifies a message within a consumer's topic.
type msgKey struct {
	ledger, entry int64
	batch, part   int32
}

func keyOf(id pc.MessageID) msgKey {
	return msgKey{id.LedgerID(), id.EntryID(), id.BatchIdx(), id.PartitionIdx()}
}

// recentAcks remembers the last messages acked (from the moment Ack is
// called, until the broker refuses the ack), so that a copy of an acked
// message that the broker had dispatched before the ack reached it is
// dropped instead of handed out again. Such copies come after a
// reconnection (the broker redelivers what was unacknowledged, acks in
// flight included) and after nacks: the client asks for the redelivery of
// whole batch entries, once per nacked message, so an entry can be
// redelivered again while an ack of one of its messages is on its way. Such copies arrive within a receiver queue or so of the ack, so a
// bounded window suffices. Such copies carry a redelivery count above 0
// (the broker counts the redelivery), so first deliveries skip the lookup.
type recentAcks struct {
	mu   sync.Mutex
	set  map[msgKey]struct{}
	ring []msgKey
	next int
}

func newRecentAcks(n int) *recentAcks {
	return &recentAcks{set: make(map[msgKey]struct{}, n), ring: make([]msgKey, 0, n)}
}

// addLocked remembers k; r.mu must be held.
func (r *recentAcks) addLocked(k msgKey) {
	if _, ok := r.set[k]; ok {
		return
	}
	if len(r.ring) < cap(r.ring) {
		r.ring = append(r.ring, k)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = k
		r.next = (r.next + 1) % len(r.ring)
	}
	r.set[k] = struct{}{}
}

func (r *recentAcks) add(k msgKey) {
	r.mu.Lock()
	r.addLocked(k)
	r.mu.Unlock()
}

// remove forgets k, for an ack the broker refused: its copies must come
// through. Its ring slot stays until reused.
func (r *recentAcks) remove(k msgKey) {
	r.mu.Lock()
	delete(r.set, k)
	r.mu.Unlock()
}

func (r *recentAcks) has(k msgKey) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.set[k]
	return ok
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
