package inmem

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/pullkit/broker"
)

func TestRecordsComeInOffsetOrderPerPartitionRoundRobin(t *testing.T) {
	b := newBroker(t)
	if err := b.CreateTopic("t", 2); err != nil {
		t.Fatal(err)
	}
	c := join(t, b, "t", "g", LogConfig{})
	// Empty keys alternate partitions 0, 1, 0, 1, …
	publish(t, b, "t", data("0a", "1a", "0b", "1b", "0c")...)
	var got []string
	last := map[int64]int64{0: -1, 1: -1}
	for range 5 {
		r := nextRecord(t, c)
		if r.Topic != "t" || r.Offset != last[r.Partition]+1 {
			t.Fatalf("record %+v after offset %d", r, last[r.Partition])
		}
		last[r.Partition] = r.Offset
		got = append(got, string(r.Value))
	}
	if want := []string{"0a", "1a", "0b", "1b", "0c"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func TestAckCommitsCumulativelyAndNeverBackwards(t *testing.T) {
	b := newBroker(t)
	if err := b.CreateTopic("t", 1); err != nil {
		t.Fatal(err)
	}
	c := join(t, b, "t", "g", LogConfig{})
	publish(t, b, "t", data("a", "b", "c")...)
	if _, ok := b.Committed("t", "g", 0); ok {
		t.Fatal("committed before any ack")
	}
	ctx := testCtx(t)
	r0, r1, r2 := nextRecord(t, c), nextRecord(t, c), nextRecord(t, c)
	if err := r2.AckContext(ctx); err != nil {
		t.Fatal(err)
	}
	if off, ok := b.Committed("t", "g", 0); !ok || off != 3 {
		t.Fatalf("committed %d %v, want 3", off, ok)
	}
	if err := r0.AckContext(ctx); err != nil {
		t.Fatal(err)
	}
	r1.Ack()
	if off, _ := b.Committed("t", "g", 0); off != 3 {
		t.Fatalf("commit moved back to %d", off)
	}
	wantErr(t, r2.AckContext(ctx), broker.ErrAlreadySettled)
	for _, bad := range []struct {
		topic, group string
		p            int
	}{{"x", "g", 0}, {"t", "x", 0}, {"t", "g", 1}, {"t", "g", -1}} {
		if _, ok := b.Committed(bad.topic, bad.group, bad.p); ok {
			t.Fatalf("Committed%v reported ok", bad)
		}
	}
}

func TestReopenedGroupResumesFromTheCommit(t *testing.T) {
	b := newBroker(t)
	if err := b.CreateTopic("t", 1); err != nil {
		t.Fatal(err)
	}
	c, _ := b.JoinGroup("t", "g", LogConfig{})
	publish(t, b, "t", data("a", "b", "c")...)
	a := nextRecord(t, c)
	if err := a.AckContext(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	nextRecord(t, c) // b: read, not committed
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2 := join(t, b, "t", "g", LogConfig{StartAtEnd: true}) // no effect on an existing group
	if r := nextRecord(t, c2); string(r.Value) != "b" || r.Offset != 1 {
		t.Fatalf("resumed at %q offset %d, want the uncommitted b", r.Value, r.Offset)
	}
}

func TestStartAtEndSkipsOlderRecords(t *testing.T) {
	b := newBroker(t)
	publish(t, b, "t", data("old")...)
	c := join(t, b, "t", "g", LogConfig{StartAtEnd: true})
	if recordsAvailable(c) != 0 {
		t.Fatal("StartAtEnd group sees old records")
	}
	publish(t, b, "t", data("new")...)
	if r := nextRecord(t, c); string(r.Value) != "new" {
		t.Fatalf("got %q", r.Value)
	}
	other := join(t, b, "t", "from-start", LogConfig{})
	if recordsAvailable(other) != 2 {
		t.Fatal("new group without StartAtEnd does not start at 0")
	}
}

func TestRebalanceRevokesBeforeHandingOverAndRefusesOldAcks(t *testing.T) {
	b := newBroker(t)
	if err := b.CreateTopic("t", 2); err != nil {
		t.Fatal(err)
	}
	c1 := join(t, b, "t", "g", LogConfig{})
	if got := c1.Assigned(); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("c1 assigned %v", got)
	}
	publish(t, b, "t", data("0a", "1a", "0b", "1b")...)
	ctx := testCtx(t)
	var held []broker.Record
	for range 4 {
		held = append(held, nextRecord(t, c1))
	}
	// c1 acks 0a and 1a now; 0b and 1b are still in its hands at the rebalance.
	for _, r := range held[:2] {
		if err := r.AckContext(ctx); err != nil {
			t.Fatal(err)
		}
	}

	var revoked [][]broker.TopicPartition
	flushInCallback := true
	unregister := c1.OnRevoke(func(tps []broker.TopicPartition) {
		revoked = append(revoked, tps)
		if flushInCallback {
			// Still allowed: the new owner has not started.
			if _, ok := b.Committed("t", "g", 1); !ok {
				t.Error("nothing committed for partition 1 before revoke")
			}
		}
	})
	c2 := join(t, b, "t", "g", LogConfig{})
	if len(revoked) != 1 || !slices.Equal(revoked[0], []broker.TopicPartition{{Topic: "t", Partition: 1}}) {
		t.Fatalf("revoked %v, want t/1 once, before JoinGroup returned", revoked)
	}
	if a1, a2 := c1.Assigned(), c2.Assigned(); !slices.Equal(a1, []int{0}) || !slices.Equal(a2, []int{1}) {
		t.Fatalf("assigned %v and %v", a1, a2)
	}
	// 1b belongs to c2 now: c1 may not commit it, and c2 reads it again.
	wantErr(t, held[3].AckContext(ctx), broker.ErrPartitionRevoked)
	if off, _ := b.Committed("t", "g", 1); off != 1 {
		t.Fatalf("partition 1 committed %d by the old owner", off)
	}
	r := nextRecord(t, c2)
	if string(r.Value) != "1b" {
		t.Fatalf("new owner read %q, want the uncommitted 1b", r.Value)
	}
	if err := r.AckContext(ctx); err != nil {
		t.Fatal(err)
	}
	// c1 keeps partition 0 and may commit it.
	if err := held[2].AckContext(ctx); err != nil {
		t.Fatal(err)
	}
	unregister()
	flushInCallback = false

	// When c2 closes, c1 gets partition 1 back at c2's commit.
	publish(t, b, "t", data("0c", "1c")...)
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
	if len(revoked) != 1 {
		t.Fatal("unregistered callback ran")
	}
	var got []string
	for range 2 {
		got = append(got, string(nextRecord(t, c1).Value))
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"0c", "1c"}) {
		t.Fatalf("after c2 left, c1 read %v", got)
	}
}

func TestAcksFromInsideOnRevokeAreCommitted(t *testing.T) {
	b := newBroker(t)
	if err := b.CreateTopic("t", 1); err != nil {
		t.Fatal(err)
	}
	c1, _ := b.JoinGroup("t", "g", LogConfig{})
	publish(t, b, "t", data("a")...)
	r := nextRecord(t, c1)
	var flushErr error
	c1.OnRevoke(func([]broker.TopicPartition) { flushErr = r.AckContext(context.Background()) })
	_ = c1.Close()
	if flushErr != nil {
		t.Fatal(flushErr)
	}
	if off, _ := b.Committed("t", "g", 0); off != 1 {
		t.Fatalf("committed %d", off)
	}
	wantErr(t, func() error { _, err := c1.NextRecord(testCtx(t)); return err }(), broker.ErrClosed)
}

func TestAckAfterCloseMatchesClosedAndRevoked(t *testing.T) {
	b := newBroker(t)
	c, _ := b.JoinGroup("t", "g", LogConfig{})
	publish(t, b, "t", data("a")...)
	r := nextRecord(t, c)
	_ = c.Close()
	err := r.AckContext(testCtx(t))
	wantErr(t, err, broker.ErrClosed)
	wantErr(t, err, broker.ErrPartitionRevoked)
}

// Two consumers read concurrently while a third joins and leaves; every
// record is committed by exactly one owner and none is lost.
func TestRebalanceUnderLoadLosesNoRecord(t *testing.T) {
	b := newBroker(t)
	if err := b.CreateTopic("t", 4); err != nil {
		t.Fatal(err)
	}
	const n = 400
	msgs := make([]broker.OutboundMessage, n)
	for i := range msgs {
		msgs[i] = broker.OutboundMessage{Key: fmt.Sprint(i % 13), Data: []byte(fmt.Sprint(i))}
	}
	publish(t, b, "t", msgs...)

	var mu sync.Mutex
	committed := map[string]bool{}
	ctx, cancel := context.WithCancel(testCtx(t))
	var wg sync.WaitGroup
	consume := func(c *LogConsumer) {
		defer wg.Done()
		for {
			r, err := c.NextRecord(ctx)
			if err != nil {
				if !errors.Is(err, context.Canceled) && !errors.Is(err, broker.ErrClosed) {
					t.Error(err)
				}
				return
			}
			if err := r.AckContext(ctx); err == nil {
				mu.Lock()
				committed[string(r.Value)] = true
				done := len(committed) == n
				mu.Unlock()
				if done {
					cancel()
				}
			} else if !errors.Is(err, broker.ErrPartitionRevoked) && !errors.Is(err, context.Canceled) {
				t.Error(err)
			}
		}
	}
	c1 := join(t, b, "t", "g", LogConfig{MaxBatch: 5})
	c2 := join(t, b, "t", "g", LogConfig{})
	wg.Add(2)
	go consume(c1)
	go consume(c2)
	for range 5 {
		c3 := join(t, b, "t", "g", LogConfig{})
		_ = c3.Close()
	}
	wg.Wait()
	if len(committed) != n {
		t.Fatalf("%d of %d records committed", len(committed), n)
	}
	for p := range 4 {
		off, _ := b.Committed("t", "g", p)
		b.lookup("t").mu.Lock()
		end := b.lookup("t").parts[p].len()
		b.lookup("t").mu.Unlock()
		if off != end {
			t.Fatalf("partition %d committed %d of %d", p, off, end)
		}
	}
}

func TestLogNextBatchReturnsAvailableRecords(t *testing.T) {
	b := newBroker(t)
	if err := b.CreateTopic("t", 2); err != nil {
		t.Fatal(err)
	}
	c := join(t, b, "t", "g", LogConfig{MaxBatch: 3})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.NextBatch(ctx)
	wantErr(t, err, context.Canceled)
	publish(t, b, "t", data("a", "b", "c", "d")...)
	batch, err := c.NextBatch(testCtx(t))
	if err != nil || len(batch) != 3 {
		t.Fatalf("batch %d %v", len(batch), err)
	}
	batch2, err := c.NextBatch(testCtx(t))
	if err != nil || len(batch2) != 1 {
		t.Fatalf("batch %d %v", len(batch2), err)
	}
	if err := batch2[0].AckContext(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestJoinGroupValidates(t *testing.T) {
	b := newBroker(t)
	_, err := b.JoinGroup("", "g", LogConfig{})
	wantErr(t, err, broker.ErrInvalidTopic)
	_, err = b.JoinGroup("t", "", LogConfig{})
	wantErr(t, err, broker.ErrInvalidTopic)
	_, err = b.JoinGroup("t", "g", LogConfig{MaxBatch: -1})
	wantErr(t, err, broker.ErrInvalidOption)
}

func TestFailNextCommitsKeepsThePosition(t *testing.T) {
	b := newBroker(t)
	c := join(t, b, "t", "g", LogConfig{})
	publish(t, b, "t", broker.OutboundMessage{Key: "k"})
	boom := errors.New("commit lost")
	b.FailNextCommits("g", 1, boom)
	r := nextRecord(t, c)
	wantErr(t, r.AckContext(testCtx(t)), boom)
	if _, ok := b.Committed("t", "g", int(r.Partition)); ok {
		t.Fatal("failed commit moved the position")
	}
}

func TestNextRecordWakesOnPublishAndClose(t *testing.T) {
	b := newBroker(t)
	c, _ := b.JoinGroup("t", "g", LogConfig{})
	got := make(chan error)
	go func() {
		_, err := c.NextRecord(context.Background())
		got <- err
	}()
	publish(t, b, "t", data("x")...)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := c.NextRecord(context.Background())
		got <- err
	}()
	_ = c.Close()
	wantErr(t, <-got, broker.ErrClosed)
}

func TestBrokerCloseRevokesEachPartitionOnce(t *testing.T) {
	b := New()
	if err := b.CreateTopic("t", 4); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	revoked := map[int64]int{}
	for range 3 {
		c, err := b.JoinGroup("t", "g", LogConfig{})
		if err != nil {
			t.Fatal(err)
		}
		c.OnRevoke(func(tps []broker.TopicPartition) {
			mu.Lock()
			defer mu.Unlock()
			for _, tp := range tps {
				revoked[tp.Partition]++
			}
		})
	}
	mu.Lock()
	clear(revoked) // the joins moved partitions too
	mu.Unlock()
	_ = b.Close()
	for p := range int64(4) {
		if revoked[p] != 1 {
			t.Fatalf("partition %d revoked %d times on Close", p, revoked[p])
		}
	}
}
