package adapters

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitFor polls cond until it holds or 5 s pass: tests never sleep as an
// assertion.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// fakeQueue is a slice-backed broker.MessageIterator whose messages record
// how they were settled. When the slice is exhausted it returns end, or
// blocks until ctx ends when end is nil.
type fakeQueue struct {
	t      testing.TB
	mu     sync.Mutex
	msgs   []broker.Message
	next   int
	end    error
	inNext atomic.Bool
	acks   map[string]int
	nacks  map[string]int
	more   chan struct{} // closed and replaced when push adds messages
}

func newFakeQueue(t testing.TB, n int, end error) *fakeQueue {
	q := &fakeQueue{t: t, end: end, acks: map[string]int{}, nacks: map[string]int{}, more: make(chan struct{})}
	q.push(n)
	return q
}

func (q *fakeQueue) push(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for range n {
		id := fmt.Sprintf("m%04d", len(q.msgs))
		q.msgs = append(q.msgs, broker.Message{ID: id, Data: []byte(id),
			Settler: broker.NewSettler(func(_ context.Context, s broker.Settlement) error {
				q.mu.Lock()
				defer q.mu.Unlock()
				if s.Kind == broker.SettleAck {
					q.acks[id]++
				} else {
					q.nacks[id]++
				}
				return nil
			}, nil)})
	}
	close(q.more)
	q.more = make(chan struct{})
}

func (q *fakeQueue) NextMessage(ctx context.Context) (broker.Message, error) {
	if !q.inNext.CompareAndSwap(false, true) {
		q.t.Errorf("concurrent NextMessage calls")
	}
	defer q.inNext.Store(false)
	for {
		if err := ctx.Err(); err != nil {
			return broker.Message{}, err
		}
		q.mu.Lock()
		if q.next < len(q.msgs) {
			m := q.msgs[q.next]
			q.next++
			q.mu.Unlock()
			return m, nil
		}
		more := q.more
		q.mu.Unlock()
		if q.end != nil {
			return broker.Message{}, q.end
		}
		select {
		case <-ctx.Done():
			return broker.Message{}, ctx.Err()
		case <-more:
		}
	}
}

// pulled is how many messages left the fake.
func (q *fakeQueue) pulled() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.next
}

func (q *fakeQueue) counts() (acked, nacked int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.acks), len(q.nacks)
}

// checkSettled fails unless every pulled message was settled exactly once
// (acked or nacked), which is "nothing lost, nothing settled twice".
func (q *fakeQueue) checkSettled(t testing.TB) {
	t.Helper()
	waitFor(t, "every pulled message settled", func() bool {
		a, n := q.counts()
		return a+n == q.pulled()
	})
	q.mu.Lock()
	defer q.mu.Unlock()
	for id, c := range q.acks {
		if c != 1 || q.nacks[id] != 0 {
			t.Errorf("%s: %d acks, %d nacks", id, c, q.nacks[id])
		}
	}
}

// fakeLog is a slice-backed broker.RecordIterator over several partitions
// of topic "t", records interleaved round-robin. Commits are recorded per
// partition, in the order the source saw them. It is a
// broker.RevocationNotifier.
type fakeLog struct {
	t       testing.TB
	mu      sync.Mutex
	recs    []broker.Record
	next    int
	end     error
	inNext  atomic.Bool
	commits map[int64][]int64
	subs    map[int]func([]broker.TopicPartition)
	subID   int
	more    chan struct{} // closed and replaced by add
}

func newFakeLog(t testing.TB, partitions, perPartition int, keys int, end error) *fakeLog {
	l := &fakeLog{t: t, end: end, commits: map[int64][]int64{}, subs: map[int]func([]broker.TopicPartition){}, more: make(chan struct{})}
	for off := range int64(perPartition) {
		for p := range int64(partitions) {
			key := ""
			if keys > 0 {
				key = fmt.Sprintf("k%d", off%int64(keys))
			}
			l.recs = append(l.recs, l.record(p, off, key))
		}
	}
	return l
}

func (l *fakeLog) record(p, off int64, key string) broker.Record {
	return broker.Record{Topic: "t", Partition: p, Offset: off, Key: key, Value: []byte(fmt.Sprintf("p%d@%d", p, off)),
		Settler: broker.NewSettler(func(context.Context, broker.Settlement) error {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.commits[p] = append(l.commits[p], off)
			return nil
		}, nil)}
}

func (l *fakeLog) NextRecord(ctx context.Context) (broker.Record, error) {
	if !l.inNext.CompareAndSwap(false, true) {
		l.t.Errorf("concurrent NextRecord calls")
	}
	defer l.inNext.Store(false)
	for {
		if err := ctx.Err(); err != nil {
			return broker.Record{}, err
		}
		l.mu.Lock()
		if l.next < len(l.recs) {
			r := l.recs[l.next]
			l.next++
			l.mu.Unlock()
			return r, nil
		}
		more := l.more
		l.mu.Unlock()
		if l.end != nil {
			return broker.Record{}, l.end
		}
		select {
		case <-ctx.Done():
			return broker.Record{}, ctx.Err()
		case <-more:
		}
	}
}

// add appends records of partition p at the given offsets.
func (l *fakeLog) add(p int64, offsets ...int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, off := range offsets {
		l.recs = append(l.recs, l.record(p, off, ""))
	}
	close(l.more)
	l.more = make(chan struct{})
}

func (l *fakeLog) pulled() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next
}

func (l *fakeLog) commitsOf(p int64) []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.commits[p])
}

func (l *fakeLog) OnRevoke(f func([]broker.TopicPartition)) func() {
	l.mu.Lock()
	defer l.mu.Unlock()
	id := l.subID
	l.subID++
	l.subs[id] = f
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.subs, id)
	}
}

func (l *fakeLog) revoke(ps ...int64) {
	var tps []broker.TopicPartition
	for _, p := range ps {
		tps = append(tps, broker.TopicPartition{Topic: "t", Partition: p})
	}
	l.mu.Lock()
	subs := make([]func([]broker.TopicPartition), 0, len(l.subs))
	for _, f := range l.subs {
		subs = append(subs, f)
	}
	l.mu.Unlock()
	for _, f := range subs {
		f(slices.Clone(tps))
	}
}

func (l *fakeLog) subscribers() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.subs)
}

// committed returns the last offset committed for p, or -1.
func (l *fakeLog) committed(p int64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.commits[p]
	if len(c) == 0 {
		return -1
	}
	return c[len(c)-1]
}

// checkMonotonic fails if a partition's commits ever moved backwards.
func (l *fakeLog) checkMonotonic(t testing.TB) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, c := range l.commits {
		if !slices.IsSorted(c) {
			t.Errorf("partition %d: commits went backwards: %v", p, c)
		}
	}
}
