package adapters

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pullkit/broker"
)

// watermark commits a record receiver's records contiguously.
//
// Every record the receiver pulls is tracked, in pull order (which is offset
// order within a partition), and handed out with a Settler of its own. An
// ack marks its entry; the entries acked at the front of a partition's queue
// are popped, and the source's Ack (cumulative) is called once, for the last
// of them. A record that is never acked therefore holds back every commit
// past it, which is exactly the log's rule.
//
// Locks: mu guards the partitions and their queues and is never held while
// calling out. Each partition's commitMu orders its commits (so the source
// never sees a commit move backwards) and lets a revocation wait for a commit
// in flight: once revoke returns, nothing more is committed for the
// partition on behalf of its next owner.
type watermark struct {
	mu      sync.Mutex
	parts   map[broker.TopicPartition]*partState
	slab    []entry       // entries are allocated in chunks: one allocation less per record
	count   int           // tracked entries not yet committed or dropped
	max     int           // WithMaxPending
	space   chan struct{} // closed when count drops below max; nil when nobody waits
	closed  atomic.Bool   // the receiver returned: later acks are refused
	unwatch func()
	// epoch counts revocations and revokedAt keeps each revoked
	// partition's latest one, so that track can refuse a record pulled
	// before its partition was revoked (see stamp).
	epoch     uint64
	revokedAt map[broker.TopicPartition]uint64
}

type partState struct {
	tp        broker.TopicPartition
	revoked   atomic.Bool
	pending   []*entry // tracked, not yet committed, in offset order; from head on
	head      int
	commitMu  sync.Mutex
	committed int64 // highest offset committed through this state, if hasCommit
	hasCommit bool
}

// entry keeps of the source's record only what its Ack needs: a full
// Record copy per record would double what the receiver allocates.
type entry struct {
	// Settler is the handed-out record's: embedded, so that a record costs
	// no allocation of its own beyond its share of the slab.
	broker.Settler
	part    *partState
	w       *watermark
	offset  int64
	settler *broker.Settler // the source record's
	commit  func()          // the source record's CommitFunc
	acked   bool            // guarded by w.mu
}

// source rebuilds the source's record for settling it: Ack and AckContext
// use only its Settler and CommitFunc.
func (e *entry) source() broker.Record {
	return broker.Record{Offset: e.offset, Topic: e.part.tp.Topic, Partition: e.part.tp.Partition,
		Settler: e.settler, CommitFunc: e.commit}
}

const slabSize = 128

func newWatermark(maxPending int, src any) *watermark {
	w := &watermark{parts: make(map[broker.TopicPartition]*partState), max: maxPending,
		revokedAt: make(map[broker.TopicPartition]uint64)}
	if n, ok := src.(broker.RevocationNotifier); ok {
		w.unwatch = n.OnRevoke(w.revoke)
	}
	return w
}

