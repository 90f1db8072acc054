package adapters

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullkit/broker"
)

func TestReceiverRunsExactlyTheConfiguredNumberOfWorkers(t *testing.T) {
	q := newFakeQueue(t, 40, broker.ErrClosed)
	var active, peak atomic.Int32
	gate := make(chan struct{})
	var once sync.Once
	err := MessageIteratorToReceiver(q, WithWorkers(4)).Receive(context.Background(), func(_ context.Context, m broker.Message) {
		n := active.Add(1)
		defer active.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		if n == 4 {
			once.Do(func() { close(gate) })
		}
		<-gate // the first handlers wait until all four run at once
		m.Ack()
	})
	if err != nil {
		t.Fatalf("Receive: %v (ErrClosed from the source ends it with nil)", err)
	}
	if p := peak.Load(); p != 4 {
		t.Fatalf("peak concurrency %d, want 4", p)
	}
	q.checkSettled(t)
	if a, _ := q.counts(); a != 40 {
		t.Fatalf("%d acked", a)
	}
}

func TestReceiverShutdownNacksMessagesPulledButNotHandedOut(t *testing.T) {
	q := newFakeQueue(t, 100, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var handled atomic.Int32
	done := make(chan error)
	go func() {
		done <- MessageIteratorToReceiver(q, WithWorkers(2), WithBuffer(10)).Receive(ctx, func(hctx context.Context, m broker.Message) {
			handled.Add(1)
			<-hctx.Done() // busy until shutdown
			m.Ack()
		})
	}()
	waitFor(t, "two handlers and a full buffer", func() bool { return handled.Load() == 2 && q.pulled() >= 12 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Receive after cancel = %v, want nil", err)
	}
	q.checkSettled(t)
	if a, n := q.counts(); a != 2 || n < 10 {
		t.Fatalf("acked %d nacked %d; want 2 acked, the buffered ones nacked", a, n)
	}
}

func TestReceiverRecoversAPanickingHandlerNacksItsMessageAndGoesOn(t *testing.T) {
	q := newFakeQueue(t, 10, broker.ErrClosed)
	var mu sync.Mutex
	var reported []error
	err := MessageIteratorToReceiver(q, WithWorkers(3), WithOnError(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, err)
	})).Receive(context.Background(), func(_ context.Context, m broker.Message) {
		if m.ID == "m0003" {
			panic("bad message")
		}
		m.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}
	q.checkSettled(t)
	if q.nacks["m0003"] != 1 || len(q.acks) != 9 {
		t.Fatalf("acks %v nacks %v", q.acks, q.nacks)
	}
	if len(reported) != 1 {
		t.Fatalf("reported %v", reported)
	}
	pe, ok := errors.AsType[*broker.PanicError](reported[0])
	if !ok || pe.Value != "bad message" || !bytes.Contains(pe.Stack, []byte("TestReceiverRecovers")) {
		t.Fatalf("reported %#v", reported[0])
	}
}

func TestReceiverLogsPanicsWithoutThePayloadByDefault(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(old)
	q := newFakeQueue(t, 1, broker.ErrClosed)
	q.msgs[0].Data = []byte("secret-payload")
	err := MessageIteratorToReceiver(q, WithWorkers(1)).Receive(context.Background(), func(context.Context, broker.Message) {
		panic("handler bug")
	})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "handler bug") || !strings.Contains(out, "stack=") {
		t.Fatalf("log: %s", out)
	}
	if strings.Contains(out, "secret-payload") {
		t.Fatalf("payload logged: %s", out)
	}
}

func TestReceiverReturnsTheSourceErrorAfterHandlingWhatItPulled(t *testing.T) {
	boom := errors.New("boom")
	q := newFakeQueue(t, 5, boom)
	err := MessageIteratorToReceiver(q, WithWorkers(2)).Receive(context.Background(), func(_ context.Context, m broker.Message) { m.Ack() })
	if !errors.Is(err, boom) {
		t.Fatalf("Receive = %v, want boom", err)
	}
	if a, _ := q.counts(); a != 5 {
		t.Fatalf("%d acked", a)
	}
}

func TestConcurrentReceiveIsRefused(t *testing.T) {
	q := newFakeQueue(t, 0, nil)
	r := MessageIteratorToReceiver(q)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Receive(ctx, func(context.Context, broker.Message) {}) }()
	waitFor(t, "Receive to pull", func() bool { return q.inNext.Load() })
	if err := r.Receive(ctx, func(context.Context, broker.Message) {}); !errors.Is(err, broker.ErrUnsupported) {
		t.Fatalf("second Receive = %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestBatchedReceiverNeverHandsOutEmptyOrOversizedBatches(t *testing.T) {
	q := newFakeQueue(t, 95, broker.ErrClosed)
	var mu sync.Mutex
	total := 0
	err := MessageIteratorToBatchedReceiver(q, WithMaxBatch(10), WithWorkers(3)).ReceiveBatch(context.Background(), func(_ context.Context, b []broker.Message) {
		if len(b) == 0 || len(b) > 10 {
			t.Errorf("batch of %d", len(b))
		}
		mu.Lock()
		total += len(b)
		mu.Unlock()
		ackAll(b)
	})
	if err != nil || total != 95 {
		t.Fatalf("ReceiveBatch = %v, %d messages", err, total)
	}
}

func TestReceiveWithANilHandlerFailsWithInvalidOptionWithoutPullingAnything(t *testing.T) {
	q := newFakeQueue(t, 5, nil)
	l := newFakeLog(t, 1, 5, 0, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for name, receive := range map[string]func() error{
		"Receiver":              func() error { return MessageIteratorToReceiver(q).Receive(ctx, nil) },
		"BatchedReceiver":       func() error { return MessageIteratorToBatchedReceiver(q).ReceiveBatch(ctx, nil) },
		"RecordReceiver":        func() error { return RecordIteratorToRecordReceiver(l).Receive(ctx, nil) },
		"BatchedRecordReceiver": func() error { return RecordIteratorToBatchedRecordReceiver(l).ReceiveBatch(ctx, nil) },
	} {
		if err := receive(); !errors.Is(err, broker.ErrInvalidOption) {
			t.Errorf("%s with a nil handler = %v, want ErrInvalidOption", name, err)
		}
	}
	if q.pulled() != 0 || l.pulled() != 0 {
		t.Fatalf("pulled %d messages and %d records for a nil handler", q.pulled(), l.pulled())
	}
}
