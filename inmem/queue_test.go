package inmem

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullkit/broker"
)

func TestSubscriptionGetsOnlyMessagesPublishedAfterItWasCreated(t *testing.T) {
	b := newBroker(t)
	publish(t, b, "t", data("before")...)
	sub := subscribe(t, b, "t", "s", QueueConfig{})
	publish(t, b, "t", data("after")...)
	m := next(t, sub)
	if string(m.Data) != "after" || m.DeliveryCount != 1 || m.PublishTime.IsZero() || m.IngestionTime.IsZero() {
		t.Fatalf("got %+v", m)
	}
	if err := m.AckContext(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if n := available(sub); n != 0 {
		t.Fatalf("%d left after ack", n)
	}
}

func TestAckedMessageIsNotRedeliveredAndSecondSettlementIsRefused(t *testing.T) {
	clock := NewFakeClock(t0)
	b := newBroker(t, WithClock(clock))
	sub := subscribe(t, b, "t", "s", QueueConfig{AckDeadline: time.Second})
	publish(t, b, "t", data("a")...)
	m := next(t, sub)
	ctx := testCtx(t)
	if err := m.AckContext(ctx); err != nil {
		t.Fatal(err)
	}
	wantErr(t, m.AckContext(ctx), broker.ErrAlreadySettled)
	m.Nack() // no-op
	clock.Advance(time.Hour)
	if n := available(sub); n != 0 {
		t.Fatalf("%d redelivered after ack", n)
	}
}

func TestAckAfterNackIsANoOp(t *testing.T) {
	b := newBroker(t)
	sub := subscribe(t, b, "t", "s", QueueConfig{})
	publish(t, b, "t", data("a")...)
	m := next(t, sub)
	m.Nack()
	m.Ack()
	wantErr(t, m.AckContext(testCtx(t)), broker.ErrAlreadySettled)
	again := next(t, sub)
	if string(again.Data) != "a" || again.DeliveryCount != 2 || again.ID != m.ID {
		t.Fatalf("redelivery %+v", again)
	}
	again.Ack()
}

func TestZeroMessageSettlesSafely(t *testing.T) {
	var m broker.Message
	m.Ack()
	m.Nack()
	m.Reject("x")
	if err := m.AckContext(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestNackDelayWaitsForTheClock(t *testing.T) {
	clock := NewFakeClock(t0)
	b := newBroker(t, WithClock(clock))
	sub := subscribe(t, b, "t", "s", QueueConfig{Poison: broker.PoisonPolicy{NackDelay: time.Minute}})
	publish(t, b, "t", data("a", "b")...)
	ctx := testCtx(t)

	a := next(t, sub)
	if err := a.Settle(ctx, broker.Settlement{Kind: broker.SettleNack}); err != nil {
		t.Fatal(err)
	}
	bm := next(t, sub)
	if err := bm.Settle(ctx, broker.Settlement{Kind: broker.SettleNack, Delay: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if n := available(sub); n != 0 {
		t.Fatalf("%d available before any delay passed", n)
	}
	clock.Advance(10 * time.Second)
	if m := next(t, sub); string(m.Data) != "b" || m.DeliveryCount != 2 {
		t.Fatalf("got %q count %d, want b (Settlement.Delay wins)", m.Data, m.DeliveryCount)
	} else {
		m.Ack()
	}
	clock.Advance(50 * time.Second)
	if m := next(t, sub); string(m.Data) != "a" {
		t.Fatalf("got %q after the policy's NackDelay", m.Data)
	} else {
		m.Ack()
	}
}

func TestAckDeadlineExpiryRedelivers(t *testing.T) {
	clock := NewFakeClock(t0)
	b := newBroker(t, WithClock(clock))
	sub := subscribe(t, b, "t", "s", QueueConfig{AckDeadline: 10 * time.Second})
	publish(t, b, "t", data("a")...)
	first := next(t, sub)

	clock.Advance(9 * time.Second)
	if n := available(sub); n != 0 {
		t.Fatal("redelivered before the deadline")
	}
	clock.Advance(time.Second)
	second := next(t, sub)
	if second.DeliveryCount != 2 || second.ID != first.ID {
		t.Fatalf("redelivery %+v", second)
	}
	ctx := testCtx(t)
	wantErr(t, first.AckContext(ctx), ErrDeadlineExpired)
	wantErr(t, first.Extend(ctx, time.Second), broker.ErrAlreadySettled)
	if err := second.AckContext(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if n := available(sub); n != 0 {
		t.Fatal("redelivered after ack")
	}
}

func TestExtendLeasesTheMessageForAtLeastDFromNow(t *testing.T) {
	clock := NewFakeClock(t0)
	b := newBroker(t, WithClock(clock))
	sub := subscribe(t, b, "t", "s", QueueConfig{AckDeadline: 10 * time.Second})
	publish(t, b, "t", data("a")...)
	m := next(t, sub)
	ctx := testCtx(t)
	clock.Advance(5 * time.Second)
	if err := m.Extend(ctx, 20*time.Second); err != nil { // deadline 10s → 25s
		t.Fatal(err)
	}
	if err := m.Extend(ctx, time.Second); err != nil { // 6s: never shortens
		t.Fatal(err)
	}
	wantErr(t, m.Extend(ctx, 0), broker.ErrInvalidOption)
	clock.Advance(19 * time.Second) // 24s
	if n := available(sub); n != 0 {
		t.Fatal("redelivered before the extended deadline")
	}
	clock.Advance(time.Second) // 25s
	if n := available(sub); n != 1 {
		t.Fatal("not redelivered at the extended deadline")
	}
}

func TestNoDeadlineMeansNoRedeliveryAndNoExtend(t *testing.T) {
	clock := NewFakeClock(t0)
	b := newBroker(t, WithClock(clock))
	sub := subscribe(t, b, "t", "s", QueueConfig{AckDeadline: -1})
	publish(t, b, "t", data("a")...)
	m := next(t, sub)
	wantErr(t, m.Extend(testCtx(t), time.Second), broker.ErrUnsupported)
	clock.Advance(1000 * time.Hour)
	if n := available(sub); n != 0 || clock.Pending() != 0 {
		t.Fatalf("available %d, timers %d", n, clock.Pending())
	}
	m.Ack()
}

func TestCloseReturnsUnsettledMessagesAndRefusesTheirSettlement(t *testing.T) {
	b := newBroker(t)
	c1, err := b.Subscribe("t", "s", QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, b, "t", data("a", "b")...)
	a := next(t, c1)
	bm := next(t, c1)
	a.Ack()
	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c1.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	wantErr(t, bm.AckContext(testCtx(t)), broker.ErrClosed)
	_, err = c1.NextMessage(testCtx(t))
	wantErr(t, err, broker.ErrClosed)
	_, err = c1.NextBatch(testCtx(t))
	wantErr(t, err, broker.ErrClosed)

	c2 := subscribe(t, b, "t", "s", QueueConfig{})
	again := next(t, c2)
	if string(again.Data) != "b" || again.DeliveryCount != 2 {
		t.Fatalf("after reopen got %q count %d", again.Data, again.DeliveryCount)
	}
	again.Ack()
}

func TestCloseUnblocksAWaitingConsumer(t *testing.T) {
	b := newBroker(t)
	c, _ := b.Subscribe("t", "s", QueueConfig{})
	errc := make(chan error)
	go func() {
		_, err := c.NextMessage(context.Background())
		errc <- err
	}()
	_ = c.Close()
	wantErr(t, <-errc, broker.ErrClosed)
}

func TestBrokerCloseClosesConsumersAndIsIdempotent(t *testing.T) {
	clock := NewFakeClock(t0)
	b := New(WithClock(clock))
	q, _ := b.Subscribe("t", "s", QueueConfig{Poison: broker.PoisonPolicy{NackDelay: time.Minute}})
	l, _ := b.JoinGroup("t", "g", LogConfig{})
	publish(t, b, "t", data("a", "b")...)
	m := next(t, q)
	m2 := next(t, q)
	m2.Nack() // delayed
	r := nextRecord(t, l)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if clock.Pending() != 0 {
		t.Fatalf("%d timers left after Close", clock.Pending())
	}
	ctx := testCtx(t)
	wantErr(t, m.AckContext(ctx), broker.ErrClosed)
	wantErr(t, r.AckContext(ctx), broker.ErrClosed)
	_, err := q.NextMessage(ctx)
	wantErr(t, err, broker.ErrClosed)
	_, err = l.NextRecord(ctx)
	wantErr(t, err, broker.ErrClosed)
	_, err = b.Subscribe("t", "s", QueueConfig{})
	wantErr(t, err, broker.ErrClosed)
	_, err = b.JoinGroup("t", "g", LogConfig{})
	wantErr(t, err, broker.ErrClosed)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if available(q) != 2 {
		t.Fatalf("unsettled and delayed messages not returned: %d", available(q))
	}
}

func TestCompetingConsumersShareMessages(t *testing.T) {
	b := newBroker(t)
	c1 := subscribe(t, b, "t", "s", QueueConfig{})
	c2 := subscribe(t, b, "t", "s", QueueConfig{})
	other := subscribe(t, b, "t", "other", QueueConfig{})
	const n = 200
	msgs := make([]broker.OutboundMessage, n)
	for i := range msgs {
		msgs[i].Data = []byte(fmt.Sprint(i))
	}
	publish(t, b, "t", msgs...)

	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	ctx := testCtx(t)
	var total atomic.Int64
	for _, c := range []*QueueConsumer{c1, c2} {
		wg.Go(func() {
			for total.Add(1) <= n {
				m, err := c.NextMessage(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[string(m.Data)]++
				mu.Unlock()
				m.Ack()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d distinct messages, want %d", len(seen), n)
	}
	for k, v := range seen {
		if v != 1 {
			t.Fatalf("message %s delivered %d times", k, v)
		}
	}
	if available(other) != n {
		t.Fatalf("other subscription has %d, want all %d", available(other), n)
	}
}

func TestConcurrentSettlementFromManyGoroutines(t *testing.T) {
	b := newBroker(t)
	sub := subscribe(t, b, "t", "s", QueueConfig{})
	const n = 100
	publish(t, b, "t", make([]broker.OutboundMessage, n)...)
	ctx := testCtx(t)
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range n {
		m := next(t, sub)
		for g := range 8 {
			wg.Go(func() {
				var err error
				switch g % 3 {
				case 0:
					err = m.AckContext(ctx)
				case 1:
					err = m.Settle(ctx, broker.Settlement{Kind: broker.SettleNack})
				default:
					m.Ack()
					return
				}
				if err == nil {
					wins.Add(1)
				} else if !errors.Is(err, broker.ErrAlreadySettled) {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	// Every message was settled exactly once: the ones nacked came back.
	redelivered := available(sub)
	if int(wins.Load()) > n || redelivered > n {
		t.Fatalf("wins %d, redelivered %d", wins.Load(), redelivered)
	}
}

func TestNextBatchReturnsWhatIsThereUpToMaxBatch(t *testing.T) {
	b := newBroker(t)
	sub := subscribe(t, b, "t", "s", QueueConfig{MaxBatch: 3})
	publish(t, b, "t", data("a", "b", "c", "d")...)
	ctx := testCtx(t)
	batch, err := sub.NextBatch(ctx)
	if err != nil || len(batch) != 3 {
		t.Fatalf("batch %d, %v", len(batch), err)
	}
	batch2, err := sub.NextBatch(ctx)
	if err != nil || len(batch2) != 1 || string(batch2[0].Data) != "d" {
		t.Fatalf("second batch %v, %v", batch2, err)
	}
	for _, m := range append(batch, batch2...) {
		m.Ack()
	}
}

func TestCanceledNextBatchReturnsPromptlyAndLosesNothing(t *testing.T) {
	b := newBroker(t)
	sub := subscribe(t, b, "t", "s", QueueConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := sub.NextBatch(ctx)
		errc <- err
	}()
	cancel()
	select {
	case err := <-errc:
		wantErr(t, err, context.Canceled)
	case <-time.After(time.Second):
		t.Fatal("NextBatch did not return after cancel")
	}
	publish(t, b, "t", data("a", "b")...)
	batch, err := sub.NextBatch(testCtx(t))
	if err != nil || len(batch) != 2 {
		t.Fatalf("batch %d, %v", len(batch), err)
	}

	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	_, err = sub.NextMessage(done)
	wantErr(t, err, context.Canceled)
}

func TestNextMessageWakesOnPublish(t *testing.T) {
	b := newBroker(t)
	sub := subscribe(t, b, "t", "s", QueueConfig{})
	got := make(chan broker.Message)
	go func() {
		m, err := sub.NextMessage(testCtx(t))
		if err != nil {
			t.Error(err)
		}
		got <- m
	}()
	publish(t, b, "t", data("late")...)
	if m := <-got; string(m.Data) != "late" {
		t.Fatalf("got %q", m.Data)
	}
}

func TestRejectDeadLettersToTheTopic(t *testing.T) {
	b := newBroker(t)
	pol := broker.PoisonPolicy{DeadLetterTopic: "dlq"}
	sub := subscribe(t, b, "t", "s", QueueConfig{Poison: pol})
	dlq := subscribe(t, b, "dlq", "s", QueueConfig{})
	publish(t, b, "t", broker.OutboundMessage{Key: "k", Data: []byte("bad"), Attributes: map[string]any{"a": "b"}})
	m := next(t, sub)
	if err := m.Settle(testCtx(t), broker.Settlement{Kind: broker.SettleReject, Reason: "cannot parse"}); err != nil {
		t.Fatal(err)
	}
	d := next(t, dlq)
	if string(d.Data) != "bad" || d.Key != "k" || d.Attributes["a"] != "b" ||
		d.Attributes[AttrDeadLetterReason] != "cannot parse" || d.Attributes[AttrDeadLetterSource] != "t/s" ||
		d.Attributes[AttrDeadLetterDeliveries] != 1 || d.Attributes[AttrDeadLetterID] != m.ID {
		t.Fatalf("dead letter %+v", d)
	}
	d.Ack()
	if dl := b.DeadLetters("t", "s"); len(dl) != 1 || dl[0].ID != m.ID {
		t.Fatalf("DeadLetters %+v", dl)
	}
	if available(sub) != 0 {
		t.Fatal("rejected message redelivered")
	}
}

func TestMaxDeliveriesDeadLettersInsteadOfRedelivering(t *testing.T) {
	clock := NewFakeClock(t0)
	b := newBroker(t, WithClock(clock))
	sub := subscribe(t, b, "t", "s", QueueConfig{
		AckDeadline: time.Second,
		Poison:      broker.PoisonPolicy{MaxDeliveries: 2, Action: broker.PoisonTerminate, DeadLetterTopic: "dlq"},
	})
	dlq := subscribe(t, b, "dlq", "s", QueueConfig{})
	publish(t, b, "t", data("poison")...)
	first := next(t, sub)
	first.Nack()
	m := next(t, sub)
	if m.DeliveryCount != 2 {
		t.Fatalf("count %d", m.DeliveryCount)
	}
	clock.Advance(time.Second) // deadline passes: third delivery would exceed
	if available(sub) != 0 {
		t.Fatal("delivered a third time")
	}
	if dl := b.DeadLetters("t", "s"); len(dl) != 1 || dl[0].DeliveryCount != 2 {
		t.Fatalf("DeadLetters %+v", dl)
	}
	if available(dlq) != 0 {
		t.Fatal("PoisonTerminate forwarded to the dead-letter topic")
	}
	if b.DeadLetters("t", "nope") != nil || b.DeadLetters("nope", "s") != nil {
		t.Fatal("dead letters of unknown subscriptions")
	}
}

func TestSubscribeValidates(t *testing.T) {
	b := newBroker(t)
	_, err := b.Subscribe("", "s", QueueConfig{})
	wantErr(t, err, broker.ErrInvalidTopic)
	_, err = b.Subscribe("t", "", QueueConfig{})
	wantErr(t, err, broker.ErrInvalidTopic)
	_, err = b.Subscribe("t", "s", QueueConfig{MaxBatch: -1})
	wantErr(t, err, broker.ErrInvalidOption)
	_, err = b.Subscribe("t", "s", QueueConfig{Poison: broker.PoisonPolicy{MaxDeliveries: -1}})
	wantErr(t, err, broker.ErrInvalidOption)
}

func TestFailNextSettlesLosesTheSettlement(t *testing.T) {
	clock := NewFakeClock(t0)
	b := newBroker(t, WithClock(clock))
	sub := subscribe(t, b, "t", "s", QueueConfig{AckDeadline: time.Second})
	publish(t, b, "t", data("a")...)
	boom := errors.New("lost")
	b.FailNextSettles("s", 1, boom)
	m := next(t, sub)
	wantErr(t, m.AckContext(testCtx(t)), boom)
	clock.Advance(time.Second)
	again := next(t, sub)
	if err := again.AckContext(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestManyDeliveriesKeepTheTimerHeapSmall(t *testing.T) {
	clock := NewFakeClock(t0)
	b := newBroker(t, WithClock(clock))
	sub := subscribe(t, b, "t", "s", QueueConfig{AckDeadline: time.Minute})
	const n = 5000
	publish(t, b, "t", make([]broker.OutboundMessage, n)...)
	for range n {
		m := next(t, sub)
		m.Ack()
	}
	sub.s.mu.Lock()
	h := len(sub.s.timers.heap)
	sub.s.mu.Unlock()
	if h > 1024 {
		t.Fatalf("%d timer events kept for 0 messages in flight", h)
	}
	if clock.Pending() != 1 {
		t.Fatalf("%d clock timers, want 1", clock.Pending())
	}
}

func TestPendingQueueKeepsOrderWhileItCompacts(t *testing.T) {
	b := newBroker(t)
	if err := b.CreateTopic("t", 1); err != nil {
		t.Fatal(err)
	}
	sub := subscribe(t, b, "t", "s", QueueConfig{AckDeadline: -1})
	msgs := make([]broker.OutboundMessage, 3000)
	for i := range msgs {
		msgs[i].Data = []byte(fmt.Sprint(i))
	}
	publish(t, b, "t", msgs[:2000]...)
	want := 0
	take := func(n int) {
		for range n {
			m := next(t, sub)
			if string(m.Data) != fmt.Sprint(want) {
				t.Fatalf("got %s, want %d", m.Data, want)
			}
			want++
			m.Ack()
		}
	}
	take(1500) // head passes 1024 with most of the queue consumed
	publish(t, b, "t", msgs[2000:]...)
	take(1500)
	if available(sub) != 0 {
		t.Fatal("left over")
	}
}

func TestUnknownSettlementKindIsRefusedAndTheMessageCanStillBeSettled(t *testing.T) {
	b := newBroker(t)
	sub := subscribe(t, b, "t", "s", QueueConfig{})
	publish(t, b, "t", data("a")...)
	m := next(t, sub)
	wantErr(t, m.Settle(testCtx(t), broker.Settlement{Kind: 99}), broker.ErrInvalidOption)
	if err := m.AckContext(testCtx(t)); err != nil {
		t.Fatalf("AckContext after a refused settlement: %v", err)
	}
	if available(sub) != 0 {
		t.Fatal("acked message still available")
	}
}

func TestFaultHooksCanBeRemoved(t *testing.T) {
	b := newBroker(t)
	tp, _ := b.Publisher().Topic("t")
	b.FailNextPublishes("t", 5, errors.New("boom"))
	b.FailNextPublishes("t", 0, nil)
	if err := tp.Publish(testCtx(t), broker.OutboundMessage{}); err != nil {
		t.Fatal(err)
	}
	if b.faults.armed.Load() != 0 {
		t.Fatal("hook still armed")
	}
}