// wait blocks while the receiver holds WithMaxPending uncommitted records.
func (w *watermark) wait(ctx context.Context) error {
	for {
		w.mu.Lock()
		if w.count < w.max {
			w.mu.Unlock()
			return nil
		}
		if w.space == nil {
			w.space = make(chan struct{})
		}
		space := w.space
		w.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// stamp is read once a record was pulled, before wait: a revocation
// while the record waits (and which may be what frees the room it waits
// for) makes track refuse it.
func (w *watermark) stamp() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.epoch
}

// track registers r and returns the copy to hand out, whose Ack goes
// through the watermark instead of straight to the source. It reports
// false, tracking nothing, when r's partition was revoked since stamp: r
// belongs to the previous assignment, and entering it in the fresh
// watermark would let its ack commit for the new one.
func (w *watermark) track(r broker.Record, stamp uint64) (broker.Record, *entry, bool) {
	tp := r.PartitionOf()
	w.mu.Lock()
	if w.revokedAt[tp] > stamp {
		w.mu.Unlock()
		return broker.Record{}, nil, false
	}
	if len(w.slab) == 0 {
		w.slab = make([]entry, slabSize)
	}
	e := &w.slab[0]
	w.slab = w.slab[1:]
	*e = entry{w: w, offset: r.Offset, settler: r.Settler, commit: r.CommitFunc}
	p := w.parts[tp]
	if p == nil {
		// First record of the partition, or first since it was revoked
		// and assigned again: a fresh watermark.
		p = &partState{tp: tp}
		w.parts[tp] = p
	}
	e.part = p
	p.pending = append(p.pending, e)
	w.count++
	w.mu.Unlock()
	e.Settler.Init(e)
	h := r
	h.CommitFunc = nil
	h.Settler = &e.Settler
	return h, e, true
}

// Settle is the handed-out record's Ack: it marks the record done in the watermark.
func (e *entry) Settle(ctx context.Context, s broker.Settlement) error {
	if s.Kind != broker.SettleAck {
		return fmt.Errorf("%w: %s of a record; a log only commits", broker.ErrUnsupported, s.Kind)
	}
	return e.w.ack(ctx, e, s.NoWait)
}

// Extend: records have no ack deadline.
func (e *entry) Extend(context.Context, time.Duration) error {
	return fmt.Errorf("%w: a log record has no ack deadline", broker.ErrUnsupported)
}

func (w *watermark) ack(ctx context.Context, e *entry, noWait bool) error {
	p := e.part
	if w.closed.Load() {
		return fmt.Errorf("%w: %s offset %d acked after its receiver returned; it will be replayed",
			broker.ErrClosed, p.tp, e.offset)
	}
	w.mu.Lock()
	if p.revoked.Load() {
		w.mu.Unlock()
		return revokedError(e)
	}
	e.acked = true
	var last *entry
	n := 0
	for p.head < len(p.pending) && p.pending[p.head].acked {
		last = p.pending[p.head]
		p.pending[p.head] = nil
		p.head++
		n++
	}
	switch {
	case p.head == len(p.pending):
		p.pending, p.head = p.pending[:0], 0
	case p.head >= 256 && p.head*2 >= len(p.pending):
		// Reclaim the popped front once it is most of the slice.
		k := copy(p.pending, p.pending[p.head:])
		clear(p.pending[k:])
		p.pending, p.head = p.pending[:k], 0
	}
	w.freeLocked(n)
	w.mu.Unlock()
	if last == nil {
		return nil // an earlier record is still unacked: nothing to commit yet
	}
	return p.commit(ctx, last, noWait)
}

func (w *watermark) freeLocked(n int) {
	w.count -= n
	if w.space != nil && w.count < w.max {
		close(w.space)
		w.space = nil
	}
}

// commit calls the source's cumulative Ack for last, unless a later commit
// already covered it or the partition was revoked.
func (p *partState) commit(ctx context.Context, last *entry, noWait bool) error {
	p.commitMu.Lock()
	defer p.commitMu.Unlock()
	if p.hasCommit && last.offset <= p.committed {
		return nil // a concurrent ack committed further already
	}
	if p.revoked.Load() {
		return revokedError(last)
	}
	prev, had := p.committed, p.hasCommit
	p.committed, p.hasCommit = last.offset, true
	rec := last.source()
	if noWait {
		rec.Ack()
		return nil
	}
	err := rec.AckContext(ctx)
	if errors.Is(err, broker.ErrAlreadySettled) {
		return nil
	}
	if err != nil && (!rec.Settled() || errors.Is(err, broker.ErrPartitionRevoked)) {
		// ctx ended before the commit was even attempted, or the source
		// refused it (a record of its previous assignment): nothing was
		// committed, and later commits of lower offsets must not be
		// skipped as covered.
		p.committed, p.hasCommit = prev, had
	}
	return err
}

// revoke is the broker.RevocationNotifier callback: it drops the state of
// the partitions (their buffered records will not be handed out, their
// handed-out records' acks are refused) and waits for a commit in flight.
func (w *watermark) revoke(tps []broker.TopicPartition) {
	var gone []*partState
	w.mu.Lock()
	w.epoch++
	for _, tp := range tps {
		w.revokedAt[tp] = w.epoch
		p := w.parts[tp]
		if p == nil {
			continue
		}
		p.revoked.Store(true)
		w.freeLocked(len(p.pending) - p.head)
		p.pending, p.head = nil, 0
		delete(w.parts, tp)
		gone = append(gone, p)
	}
	w.mu.Unlock()
	for _, p := range gone {
		p.commitMu.Lock()
		p.commitMu.Unlock() //nolint:staticcheck // waiting for a commit in flight is the point
	}
}

func (w *watermark) close() {
	w.closed.Store(true)
	if w.unwatch != nil {
		w.unwatch()
	}
}

func revokedError(e *entry) error {
	return fmt.Errorf("%w: %s offset %d", broker.ErrPartitionRevoked, e.part.tp, e.offset)
}
