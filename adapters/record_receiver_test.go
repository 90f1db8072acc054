package adapters

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pullkit/broker"
)

// receiveInBackground runs a record receiver until the returned stop is
// called; stop returns Receive's result.
func receiveInBackground(t *testing.T, r broker.RecordReceiver, h func(context.Context, broker.Record)) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Receive(ctx, h) }()
	return func() error {
		cancel()
		return <-done
	}
}

// collector keeps the records a handler got, without acking them.
type collector struct {
	mu   sync.Mutex
	recs []broker.Record
}

func (c *collector) handle(_ context.Context, r broker.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, r)
}

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.recs)
}

func (c *collector) find(p, off int64) broker.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.recs {
		if r.Partition == p && r.Offset == off {
			return r
		}
	}
	panic(fmt.Sprintf("no record %d@%d", p, off))
}

func TestRecordReceiverHandsOutEachPartitionInOrderOneAtATime(t *testing.T) {
	l := newFakeLog(t, 4, 50, 0, broker.ErrClosed)
	var mu sync.Mutex
	last := map[int64]int64{}
	busy := map[int64]bool{}
	err := RecordIteratorToRecordReceiver(l, WithWorkers(4)).Receive(context.Background(), func(_ context.Context, r broker.Record) {
		mu.Lock()
		if busy[r.Partition] {
			t.Errorf("two handlers at once for partition %d", r.Partition)
		}
		if prev, ok := last[r.Partition]; (ok && r.Offset != prev+1) || (!ok && r.Offset != 0) {
			t.Errorf("partition %d: %d after %d", r.Partition, r.Offset, prev)
		}
		busy[r.Partition], last[r.Partition] = true, r.Offset
		mu.Unlock()
		r.Ack()
		mu.Lock()
		busy[r.Partition] = false
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range int64(4) {
		if c := l.committed(p); c != 49 {
			t.Errorf("partition %d committed %d", p, c)
		}
	}
	l.checkMonotonic(t)
}

func TestWatermarkCommitsOnlyContiguousOffsetsAndAnUnackedRecordHoldsItBack(t *testing.T) {
	l := newFakeLog(t, 1, 5, 0, nil)
	var c collector
	stop := receiveInBackground(t, RecordIteratorToRecordReceiver(l, WithWorkers(1)), c.handle)
	waitFor(t, "five records", func() bool { return c.len() == 5 })
	ack := func(off int64) {
		t.Helper()
		r := c.find(0, off)
		if err := r.AckContext(context.Background()); err != nil {
			t.Fatalf("ack %d: %v", off, err)
		}
	}
	ack(2)
	ack(0) // 0 commits; 1 is missing, so 2 waits
	ack(3)
	if got := l.commitsOf(0); !slices.Equal(got, []int64{0}) {
		t.Fatalf("commits %v while 1 is unacked, want [0]", got)
	}
	ack(1) // 1, 2, 3 are done: one cumulative commit of 3
	ack(4)
	if got := l.commitsOf(0); !slices.Equal(got, []int64{0, 3, 4}) {
		t.Fatalf("commits %v, want [0 3 4]", got)
	}
	if err := ackCtx(c.find(0, 4)); !errors.Is(err, broker.ErrAlreadySettled) {
		t.Fatalf("second ack: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestRecordAckedAfterReceiveReturnedIsRefused(t *testing.T) {
	l := newFakeLog(t, 1, 2, 0, nil)
	var c collector
	stop := receiveInBackground(t, RecordIteratorToRecordReceiver(l, WithWorkers(1)), c.handle)
	waitFor(t, "two records", func() bool { return c.len() == 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	r := c.find(0, 0)
	if err := r.AckContext(context.Background()); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("late ack: %v", err)
	}
	if got := l.commitsOf(0); len(got) != 0 {
		t.Fatalf("commits %v", got)
	}
}

func TestKeyOrderRunsKeysOfAPartitionInParallelButCommitsContiguously(t *testing.T) {
	const workers = 4
	l := newFakeLog(t, 1, 20, 0, nil)
	// Two keys that land on different workers (the lane hash is seeded
	// per process).
	keyA, keyB := "a", ""
	for i := 0; keyB == ""; i++ {
		k := fmt.Sprintf("b%d", i)
		ra, rb := broker.Record{Topic: "t", Key: keyA}, broker.Record{Topic: "t", Key: k}
		if laneOf(&ra, true, workers) != laneOf(&rb, true, workers) {
			keyB = k
		}
	}
	for i := range l.recs {
		l.recs[i].Key = []string{keyA, keyB}[i%2]
	}
	gate := make(chan struct{})
	var mu sync.Mutex
	seen := map[string][]int64{}
	var doneB atomic.Int32
	stop := receiveInBackground(t, RecordIteratorToRecordReceiver(l, WithWorkers(workers), WithKeyOrder()), func(_ context.Context, r broker.Record) {
		if r.Key == keyA && r.Offset == 0 {
			<-gate // key A's first record is slow
		}
		mu.Lock()
		seen[r.Key] = append(seen[r.Key], r.Offset)
		mu.Unlock()
		r.Ack()
		if r.Key == keyB {
			doneB.Add(1)
		}
	})
	waitFor(t, "key B to run past key A's slow record", func() bool { return doneB.Load() == 10 })
	if c := l.committed(0); c != -1 {
		t.Fatalf("committed %d while offset 0 is still being handled", c)
	}
	close(gate)
	waitFor(t, "everything committed", func() bool { return l.committed(0) == 19 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for k, offs := range seen {
		if !slices.IsSorted(offs) || len(offs) != 10 {
			t.Errorf("key %s: %v", k, offs)
		}
	}
	l.checkMonotonic(t)
}

func TestRevokedPartitionRefusesLaterAcksAndStartsAFreshWatermarkWhenReassigned(t *testing.T) {
	l := newFakeLog(t, 2, 5, 0, nil)
	var c collector
	r := RecordIteratorToRecordReceiver(l, WithWorkers(2))
	stop := receiveInBackground(t, r, c.handle)
	waitFor(t, "ten records", func() bool { return c.len() == 10 })
	if err := ackCtx(c.find(0, 0)); err != nil {
		t.Fatal(err)
	}
	l.revoke(0)
	for off := int64(1); off < 5; off++ {
		if err := ackCtx(c.find(0, off)); !errors.Is(err, broker.ErrPartitionRevoked) {
			t.Fatalf("ack of revoked %d: %v", off, err)
		}
	}
	if got := l.commitsOf(0); !slices.Equal(got, []int64{0}) {
		t.Fatalf("partition 0 commits %v, want only the one before the revoke", got)
	}
	for off := range int64(5) { // partition 1 is unaffected
		_ = ackCtx(c.find(1, off))
	}
	if got := l.committed(1); got != 4 {
		t.Fatalf("partition 1 committed %d", got)
	}
	// Partition 0 comes back from its last commit: a fresh watermark.
	l.add(0, 1, 2)
	waitFor(t, "the reassigned records", func() bool { return c.len() == 12 })
	c.mu.Lock()
	fresh := slices.Clone(c.recs[10:])
	c.mu.Unlock()
	for _, r := range fresh {
		if err := r.AckContext(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.commitsOf(0); !slices.Equal(got, []int64{0, 1, 2}) {
		t.Fatalf("partition 0 commits %v, want [0 1 2]", got)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestRevocationDropsRecordsBufferedForTheReceiversWorkers(t *testing.T) {
	l := newFakeLog(t, 1, 10, 0, nil)
	gate, entered := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var handled []string
	stop := receiveInBackground(t, RecordIteratorToRecordReceiver(l, WithWorkers(1), WithBuffer(20)), func(_ context.Context, r broker.Record) {
		if r.Partition == 0 && r.Offset == 0 {
			close(entered)
			<-gate
		}
		mu.Lock()
		handled = append(handled, fmt.Sprintf("%d@%d", r.Partition, r.Offset))
		mu.Unlock()
	})
	// Revoke only once 0@0 is in the handler: had the revocation come
	// first, dropping 0@0 too would have been right.
	<-entered
	waitFor(t, "the buffer to fill", func() bool { return l.pulled() == 10 })
	l.revoke(0)
	close(gate)
	// A record pulled after the revocation goes through the same worker
	// after the buffered ones: once it is handled, they were dropped.
	l.add(1, 0)
	waitFor(t, "the marker", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(handled, "1@0")
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(handled, []string{"0@0", "1@0"}) {
		t.Fatalf("handled %v; the buffered records of the revoked partition must be dropped", handled)
	}
}

func TestConcurrentAcksFromManyGoroutinesCommitEverythingInOrder(t *testing.T) {
	const parts, per = 4, 300
	l := newFakeLog(t, parts, per, 0, nil)
	acks := make(chan broker.Record, 64)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for r := range acks {
				// Take what else is there (up to four) and ack it out of order.
				held := []broker.Record{r}
			more:
				for len(held) < 4 {
					select {
					case r, ok := <-acks:
						if !ok {
							break more
						}
						held = append(held, r)
					default:
						break more
					}
				}
				rand.Shuffle(len(held), func(i, j int) { held[i], held[j] = held[j], held[i] })
				for _, h := range held {
					h.Ack()
				}
			}
		})
	}
	stop := receiveInBackground(t, RecordIteratorToRecordReceiver(l, WithWorkers(4)), func(_ context.Context, r broker.Record) { acks <- r })
	waitFor(t, "all committed", func() bool {
		for p := range int64(parts) {
			if l.committed(p) != per-1 {
				return false
			}
		}
		return true
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	close(acks)
	wg.Wait()
	l.checkMonotonic(t)
}

func TestMaxPendingStopsPullingUntilAcksLetTheWatermarkMove(t *testing.T) {
	l := newFakeLog(t, 1, 100, 0, nil)
	var c collector
	stop := receiveInBackground(t, RecordIteratorToRecordReceiver(l, WithWorkers(1), WithMaxPending(10)), c.handle)
	waitFor(t, "ten records", func() bool { return c.len() == 10 })
	if p := l.pulled(); p > 11 {
		t.Fatalf("pulled %d with 10 pending allowed", p)
	}
	c.mu.Lock()
	first := slices.Clone(c.recs)
	c.mu.Unlock()
	for _, r := range first {
		r.Ack()
	}
	waitFor(t, "twenty records", func() bool { return c.len() >= 20 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestRecordHandlerPanicLeavesTheRecordUncommitted(t *testing.T) {
	l := newFakeLog(t, 1, 5, 0, broker.ErrClosed)
	var reported atomic.Int32
	err := RecordIteratorToRecordReceiver(l, WithWorkers(1), WithOnError(func(err error) {
		if _, ok := errors.AsType[*broker.PanicError](err); ok {
			reported.Add(1)
		}
	})).Receive(context.Background(), func(_ context.Context, r broker.Record) {
		if r.Offset == 2 {
			panic(errors.New("boom"))
		}
		r.Ack()
	})
	if err != nil || reported.Load() != 1 {
		t.Fatalf("Receive = %v, %d panics reported", err, reported.Load())
	}
	if got := l.commitsOf(0); !slices.Equal(got, []int64{0, 1}) {
		t.Fatalf("commits %v: nothing may pass the record whose handler panicked", got)
	}
}

func TestBatchedRecordReceiverKeepsPartitionOrderAcrossBatches(t *testing.T) {
	const parts, per = 3, 30
	l := newFakeLog(t, parts, per, 0, broker.ErrClosed)
	var mu sync.Mutex
	last := map[int64]int64{0: -1, 1: -1, 2: -1}
	err := RecordIteratorToBatchedRecordReceiver(l, WithWorkers(3), WithMaxBatch(8)).ReceiveBatch(context.Background(), func(_ context.Context, b []broker.Record) {
		if len(b) == 0 || len(b) > 8 {
			t.Errorf("batch of %d", len(b))
		}
		mu.Lock()
		for _, r := range b {
			if r.Offset != last[r.Partition]+1 {
				t.Errorf("partition %d: %d after %d", r.Partition, r.Offset, last[r.Partition])
			}
			last[r.Partition] = r.Offset
		}
		mu.Unlock()
		for i := range b {
			b[i].Ack()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range int64(parts) {
		if c := l.committed(p); c != per-1 {
			t.Errorf("partition %d committed %d", p, c)
		}
	}
}

func ackCtx(r broker.Record) error { return r.AckContext(context.Background()) }

func TestARecordHeldBackByMaxPendingAcrossARevocationIsNotHandedOutToTheNewAssignment(t *testing.T) {
	receivers := map[string]func(l *fakeLog) broker.RecordReceiver{
		"Receiver": func(l *fakeLog) broker.RecordReceiver {
			return RecordIteratorToRecordReceiver(l, WithWorkers(1), WithMaxPending(1))
		},
		"BatchReceiver": func(l *fakeLog) broker.RecordReceiver {
			return batchesAsRecords{RecordIteratorToBatchedRecordReceiver(l, WithWorkers(1), WithMaxPending(1), WithMaxBatch(1))}
		},
	}
	for name, newReceiver := range receivers {
		t.Run(name, func(t *testing.T) {
			l := newFakeLog(t, 1, 2, 0, nil)
			var c collector
			stop := receiveInBackground(t, newReceiver(l), c.handle)
			waitFor(t, "the first record handed out", func() bool { return c.len() == 1 })
			waitFor(t, "the second one pulled and held back", func() bool { return l.pulled() == 2 })
			l.revoke(0)    // frees the pending slot: the held record must not go on
			l.add(0, 0, 1) // partition 0 is assigned again, replayed from the start
			for off := range int64(2) {
				waitFor(t, "a record of the new assignment", func() bool { return c.len() == 2+int(off) })
				c.mu.Lock()
				r := c.recs[1+off]
				c.mu.Unlock()
				if r.Offset != off {
					t.Errorf("handed out offset %d, want %d: a record pulled before the revocation reached the new assignment", r.Offset, off)
					break
				}
				if err := ackCtx(r); err != nil {
					t.Fatal(err)
				}
			}
			if got := l.commitsOf(0); !slices.Equal(got, []int64{0, 1}) {
				t.Errorf("partition 0 commits %v, want [0 1]", got)
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// batchesAsRecords runs a batched record receiver with a per-record handler.
type batchesAsRecords struct{ broker.BatchedRecordReceiver }

func (b batchesAsRecords) Receive(ctx context.Context, h func(context.Context, broker.Record)) error {
	return b.ReceiveBatch(ctx, func(ctx context.Context, rs []broker.Record) {
		for _, r := range rs {
			h(ctx, r)
		}
	})
}

// staleThenFresh yields a record of a previous assignment, whose commit
// the source refuses (as a stream's buffered record after a revocation),
// then the reassigned partition replayed from offset 0.
type staleThenFresh struct {
	mu      sync.Mutex
	recs    []broker.Record
	commits []int64
}

func newStaleThenFresh() *staleThenFresh {
	s := &staleThenFresh{}
	s.recs = append(s.recs, broker.Record{Topic: "t", Offset: 3, Settler: broker.NewSettler(
		func(context.Context, broker.Settlement) error { return broker.ErrPartitionRevoked }, nil)})
	for off := range int64(2) {
		s.recs = append(s.recs, broker.Record{Topic: "t", Offset: off, Settler: broker.NewSettler(
			func(context.Context, broker.Settlement) error {
				s.mu.Lock()
				defer s.mu.Unlock()
				s.commits = append(s.commits, off)
				return nil
			}, nil)})
	}
	return s
}

func (s *staleThenFresh) NextRecord(ctx context.Context) (broker.Record, error) {
	s.mu.Lock()
	if len(s.recs) > 0 {
		r := s.recs[0]
		s.recs = s.recs[1:]
		s.mu.Unlock()
		return r, nil
	}
	s.mu.Unlock()
	<-ctx.Done()
	return broker.Record{}, ctx.Err()
}

func TestACommitTheSourceRefusedDoesNotHideLaterCommitsOfLowerOffsets(t *testing.T) {
	src := newStaleThenFresh()
	var c collector
	stop := receiveInBackground(t, RecordIteratorToRecordReceiver(src, WithWorkers(1)), c.handle)
	waitFor(t, "three records", func() bool { return c.len() == 3 })
	if err := ackCtx(c.find(0, 3)); !errors.Is(err, broker.ErrPartitionRevoked) {
		t.Errorf("ack of the stale record = %v, want the source's refusal", err)
	}
	for off := range int64(2) {
		if err := ackCtx(c.find(0, off)); err != nil {
			t.Errorf("ack of %d: %v", off, err)
		}
	}
	src.mu.Lock()
	commits := slices.Clone(src.commits)
	src.mu.Unlock()
	if !slices.Equal(commits, []int64{0, 1}) {
		t.Errorf("commits %v, want [0 1]: acks reported success and committed nothing", commits)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
