package inmem

import (
	"slices"
	"sync"

	"github.com/pullkit/broker"
)

// group is a consumer group of one topic: its members, who owns which
// partition, and its commits. The fields after rebal are guarded by the
// topic's lock.
type group struct {
	t    *topic
	name string

	// rebal serializes membership changes, so revocation callbacks of one
	// group never run concurrently and a partition is handed over once its
	// old owner's callbacks returned.
	rebal sync.Mutex

	nextID    uint64
	members   []*LogConsumer // in join order, which is ascending id
	owner     []*LogConsumer // per partition; nil while unassigned or being handed over
	committed []int64        // per partition: next offset to read; -1 when nothing was committed
	start     []int64        // per partition: where to start without a commit
}

// groupLocked returns the named group, creating it at the start (or, with
// startAtEnd, the current end) of every partition.
func (t *topic) groupLocked(name string, startAtEnd bool) *group {
	if g, ok := t.groups[name]; ok {
		return g
	}
	n := len(t.parts)
	g := &group{
		t:         t,
		name:      name,
		owner:     make([]*LogConsumer, n),
		committed: make([]int64, n),
		start:     make([]int64, n),
	}
	for p := range n {
		g.committed[p] = -1
		if startAtEnd {
			g.start[p] = t.parts[p].len()
		}
	}
	t.groups[name] = g
	return g
}

func (g *group) positionLocked(p int) int64 {
	if c := g.committed[p]; c >= 0 {
		return c
	}
	return g.start[p]
}

// rebalance moves partitions to the owners the current membership calls
// for: partition p belongs to members[p % len(members)], members ordered by
// join. It runs with g.rebal held, in three steps:
//
//  1. under the topic lock, old owners stop reading the partitions they
//     lose (they may still commit them);
//  2. without the lock, their OnRevoke callbacks run, so the callbacks may
//     commit what they finished, and no one else reads those partitions yet;
//  3. under the lock again, the old owners lose the right to commit them
//     (later acks get broker.ErrPartitionRevoked) and the new owners start
//     at the committed offset.
func (g *group) rebalance() {
	t := g.t
	type revocation struct {
		c     *LogConsumer
		parts []int
	}
	var revs []revocation

	t.mu.Lock()
	want := make([]*LogConsumer, len(g.owner))
	if len(g.members) > 0 {
		for p := range want {
			want[p] = g.members[p%len(g.members)]
		}
	}
	for p, cur := range g.owner {
		if cur == nil || cur == want[p] {
			continue
		}
		cur.stopReadingLocked(p)
		g.owner[p] = nil
		i := slices.IndexFunc(revs, func(r revocation) bool { return r.c == cur })
		if i < 0 {
			revs = append(revs, revocation{c: cur})
			i = len(revs) - 1
		}
		revs[i].parts = append(revs[i].parts, p)
	}
	t.mu.Unlock()

	for _, r := range revs {
		r.c.notifyRevoked(r.parts)
	}

	t.mu.Lock()
	for _, r := range revs {
		for _, p := range r.parts {
			r.c.owned[p] = false
			r.c.epoch[p]++
		}
	}
	for p, c := range want {
		if c != nil && g.owner[p] == nil {
			c.assignLocked(p, g.positionLocked(p))
			g.owner[p] = c
		}
	}
	t.wakeLogLocked()
	t.mu.Unlock()
}

// commit records that the group processed partition p up to offset off.
// Commits never move backwards.
func (g *group) commitLocked(p int, off int64) {
	if next := off + 1; next > g.committed[p] {
		g.committed[p] = next
	}
}

func tps(topic string, parts []int) []broker.TopicPartition {
	out := make([]broker.TopicPartition, len(parts))
	for i, p := range parts {
		out[i] = broker.TopicPartition{Topic: topic, Partition: int64(p)}
	}
	return out
}
