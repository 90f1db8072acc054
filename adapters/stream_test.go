package adapters

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullkit/broker"
)

func TestStreamKeepsOrderAndNacksWhatItHeldWhenCtxEnds(t *testing.T) {
	q := newFakeQueue(t, 100, nil)
	s := MessageIteratorToMessageStream(q, WithBuffer(10))
	ctx, cancel := context.WithCancel(context.Background())
	ch, errc := s.Stream(ctx)
	for i := range 5 {
		m := <-ch
		if m.ID != q.msgs[i].ID {
			t.Fatalf("message %d is %s", i, m.ID)
		}
		m.Ack()
	}
	waitFor(t, "the buffer to fill", func() bool { return len(ch) == cap(ch) })
	cancel()
	// Without reading: the stream itself nacks its buffer and what it held.
	q.checkSettled(t)
	if _, ok := <-ch; ok {
		t.Fatal("channel still delivers after the stream drained it")
	}
	if err, ok := <-errc; ok {
		t.Fatalf("error after ctx end: %v", err)
	}
	if a, n := q.counts(); a != 5 || n < 10 {
		t.Fatalf("acked %d nacked %d; want 5 and at least the 10 buffered", a, n)
	}
}

func TestStreamSendsTheSourceErrorOnceAfterItsMessages(t *testing.T) {
	boom := errors.New("boom")
	q := newFakeQueue(t, 3, boom)
	ch, errc := MessageIteratorToMessageStream(q).Stream(context.Background())
	n := 0
	for m := range ch {
		m.Ack()
		n++
	}
	if n != 3 {
		t.Fatalf("%d messages, want 3", n)
	}
	if err := <-errc; !errors.Is(err, boom) {
		t.Fatalf("error %v, want boom", err)
	}
	if _, ok := <-errc; ok {
		t.Fatal("a second error")
	}
}

func TestStreamEndsQuietlyWhenTheSourceIsClosed(t *testing.T) {
	q := newFakeQueue(t, 2, broker.ErrClosed)
	ch, errc := MessageIteratorToMessageStream(q).Stream(context.Background())
	for m := range ch {
		m.Ack()
	}
	if err := <-errc; err != nil {
		t.Fatalf("error %v, want none", err)
	}
}

func TestConcurrentStreamCallsAreRefused(t *testing.T) {
	q := newFakeQueue(t, 0, nil)
	s := MessageIteratorToMessageStream(q)
	ctx, cancel := context.WithCancel(context.Background())
	ch, _ := s.Stream(ctx)
	ch2, errc2 := s.Stream(ctx)
	if _, ok := <-ch2; ok {
		t.Fatal("second stream delivers")
	}
	if err := <-errc2; !errors.Is(err, broker.ErrUnsupported) {
		t.Fatalf("second stream error %v", err)
	}
	cancel()
	for range ch {
	}
	// After the first one ended, a new call works.
	ctx, cancel = context.WithCancel(context.Background())
	ch, errc := s.Stream(ctx)
	cancel()
	for range ch {
	}
	if err := <-errc; err != nil {
		t.Fatalf("third stream: %v", err)
	}
}

