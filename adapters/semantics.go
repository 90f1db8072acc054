package adapters

import (
	"hash/maphash"

	"github.com/pullkit/broker"
)

// Item is what flows through an adapter: a queue message or a log record.
type Item interface {
	broker.Message | broker.Record
}

// semantics is everything the generic machinery needs to know about the
// two kinds of item. It is the only place where queue and log differ,
// apart from the record receiver's watermark.
type semantics[T Item] struct {
	// release settles an item that was pulled but never handed out: a
	// message is nacked so the broker redelivers it at once; a record is
	// left alone, because not committing it is what makes the log replay it.
	release func(T)
	// partition is nil for messages: they have no order and nothing of
	// theirs is ever revoked.
	partition func(T) broker.TopicPartition
}

var (
	messageSem = &semantics[broker.Message]{
		release: func(m broker.Message) { m.Nack() },
	}
	recordSem = &semantics[broker.Record]{
		release:   func(broker.Record) {},
		partition: func(r broker.Record) broker.TopicPartition { return r.PartitionOf() },
	}
)

func (s *semantics[T]) releaseAll(b []T) {
	for _, v := range b {
		s.release(v)
	}
}

// elemOps tells the generic pulls, pumps and pools how to release one
// channel element E (an item or a batch of items) and whether it is still
// valid after partitions were revoked.
//
// Elements go by value, never by pointer: a pointer to a loop variable
// passed to a func value makes the variable escape, which costs one heap
// allocation per item.
type elemOps[E any] struct {
	release func(E)
	// keep reports whether v, pulled when the revocation epoch was stamp,
	// may still be handed out; for a batch it returns the batch without the
	// revoked records and reports whether any is left. nil when nothing can
	// be revoked.
	keep func(v E, stamp uint64) (E, bool)
	revs *revocations
}

func (o *elemOps[E]) stamp() uint64 {
	if o.revs == nil {
		return 0
	}
	return o.revs.epoch.Load()
}

func (o *elemOps[E]) fresh(v E, stamp uint64) (E, bool) {
	if o.keep == nil {
		return v, true
	}
	return o.keep(v, stamp)
}

func singleOps[T Item](sem *semantics[T], revs *revocations) elemOps[T] {
	o := elemOps[T]{release: sem.release, revs: revs}
	if revs != nil && sem.partition != nil {
		o.keep = func(v T, stamp uint64) (T, bool) { return v, !revs.stale(sem.partition(v), stamp) }
	}
	return o
}

func batchOps[T Item](sem *semantics[T], revs *revocations) elemOps[[]T] {
	o := elemOps[[]T]{release: sem.releaseAll, revs: revs}
	if revs != nil && sem.partition != nil {
		o.keep = func(b []T, stamp uint64) ([]T, bool) {
			kept := b[:0]
			for i := range b {
				if !revs.stale(sem.partition(b[i]), stamp) {
					kept = append(kept, b[i])
				}
			}
			clear(b[len(kept):])
			return kept, len(kept) > 0
		}
	}
	return o
}

var laneSeed = maphash.MakeSeed()

// laneOf picks the worker for a record: every record of a partition (or,
// by key, of one key of a partition) maps to the same worker, which is what
// keeps them in order.
func laneOf(r *broker.Record, byKey bool, n int) int {
	if n == 1 {
		return 0
	}
	h := maphash.String(laneSeed, r.Topic) ^ uint64(r.Partition)*0x9E3779B97F4A7C15
	if byKey {
		h ^= maphash.String(laneSeed, r.Key) * 0xC2B2AE3D27D4EB4F
	}
	h ^= h >> 29
	return int(h % uint64(n))
}
