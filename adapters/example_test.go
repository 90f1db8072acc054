package adapters_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/adapters"
)

// sliceQueue is a tiny broker.MessageIterator for the examples: it hands out
// its messages and then reports broker.ErrClosed.
type sliceQueue struct{ msgs []broker.Message }

func newSliceQueue(ids ...string) *sliceQueue {
	q := &sliceQueue{}
	for _, id := range ids {
		q.msgs = append(q.msgs, broker.Message{ID: id, Data: []byte("payload of " + id),
			AckFunc: func() {}, NackFunc: func() { fmt.Println("nacked", id) }})
	}
	return q
}

func (q *sliceQueue) NextMessage(ctx context.Context) (broker.Message, error) {
	if err := ctx.Err(); err != nil {
		return broker.Message{}, err
	}
	if len(q.msgs) == 0 {
		return broker.Message{}, broker.ErrClosed
	}
	m := q.msgs[0]
	q.msgs = q.msgs[1:]
	return m, nil
}

// A backend that only has an iterator gets a worker pool. Receive returns
// nil once the iterator reports broker.ErrClosed.
func ExampleMessageIteratorToReceiver() {
	r := adapters.MessageIteratorToReceiver(newSliceQueue("a", "b", "c", "d"), adapters.WithWorkers(2))
	var mu sync.Mutex
	var done []string
	err := r.Receive(context.Background(), func(_ context.Context, m broker.Message) {
		mu.Lock()
		done = append(done, m.ID)
		mu.Unlock()
		m.Ack()
	})
	slices.Sort(done) // two workers: any order
	fmt.Println(done, err)
	// Output: [a b c d] <nil>
}

// A stream can be selected on together with other channels.
func ExampleMessageIteratorToMessageStream() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	msgs, errc := adapters.MessageIteratorToMessageStream(newSliceQueue("a", "b")).Stream(ctx)
	for m := range msgs {
		fmt.Println("got", m.ID)
		m.Ack()
	}
	fmt.Println("error:", <-errc)
	// Output:
	// got a
	// got b
	// error: <nil>
}

// Batches are cut by size, or MaxWait after their first message.
func ExampleMessageIteratorToBatchedMessageIterator() {
	it := adapters.MessageIteratorToBatchedMessageIterator(newSliceQueue("a", "b", "c", "d", "e"),
		adapters.WithMaxBatch(2), adapters.WithMaxWait(10*time.Millisecond))
	defer it.Close()
	for batch, err := range broker.MessageBatches(context.Background(), it) {
		if err != nil {
			fmt.Println(err)
			return
		}
		var ids []string
		for i := range batch {
			ids = append(ids, batch[i].ID)
			batch[i].Ack()
		}
		fmt.Println(ids)
	}
	// Output:
	// [a b]
	// [c d]
	// [e]
}

// A receiver becomes an iterator; Close nacks what it had pulled but not
// handed out, and leaves the receiver (the source) to its owner.
func ExampleReceiverToMessageIterator() {
	r := adapters.MessageIteratorToReceiver(newSliceQueue("a"), adapters.WithWorkers(1))
	it := adapters.ReceiverToMessageIterator(r)
	defer it.Close()
	m, err := it.NextMessage(context.Background())
	fmt.Println(m.ID, err)
	m.Ack()
	_, err = it.NextMessage(context.Background())
	fmt.Println(errors.Is(err, broker.ErrClosed))
	// Output:
	// a <nil>
	// true
}

// sliceLog is a tiny broker.RecordIterator for the examples; it prints
// what it is asked to commit.
type sliceLog struct{ recs []broker.Record }

func (l *sliceLog) NextRecord(ctx context.Context) (broker.Record, error) {
	if err := ctx.Err(); err != nil {
		return broker.Record{}, err
	}
	if len(l.recs) == 0 {
		return broker.Record{}, broker.ErrClosed
	}
	r := l.recs[0]
	l.recs = l.recs[1:]
	return r, nil
}

// A record receiver commits only a contiguous watermark: the handler acks
// offsets 0 and 2 but never 1, so only offset 0 is committed.
func ExampleRecordIteratorToRecordReceiver() {
	l := &sliceLog{}
	for off := range int64(3) {
		l.recs = append(l.recs, broker.Record{Topic: "orders", Partition: 0, Offset: off,
			CommitFunc: func() { fmt.Println("commit offset", off) }})
	}
	r := adapters.RecordIteratorToRecordReceiver(l, adapters.WithWorkers(4))
	err := r.Receive(context.Background(), func(_ context.Context, rec broker.Record) {
		fmt.Println("handle offset", rec.Offset) // one partition: in order, one at a time
		if rec.Offset != 1 {
			rec.Ack()
		}
	})
	fmt.Println(err)
	// Output:
	// handle offset 0
	// commit offset 0
	// handle offset 1
	// handle offset 2
	// <nil>
}
