package adapters

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullkit/broker"
)

func TestRecordIteratorDropsBufferedRecordsOfARevokedPartition(t *testing.T) {
	l := newFakeLog(t, 2, 5, 0, nil)
	batches := RecordIteratorToBatchedIterator(l, WithMaxBatch(10), WithMaxWait(time.Hour))
	defer batches.Close()
	it := BatchedIteratorToRecordIterator(batches)
	defer it.Close()
	ctx := context.Background()
	first, err := it.NextRecord(ctx)
	if err != nil || first.Partition != 0 || first.Offset != 0 {
		t.Fatalf("first = %d@%d, %v", first.Partition, first.Offset, err)
	}
	l.revoke(0) // nine records are buffered: four of them are partition 0's
	var got []int64
	for range 5 {
		r, err := it.NextRecord(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Partition != 1 {
			t.Fatalf("got %d@%d of the revoked partition", r.Partition, r.Offset)
		}
		got = append(got, r.Offset)
	}
	if !slices.Equal(got, []int64{0, 1, 2, 3, 4}) {
		t.Fatalf("partition 1 offsets %v", got)
	}
}

func TestRecordAdaptersForwardOnRevokeSoTheyCanBeStacked(t *testing.T) {
	l := newFakeLog(t, 1, 1, 0, nil)
	stacked := RecordStreamToRecordIterator(RecordIteratorToRecordStream(l))
	defer stacked.Close()
	var got atomic.Value
	unregister := stacked.OnRevoke(func(tps []broker.TopicPartition) { got.Store(tps) })
	l.revoke(0)
	if tps, _ := got.Load().([]broker.TopicPartition); len(tps) != 1 || tps[0].Partition != 0 {
		t.Fatalf("callback got %v", got.Load())
	}
	unregister()
	if n := l.subscribers(); n != 0 {
		t.Fatalf("%d subscribers after unregister", n)
	}
	// A source that is not a notifier: OnRevoke is a harmless no-op.
	RecordIteratorToRecordStream(plainRecords{}).OnRevoke(func([]broker.TopicPartition) {})()
}

type plainRecords struct{}

func (plainRecords) NextRecord(ctx context.Context) (broker.Record, error) {
	<-ctx.Done()
	return broker.Record{}, ctx.Err()
}

func TestMergeDeliversEverySourceInItsOwnOrderAndEndsWhenAllAreClosed(t *testing.T) {
	qs := []*fakeQueue{newFakeQueue(t, 20, broker.ErrClosed), newFakeQueue(t, 30, broker.ErrClosed), newFakeQueue(t, 0, broker.ErrClosed)}
	m := MergeMessageIterators(qs[0], qs[1], qs[2])
	defer m.Close()
	seen := map[string]bool{}
	count := 0
	for msg, err := range broker.Messages(context.Background(), m) {
		if err != nil {
			t.Fatal(err)
		}
		seen[msg.ID] = true
		count++
		msg.Ack()
	}
	if count != 50 {
		t.Fatalf("%d messages, want 50", count)
	}
	m.Close()
	for _, q := range qs {
		q.checkSettled(t)
	}
}

func TestMergeStopsAtTheFirstSourceErrorAndCloseNacksTheRest(t *testing.T) {
	boom := errors.New("boom")
	ok, bad := newFakeQueue(t, 1000, nil), newFakeQueue(t, 2, boom)
	m := MergeMessageIterators(ok, bad)
	var err error
	for {
		var msg broker.Message
		if msg, err = m.NextMessage(context.Background()); err != nil {
			break
		}
		msg.Ack()
	}
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	ok.checkSettled(t)
	bad.checkSettled(t)
}

func TestMergeRecordIteratorsKeepsPartitionOrder(t *testing.T) {
	a, b := newFakeLog(t, 1, 20, 0, broker.ErrClosed), newFakeLog(t, 1, 20, 0, broker.ErrClosed)
	for i := range b.recs {
		b.recs[i].Topic = "u"
	}
	m := MergeRecordIterators(a, b)
	defer m.Close()
	last := map[string]int64{"t": -1, "u": -1}
	n := 0
	for r, err := range broker.Records(context.Background(), m) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Offset != last[r.Topic]+1 {
			t.Fatalf("%s: %d after %d", r.Topic, r.Offset, last[r.Topic])
		}
		last[r.Topic] = r.Offset
		n++
	}
	if n != 40 {
		t.Fatalf("%d records", n)
	}
	sa, sb := a.subscribers(), b.subscribers()
	unregister := m.OnRevoke(func([]broker.TopicPartition) {})
	if a.subscribers() != sa+1 || b.subscribers() != sb+1 {
		t.Fatal("merged OnRevoke did not reach every source")
	}
	unregister()
	m.Close()
	if a.subscribers() != 0 || b.subscribers() != 0 {
		t.Fatal("Close left revocation callbacks registered")
	}
}

func TestMergeRecordIteratorsDropsBufferedRecordsOfARevokedPartition(t *testing.T) {
	l, other := newFakeLog(t, 2, 5, 0, nil), newFakeLog(t, 0, 0, 0, nil)
	m := MergeRecordIterators(l, other)
	defer m.Close()
	ctx := context.Background()
	if r, err := m.NextRecord(ctx); err != nil || r.Partition != 0 || r.Offset != 0 {
		t.Fatalf("first = %d@%d, %v", r.Partition, r.Offset, err)
	}
	waitFor(t, "the rest buffered by the merge", func() bool { return l.pulled() == 10 })
	l.revoke(0)    // four records of partition 0 are buffered
	l.add(0, 0, 1) // assigned again, replayed from its last commit
	var got []string
	for range 7 {
		r, err := m.NextRecord(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d@%d", r.Partition, r.Offset))
	}
	if want := []string{"1@0", "1@1", "1@2", "1@3", "1@4", "0@0", "0@1"}; !slices.Equal(got, want) {
		t.Fatalf("after the revocation got %v, want %v: records of the revoked assignment were handed out", got, want)
	}
}
