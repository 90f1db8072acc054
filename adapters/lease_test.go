package adapters

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullkit/broker"
)

// leasedMessages hands out msgs, then blocks until ctx ends.
type leasedMessages struct {
	msgs []broker.Message
	next int
}

func (l *leasedMessages) NextMessage(ctx context.Context) (broker.Message, error) {
	if l.next < len(l.msgs) {
		l.next++
		return l.msgs[l.next-1], nil
	}
	<-ctx.Done()
	return broker.Message{}, ctx.Err()
}

// extendCounter is a message whose Extend calls are counted and whose
// requested lease lengths are kept.
type extendCounter struct {
	n        atomic.Int32
	mu       sync.Mutex
	lengths  []time.Duration
	extended chan struct{} // gets a value per call, if anyone listens
}

func (e *extendCounter) message() broker.Message {
	e.extended = make(chan struct{}, 100)
	return broker.Message{ID: "m", Settler: broker.NewSettler(
		func(context.Context, broker.Settlement) error { return nil },
		func(_ context.Context, d time.Duration) error {
			e.n.Add(1)
			e.mu.Lock()
			e.lengths = append(e.lengths, d)
			e.mu.Unlock()
			select {
			case e.extended <- struct{}{}:
			default:
			}
			return nil
		})}
}

func TestAutoExtendKeepsAMessageLeasedWhileItsHandlerWorks(t *testing.T) {
	var ec extendCounter
	src := &leasedMessages{msgs: []broker.Message{ec.message()}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var afterAck int32
	err := MessageIteratorToReceiver(src, WithWorkers(1), WithAutoExtend(5*time.Millisecond, time.Minute)).
		Receive(ctx, func(_ context.Context, m broker.Message) {
			for range 3 { // the handler outlives three extensions
				<-ec.extended
			}
			m.Ack()
			afterAck = ec.n.Load()
			time.Sleep(30 * time.Millisecond) // six ticks with nothing to extend
			cancel()
		})
	if err != nil {
		t.Fatal(err)
	}
	if n := ec.n.Load(); n < 3 || n > afterAck+1 {
		t.Fatalf("%d extensions, %d when acked: extension must stop once the message is settled", n, afterAck)
	}
	ec.mu.Lock()
	defer ec.mu.Unlock()
	for _, d := range ec.lengths {
		if d != 15*time.Millisecond {
			t.Fatalf("asked for %v, want 3×every = 15ms", d)
		}
	}
}

func TestAutoExtendGivesUpAfterMax(t *testing.T) {
	var ec extendCounter
	src := &leasedMessages{msgs: []broker.Message{ec.message()}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var atMax, later int32
	err := MessageIteratorToReceiver(src, WithWorkers(1), WithAutoExtend(5*time.Millisecond, 20*time.Millisecond)).
		Receive(ctx, func(_ context.Context, m broker.Message) {
			<-ec.extended
			time.Sleep(100 * time.Millisecond) // a handler stuck well past max
			atMax = ec.n.Load()
			time.Sleep(50 * time.Millisecond)
			later = ec.n.Load()
			m.Nack()
			cancel()
		})
	if err != nil {
		t.Fatal(err)
	}
	if atMax == 0 || later != atMax || atMax > 4 {
		t.Fatalf("extensions: %d after 100ms, %d after 150ms; want 1 to 4, then none past max (20ms)", atMax, later)
	}
}

func TestAutoExtendReportsAnUnextendableBackendOnce(t *testing.T) {
	msgs := []broker.Message{
		{ID: "a", Settler: broker.NewSettler(nil, nil)}, // no ExtendFunc: ErrUnsupported
		{ID: "b", Settler: broker.NewSettler(nil, nil)},
	}
	var reported atomic.Int32
	var first error
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var handled atomic.Int32
	err := MessageIteratorToBatchedReceiver(&leasedMessages{msgs: msgs}, WithMaxBatch(2), WithMaxWait(time.Millisecond),
		WithAutoExtend(2*time.Millisecond, time.Minute),
		WithOnError(func(err error) {
			if reported.Add(1) == 1 {
				first = err
			}
		})).
		ReceiveBatch(ctx, func(_ context.Context, b []broker.Message) {
			waitFor(t, "the error report", func() bool { return reported.Load() > 0 })
			time.Sleep(20 * time.Millisecond) // ten more ticks
			for i := range b {
				b[i].Ack()
			}
			if handled.Add(int32(len(b))) == 2 {
				cancel()
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	if n := reported.Load(); n != 1 || !errors.Is(first, broker.ErrUnsupported) {
		t.Fatalf("%d reports, first %v; want one wrapping ErrUnsupported", n, first)
	}
}

func TestAutoExtendKeepsExtendingWhileAHandlerFinishesDuringShutdown(t *testing.T) {
	var ec extendCounter
	src := &leasedMessages{msgs: []broker.Message{ec.message()}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := MessageIteratorToReceiver(src, WithWorkers(1), WithAutoExtend(5*time.Millisecond, time.Minute)).
		Receive(ctx, func(_ context.Context, m broker.Message) {
			defer m.Ack()
			<-ec.extended
			cancel() // shutdown: Receive waits for this handler, which still works
			// One extension may have been under way at the cancel; a second
			// one can only come from a tick after it.
			want := ec.n.Load() + 2
			timeout := time.After(5 * time.Second)
			for ec.n.Load() < want {
				select {
				case <-ec.extended:
				case <-timeout:
					t.Error("no extension while the handler finished after ctx ended: its lease runs out")
					return
				}
			}
		})
	if err != nil {
		t.Fatal(err)
	}
}
