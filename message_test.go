package broker_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullkit/broker"
)

// recorder counts the settlements a backend would receive.
type recorder struct {
	mu    sync.Mutex
	kinds []broker.Settlement
}

func (r *recorder) settle(_ context.Context, s broker.Settlement) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.kinds = append(r.kinds, s)
	return nil
}

func (r *recorder) got() []broker.Settlement {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]broker.Settlement(nil), r.kinds...)
}

func TestZeroMessageAndRecordSettleWithoutPanic(t *testing.T) {
	var m broker.Message
	m.Ack()
	m.Nack()
	m.Reject("poison")
	if err := m.AckContext(context.Background()); err != nil {
		t.Fatalf("AckContext on a zero Message: %v", err)
	}
	if err := m.Extend(context.Background(), time.Second); !errors.Is(err, broker.ErrUnsupported) {
		t.Fatalf("Extend on a zero Message = %v, want ErrUnsupported", err)
	}
	var r broker.Record
	r.Ack()
	if err := r.AckContext(context.Background()); err != nil {
		t.Fatalf("AckContext on a zero Record: %v", err)
	}
}

func TestFirstSettlementWinsAcrossCopies(t *testing.T) {
	var rec recorder
	m := broker.Message{Settler: broker.NewSettler(rec.settle, nil)}
	cp := m // copies share the Settler
	m.Nack()
	cp.Ack()
	m.Reject("late")
	if err := cp.AckContext(context.Background()); !errors.Is(err, broker.ErrAlreadySettled) {
		t.Fatalf("AckContext after Nack = %v, want ErrAlreadySettled", err)
	}
	got := rec.got()
	if len(got) != 1 || got[0].Kind != broker.SettleNack || !got[0].NoWait {
		t.Fatalf("backend saw %+v, want exactly one fire-and-forget nack", got)
	}
	if !cp.Settled() {
		t.Fatal("Settled() = false after Nack")
	}
}

func TestConcurrentSettlementReachesTheBackendOnce(t *testing.T) {
	var calls atomic.Int32
	m := broker.Message{Settler: broker.NewSettler(func(context.Context, broker.Settlement) error {
		calls.Add(1)
		return nil
	}, nil)}
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			if i%2 == 0 {
				m.Ack()
			} else {
				m.Nack()
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("backend settled %d times, want 1", n)
	}
}

func TestSettleWithDoneContextLeavesTheMessageUnsettled(t *testing.T) {
	var rec recorder
	m := broker.Message{Settler: broker.NewSettler(rec.settle, nil)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.AckContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("AckContext(canceled) = %v, want context.Canceled", err)
	}
	if m.Settled() {
		t.Fatal("a refused settlement marked the message settled")
	}
	if err := m.Settle(context.Background(), broker.Settlement{Kind: broker.SettleNack, Delay: time.Second}); err != nil {
		t.Fatal(err)
	}
	got := rec.got()
	if len(got) != 1 || got[0].Kind != broker.SettleNack || got[0].Delay != time.Second || got[0].NoWait {
		t.Fatalf("backend saw %+v, want one confirmed nack with a delay", got)
	}
}

func TestSettleErrorIsReturned(t *testing.T) {
	boom := errors.New("broker said no")
	m := broker.Message{Settler: broker.NewSettler(func(context.Context, broker.Settlement) error { return boom }, nil)}
	if err := m.AckContext(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("AckContext = %v, want the backend's error", err)
	}
}

func TestExtendCallsTheBackendUntilSettled(t *testing.T) {
	var extended time.Duration
	m := broker.Message{Settler: broker.NewSettler(nil, func(_ context.Context, d time.Duration) error {
		extended += d
		return nil
	})}
	if err := m.Extend(context.Background(), time.Minute); err != nil || extended != time.Minute {
		t.Fatalf("Extend = %v, extended %v", err, extended)
	}
	m.Ack()
	if err := m.Extend(context.Background(), time.Minute); !errors.Is(err, broker.ErrAlreadySettled) {
		t.Fatalf("Extend after Ack = %v, want ErrAlreadySettled", err)
	}
	noExtend := broker.Message{Settler: broker.NewSettler(nil, nil)}
	if err := noExtend.Extend(context.Background(), time.Minute); !errors.Is(err, broker.ErrUnsupported) {
		t.Fatalf("Extend without backend support = %v, want ErrUnsupported", err)
	}
}

