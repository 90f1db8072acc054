package inmem

import "math/bits"

// Chunk sizes of a partition's log: the first chunk holds firstChunk
// entries, each next one twice as many, up to maxChunk.
const (
	firstChunkShift = 3 // 8 entries
	maxChunkShift   = 12
	firstChunk      = 1 << firstChunkShift
	maxChunk        = 1 << maxChunkShift
	// smallEntries is how many entries the doubling chunks hold together.
	smallEntries = firstChunk * (1<<(maxChunkShift-firstChunkShift+1) - 1)
)

// partitionLog is one partition's entries, in chunks that are never
// reallocated: a *entry stays valid and unchanged once appended, so queue
// subscriptions and deliveries refer to entries by pointer instead of
// copying them, and appending never moves the log. Guarded by the topic's
// lock; the entries themselves are immutable and readable without it.
type partitionLog struct {
	chunks [][]entry
	n      int64
}

func (l *partitionLog) len() int64 { return l.n }

// append stores e and returns its permanent address.
func (l *partitionLog) append(e entry) *entry {
	k := len(l.chunks) - 1
	if k < 0 || len(l.chunks[k]) == cap(l.chunks[k]) {
		size := maxChunk
		if k+1 <= maxChunkShift-firstChunkShift {
			size = firstChunk << (k + 1)
		}
		l.chunks = append(l.chunks, make([]entry, 0, size))
		k++
	}
	l.chunks[k] = append(l.chunks[k], e)
	l.n++
	return &l.chunks[k][len(l.chunks[k])-1]
}

// at returns the entry at offset off, which must be below len.
func (l *partitionLog) at(off int64) *entry {
	if off < smallEntries {
		// Chunk k starts at firstChunk*(2^k-1).
		q := uint64(off)/firstChunk + 1
		k := bits.Len64(q) - 1
		start := int64(firstChunk) * (1<<k - 1)
		return &l.chunks[k][off-start]
	}
	rest := off - smallEntries
	k := maxChunkShift - firstChunkShift + 1 + int(rest/maxChunk)
	return &l.chunks[k][rest%maxChunk]
}