func TestStreamToIteratorCloseNacksEverythingTheStreamStillDelivers(t *testing.T) {
	q := newFakeQueue(t, 50, nil)
	it := MessageStreamToMessageIterator(MessageIteratorToMessageStream(q, WithBuffer(10)))
	for i := range 3 {
		m, err := it.NextMessage(context.Background())
		if err != nil || m.ID != q.msgs[i].ID {
			t.Fatalf("NextMessage %d = %s, %v", i, m.ID, err)
		}
		m.Ack()
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	q.checkSettled(t)
	if a, n := q.counts(); a != 3 || n == 0 {
		t.Fatalf("acked %d nacked %d", a, n)
	}
	if _, err := it.NextMessage(context.Background()); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestStreamToIteratorReturnsPromptlyWhenCtxEnds(t *testing.T) {
	q := newFakeQueue(t, 0, nil)
	it := MessageStreamToMessageIterator(MessageIteratorToMessageStream(q))
	defer it.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := it.NextMessage(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v", d)
	}
}

// streamFunc is a hand-made broker.MessageStream.
type streamFunc func(context.Context) (<-chan broker.Message, <-chan error)

func (f streamFunc) Stream(ctx context.Context) (<-chan broker.Message, <-chan error) { return f(ctx) }

func TestStreamToIteratorDeliversBufferedMessagesBeforeTheStreamsError(t *testing.T) {
	boom := errors.New("boom")
	s := streamFunc(func(context.Context) (<-chan broker.Message, <-chan error) {
		ch, errc := make(chan broker.Message, 2), make(chan error, 1)
		errc <- boom // the error may arrive before the messages are read
		ch <- broker.Message{ID: "a"}
		ch <- broker.Message{ID: "b"}
		close(ch)
		close(errc)
		return ch, errc
	})
	it := MessageStreamToMessageIterator(s)
	defer it.Close()
	for _, want := range []string{"a", "b"} {
		m, err := it.NextMessage(context.Background())
		if err != nil || m.ID != want {
			t.Fatalf("got %q, %v; want %q", m.ID, err, want)
		}
	}
	for range 2 {
		if _, err := it.NextMessage(context.Background()); !errors.Is(err, boom) {
			t.Fatalf("err %v, want boom (sticky)", err)
		}
	}
}

func TestReceiverToIteratorCloseNacksWhatWasHandedOverButNotTaken(t *testing.T) {
	q := newFakeQueue(t, 40, nil)
	it := ReceiverToMessageIterator(MessageIteratorToReceiver(q, WithWorkers(2)), WithBuffer(5))
	for range 3 {
		m, err := it.NextMessage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		m.Ack()
	}
	it.Close()
	q.checkSettled(t)
	if a, n := q.counts(); a != 3 || n == 0 {
		t.Fatalf("acked %d nacked %d", a, n)
	}
}

func TestNilSourceFailsWithInvalidOptionInsteadOfPanicking(t *testing.T) {
	it := MessageStreamToMessageIterator(nil)
	defer it.Close()
	if _, err := it.NextMessage(context.Background()); !errors.Is(err, broker.ErrInvalidOption) {
		t.Fatalf("err %v", err)
	}
	if err := RecordIteratorToRecordReceiver(nil).Receive(context.Background(), func(context.Context, broker.Record) {}); !errors.Is(err, broker.ErrInvalidOption) {
		t.Fatalf("err %v", err)
	}
	m := MergeMessageIterators(newFakeQueue(t, 0, nil), nil)
	defer m.Close()
	if _, err := m.NextMessage(context.Background()); !errors.Is(err, broker.ErrInvalidOption) {
		t.Fatalf("merge err %v", err)
	}
}

func TestZeroValueAdaptersFailWithInvalidOptionInsteadOfPanicking(t *testing.T) {
	ctx := context.Background()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, broker.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", what, err)
		}
	}
	noPanic := func(what string, f func()) {
		t.Helper()
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("%s panicked: %v", what, r)
			}
		}()
		f()
	}
	noPanic("MessageIterator", func() {
		var it MessageIterator
		_, err := it.NextMessage(ctx)
		check("MessageIterator.NextMessage", err)
		if err := it.Close(); err != nil {
			t.Errorf("MessageIterator.Close: %v", err)
		}
	})
	noPanic("RecordIterator", func() {
		var it RecordIterator
		_, err := it.NextRecord(ctx)
		check("RecordIterator.NextRecord", err)
		it.OnRevoke(func([]broker.TopicPartition) {})()
	})
	noPanic("BatchIterator", func() {
		var it BatchIterator[broker.Message]
		_, err := it.NextBatch(ctx)
		check("BatchIterator.NextBatch", err)
	})
	noPanic("Stream", func() {
		var s Stream[broker.Record]
		ch, errc := s.Stream(ctx)
		for range ch {
		}
		check("Stream", <-errc)
		s.OnRevoke(func([]broker.TopicPartition) {})()
	})
	noPanic("BatchStream", func() {
		var s BatchStream[broker.Message]
		ch, errc := s.BatchStream(ctx)
		for range ch {
		}
		check("BatchStream", <-errc)
	})
	noPanic("Receiver", func() {
		var r Receiver[broker.Message]
		check("Receiver", r.Receive(ctx, func(context.Context, broker.Message) {}))
	})
	noPanic("BatchReceiver", func() {
		var r BatchReceiver[broker.Record]
		check("BatchReceiver", r.ReceiveBatch(ctx, func(context.Context, []broker.Record) {}))
		r.OnRevoke(func([]broker.TopicPartition) {})()
	})
}

// slowStop is a broker.Receiver that, once its ctx ended, returns only
// when release is closed.
type slowStop struct {
	stopping, release chan struct{}
	returned          atomic.Bool
}

func (s *slowStop) Receive(ctx context.Context, _ func(context.Context, broker.Message)) error {
	<-ctx.Done()
	close(s.stopping)
	<-s.release
	s.returned.Store(true)
	return nil
}

func TestConcurrentCloseReturnsOnlyOnceTheAdapterStopped(t *testing.T) {
	src := &slowStop{stopping: make(chan struct{}), release: make(chan struct{})}
	it := ReceiverToMessageIterator(src)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := it.NextMessage(canceled); err == nil { // starts the conversion
		t.Fatal("NextMessage with a canceled ctx returned a message")
	}
	first := make(chan struct{})
	go func() {
		defer close(first)
		it.Close()
	}()
	<-src.stopping // the first Close waits for the source's Receive
	second := make(chan struct{})
	go func() {
		<-second
		close(src.release)
	}()
	close(second)
	it.Close()
	if !src.returned.Load() {
		t.Error("the second Close returned while the first one still waited for the source: the adapter's goroutine outlived Close")
	}
	<-first
}