func TestSeedFuncsStillWorkWithoutSettler(t *testing.T) {
	var acked, nacked, committed int
	m := broker.Message{AckFunc: func() { acked++ }, NackFunc: func() { nacked++ }}
	m.Ack()
	m.Nack()
	r := broker.Record{CommitFunc: func() { committed++ }}
	r.Ack()
	if acked != 1 || nacked != 1 || committed != 1 {
		t.Fatalf("acked %d nacked %d committed %d, want 1 each", acked, nacked, committed)
	}
}

func TestRecordAckIsOnceOnly(t *testing.T) {
	var rec recorder
	r := broker.Record{Topic: "t", Partition: 2, Offset: 7, Settler: broker.NewSettler(rec.settle, nil)}
	r.Ack()
	r.Ack()
	if err := r.AckContext(context.Background()); !errors.Is(err, broker.ErrAlreadySettled) {
		t.Fatalf("AckContext after Ack = %v", err)
	}
	if n := len(rec.got()); n != 1 {
		t.Fatalf("committed %d times", n)
	}
	if got := r.PartitionOf().String(); got != "t/2" {
		t.Fatalf("PartitionOf = %q", got)
	}
}

func TestPoisonPolicy(t *testing.T) {
	p := broker.PoisonPolicy{MaxDeliveries: 3}
	for count, want := range map[int]bool{0: false, 1: false, 3: false, 4: true} {
		if got := p.Exceeded(count); got != want {
			t.Errorf("Exceeded(%d) = %v, want %v", count, got, want)
		}
	}
	if (broker.PoisonPolicy{}).Exceeded(1000) {
		t.Error("the zero policy must redeliver forever")
	}
	for _, bad := range []broker.PoisonPolicy{{MaxDeliveries: -1}, {NackDelay: -time.Second}, {Action: 9}} {
		if err := bad.Validate(); !errors.Is(err, broker.ErrInvalidOption) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidOption", bad, err)
		}
	}
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
}

// delivery is how a backend embeds a Settler in its per-delivery state.
type delivery struct {
	broker.Settler
	settles  int
	last     broker.SettleKind
	extended time.Duration
}

func (d *delivery) Settle(_ context.Context, s broker.Settlement) error {
	d.settles++
	d.last = s.Kind
	return nil
}

func (d *delivery) Extend(_ context.Context, by time.Duration) error {
	d.extended += by
	return nil
}

func TestEmbeddedSettlerSettlesOnceThroughItsHandler(t *testing.T) {
	d := &delivery{}
	d.Settler.Init(d)
	m := broker.Message{Settler: &d.Settler}
	if err := m.Extend(context.Background(), time.Second); err != nil || d.extended != time.Second {
		t.Fatalf("Extend = %v, extended %v", err, d.extended)
	}
	m.Reject("poison")
	m.Ack()
	if d.settles != 1 || d.last != broker.SettleReject {
		t.Fatalf("handler saw %d settlements, the last %v; want one reject", d.settles, d.last)
	}
	allocs := testing.AllocsPerRun(100, func() {
		d := &delivery{}
		d.Settler.Init(d)
		m := broker.Message{Settler: &d.Settler}
		m.Ack()
	})
	if allocs > 1 {
		t.Fatalf("an embedded settler costs %v allocations per delivery, want at most the struct's one", allocs)
	}
}

func TestAnUnknownSettlementKindIsRefusedWithoutUsingUpTheSettlement(t *testing.T) {
	var rec recorder
	m := broker.Message{Settler: broker.NewSettler(rec.settle, nil)}
	if err := m.Settle(context.Background(), broker.Settlement{}); !errors.Is(err, broker.ErrInvalidOption) {
		t.Fatalf("Settle(zero Settlement) = %v, want ErrInvalidOption", err)
	}
	if err := m.AckContext(context.Background()); err != nil {
		t.Fatalf("AckContext after a refused settlement: %v", err)
	}
	if got := rec.got(); len(got) != 1 || got[0].Kind != broker.SettleAck {
		t.Fatalf("backend saw %+v, want one ack", got)
	}
}
