package servicebus_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/adapters"
	"github.com/pullkit/broker/servicebus"
	"github.com/pullkit/broker/servicebus/sbtest"
)

func TestLockExpiryRedeliversWithAHigherDeliveryCount(t *testing.T) {
	e := newEnv(t, &sbtest.QueueOptions{LockDuration: 300 * time.Millisecond})
	q := e.consumer(servicebus.QueueConfig{AutoRenew: -1})
	e.publish("m")
	m1 := e.next(q)
	m2 := e.next(q) // only after the lock expired
	if m2.ID != m1.ID || m1.DeliveryCount != 1 || m2.DeliveryCount != 2 {
		t.Fatalf("got %q (delivery %d) then %q (delivery %d), want the same message with deliveries 1 and 2",
			m1.ID, m1.DeliveryCount, m2.ID, m2.DeliveryCount)
	}
	if err := m1.AckContext(e.ctx); err == nil {
		t.Errorf("AckContext with the expired lock succeeded")
	}
	if err := m2.AckContext(e.ctx); err != nil {
		t.Fatalf("AckContext of the redelivery: %v", err)
	}
	left, _ := e.srv.Messages(e.queue)
	if len(left) != 0 {
		t.Errorf("%d messages left after completing the redelivery", len(left))
	}
}

func TestAutoRenewKeepsASlowHandlersLock(t *testing.T) {
	const lock = 300 * time.Millisecond
	e := newEnv(t, &sbtest.QueueOptions{LockDuration: lock})
	q := e.consumer(servicebus.QueueConfig{AutoRenew: time.Minute})
	e.publish("slow")
	var handled atomic.Int32
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	r := q.Receiver(adapters.WithWorkers(2))
	errc := make(chan error, 1)
	go func() {
		errc <- r.Receive(ctx, func(ctx context.Context, m broker.Message) {
			if handled.Add(1) > 1 {
				t.Errorf("message %q delivered again (delivery %d) while its handler still ran", m.Data, m.DeliveryCount)
				return
			}
			time.Sleep(4 * lock) // several lock durations
			if err := m.AckContext(ctx); err != nil {
				t.Errorf("AckContext after a handler that outlived its lock 4 times: %v", err)
			}
			cancel()
		})
	}()
	if err := <-errc; err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if n := handled.Load(); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
}

func TestExtendOutlivesTheLockDuration(t *testing.T) {
	const lock = 300 * time.Millisecond
	e := newEnv(t, &sbtest.QueueOptions{LockDuration: lock})
	q := e.consumer(servicebus.QueueConfig{AutoRenew: -1})
	e.publish("m")
	m := e.next(q)
	if err := m.Extend(e.ctx, 5*lock); err != nil {
		t.Fatalf("Extend: %v", err)
	}
	e.nothingWithin(q, 3*lock, "after Extend for 5 lock durations")
	if err := m.AckContext(e.ctx); err != nil {
		t.Fatalf("AckContext: %v", err)
	}
}

func TestEntityMaxDeliveryCountMovesTheMessageToTheDeadLetterQueue(t *testing.T) {
	e := newEnv(t, &sbtest.QueueOptions{MaxDeliveryCount: 2})
	q := e.consumer(servicebus.QueueConfig{}) // no client-side policy: Service Bus does it
	e.publish("poison")
	for i := range 2 {
		m := e.next(q)
		if m.DeliveryCount != i+1 {
			t.Errorf("delivery %d has DeliveryCount %d", i+1, m.DeliveryCount)
		}
		if err := m.Settle(e.ctx, broker.Settlement{Kind: broker.SettleNack}); err != nil {
			t.Fatalf("Nack: %v", err)
		}
	}
	e.nothingWithin(q, 200*time.Millisecond, "past MaxDeliveryCount")
	dead, err := e.srv.DeadLetters(e.queue)
	if err != nil || len(dead) != 1 || dead[0].DeadLetterReason != "MaxDeliveryCountExceeded" {
		t.Fatalf("dead letters: %+v, %v; want the message with reason MaxDeliveryCountExceeded", dead, err)
	}
	dlq := e.consumer(servicebus.QueueConfig{DeadLetter: true})
	if m := e.next(dlq); string(m.Data) != "poison" {
		t.Errorf("dead-letter queue consumer got %q", m.Data)
	}
}

func TestPoisonPolicyDeadLettersOrTerminates(t *testing.T) {
	for _, tc := range []struct {
		action   broker.PoisonAction
		wantDead int
	}{{broker.PoisonDeadLetter, 1}, {broker.PoisonTerminate, 0}} {
		t.Run(map[broker.PoisonAction]string{broker.PoisonDeadLetter: "DeadLetter", broker.PoisonTerminate: "Terminate"}[tc.action], func(t *testing.T) {
			e := newEnv(t, nil) // the entity's own limit (10) is not reached
			q := e.consumer(servicebus.QueueConfig{Poison: broker.PoisonPolicy{MaxDeliveries: 2, Action: tc.action}})
			e.publish("poison", "rejected")
			for range 3 {
				m := e.next(q)
				if string(m.Data) == "rejected" {
					m.Reject("bad payload")
					continue
				}
				m.Nack()
			}
			e.nothingWithin(q, 200*time.Millisecond, "past MaxDeliveries or rejected")
			dead, _ := e.srv.DeadLetters(e.queue)
			if len(dead) != 2*tc.wantDead {
				t.Fatalf("%d dead letters, want %d", len(dead), 2*tc.wantDead)
			}
			reasons := map[string]string{}
			for _, d := range dead {
				reasons[string(d.Body)] = d.DeadLetterReason
			}
			if tc.wantDead > 0 && (reasons["poison"] != "MaxDeliveriesExceeded" || reasons["rejected"] != "bad payload") {
				t.Errorf("dead-letter reasons %v", reasons)
			}
			if left, _ := e.srv.Messages(e.queue); len(left) != 0 {
				t.Errorf("%d messages left in the queue", len(left))
			}
		})
	}
}

func TestDroppedConnectionIsSurvived(t *testing.T) {
	e := newEnv(t, &sbtest.QueueOptions{LockDuration: 500 * time.Millisecond})
	q := e.consumer(servicebus.QueueConfig{AutoRenew: -1})
	tp := e.topic()
	if err := tp.Publish(e.ctx, broker.OutboundMessage{Data: []byte("before")}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	held := e.next(q)
	conns := e.srv.Connections()
	if n := e.srv.DropConnections(); n == 0 {
		t.Fatalf("DropConnections dropped nothing")
	}
	// Settling on the dropped link fails; the message comes back when its
	// lock expires.
	// (azservicebus retries a settlement with 4 s pauses, whatever the
	// client's RetryOptions: a short ctx ends that.)
	actx, cancel := context.WithTimeout(e.ctx, 200*time.Millisecond)
	defer cancel()
	if err := held.AckContext(actx); err == nil {
		t.Errorf("AckContext on a dropped connection succeeded")
	}
	if err := tp.Publish(e.ctx, broker.OutboundMessage{Data: []byte("after")}); err != nil {
		t.Fatalf("Publish after the drop: %v", err)
	}
	seen := map[string]bool{}
	for len(seen) < 2 {
		m, err := q.NextMessage(e.ctx)
		if err != nil {
			if errors.Is(err, broker.ErrUnavailable) && e.ctx.Err() == nil {
				continue // the client is reconnecting
			}
			t.Fatalf("NextMessage after the drop: %v", err)
		}
		seen[string(m.Data)] = true
		if err := m.AckContext(e.ctx); err != nil {
			t.Fatalf("AckContext after the drop: %v", err)
		}
	}
	if e.srv.Connections() <= conns {
		t.Errorf("no new connection after the drop")
	}
}

func TestCloseGivesBackHeldAndPrefetchedMessages(t *testing.T) {
	e := newEnv(t, nil)
	e.publish(datas(10, "m")...)
	q := e.consumer(servicebus.QueueConfig{MaxBatch: 2, Prefetch: 10})
	batch, err := q.NextBatch(e.ctx)
	if err != nil || len(batch) == 0 || len(batch) > 2 {
		t.Fatalf("NextBatch: %d messages, %v; want 1 or 2", len(batch), err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := batch[0].AckContext(e.ctx); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("AckContext of a message abandoned by Close: %v, want ErrClosed", err)
	}
	e.waitFor("every message to be available again", func() bool {
		msgs, _ := e.srv.Messages(e.queue)
		for _, m := range msgs {
			if m.State != "active" {
				return false
			}
		}
		return len(msgs) == 10
	})
	if _, err := q.NextBatch(e.ctx); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("NextBatch after Close: %v, want ErrClosed", err)
	}
}

func TestReceiveAndDeleteIsAtMostOnce(t *testing.T) {
	e := newEnv(t, nil)
	e.publish("a", "b")
	q := e.consumer(servicebus.QueueConfig{ReceiveMode: servicebus.ReceiveAndDelete})
	m := e.next(q)
	if err := m.Extend(e.ctx, time.Second); !errors.Is(err, broker.ErrUnsupported) {
		t.Errorf("Extend in receive-and-delete: %v, want ErrUnsupported", err)
	}
	if err := m.Settle(e.ctx, broker.Settlement{Kind: broker.SettleNack}); !errors.Is(err, broker.ErrUnsupported) {
		t.Errorf("Nack in receive-and-delete: %v, want ErrUnsupported", err)
	}
	m2 := e.next(q)
	if err := m2.AckContext(e.ctx); err != nil {
		t.Errorf("Ack in receive-and-delete: %v", err)
	}
	if string(m.Data)+string(m2.Data) != "ab" {
		t.Errorf("got %q and %q", m.Data, m2.Data)
	}
	e.nothingWithin(q, 100*time.Millisecond, "a nacked receive-and-delete message")
}

// In receive-and-delete mode the credit a short batch leaves on the link
// keeps taking messages off the entity between NextBatch calls, as the
// package doc warns (it used to say that with the default Prefetch
// nothing waits in the consumer): the next NextBatch hands them out.
func TestReceiveAndDeleteTakesMessagesBetweenBatches(t *testing.T) {
	e := newEnv(t, nil)
	q := e.consumer(servicebus.QueueConfig{ReceiveMode: servicebus.ReceiveAndDelete})
	e.publish("a")
	if b, err := q.NextBatch(e.ctx); err != nil || len(b) != 1 {
		t.Fatalf("NextBatch: %d messages, %v", len(b), err)
	}
	e.publish("b", "c")
	e.waitFor("b and c to leave the queue with no receive in progress", func() bool {
		msgs, _ := e.srv.Messages(e.queue)
		return len(msgs) == 0
	})
	var got []string
	for len(got) < 2 {
		b, err := q.NextBatch(e.ctx)
		if err != nil {
			t.Fatalf("NextBatch: %v", err)
		}
		for _, m := range b {
			got = append(got, string(m.Data))
		}
	}
	if len(got) != 2 || got[0] != "b" || got[1] != "c" {
		t.Errorf("next batches: %q, want [b c]", got)
	}
}

func TestMissingEntityIsNotFound(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.c.NewQueue(e.ctx, servicebus.QueueConfig{Queue: "nope"}); !errors.Is(err, broker.ErrNotFound) {
		t.Errorf("NewQueue on a missing queue: %v, want ErrNotFound", err)
	}
	p, _ := e.c.Publisher()
	defer p.Close()
	tp, _ := p.Topic("nope")
	if err := tp.Publish(e.ctx, broker.OutboundMessage{Data: []byte("x")}); !errors.Is(err, broker.ErrNotFound) {
		t.Errorf("Publish to a missing queue: %v, want ErrNotFound", err)
	}
}

func TestQueueConfigIsValidated(t *testing.T) {
	e := newEnv(t, nil)
	for name, cfg := range map[string]servicebus.QueueConfig{
		"no entity":       {},
		"both":            {Queue: "q", Topic: "t", Subscription: "s"},
		"topic alone":     {Topic: "t"},
		"batch too large": {Queue: "q", MaxBatch: 5001},
		"nack delay":      {Queue: "q", Poison: broker.PoisonPolicy{NackDelay: time.Second}},
		"mode":            {Queue: "q", ReceiveMode: 7},
	} {
		if _, err := e.c.NewQueue(e.ctx, cfg); err == nil {
			t.Errorf("%s: NewQueue accepted %+v", name, cfg)
		}
	}
}

func TestClientCloseClosesItsQueuesAndPublishers(t *testing.T) {
	e := newEnv(t, nil)
	c := e.tg.newClient(t)
	q, err := c.NewQueue(e.ctx, servicebus.QueueConfig{Queue: e.queue})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Publisher()
	if err != nil {
		t.Fatal(err)
	}
	tp, _ := p.Topic(e.queue)
	if err := tp.Publish(e.ctx, broker.OutboundMessage{Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	held := e.next(q)
	if err := c.Close(e.ctx); err != nil {
		t.Fatalf("Client.Close: %v", err)
	}
	if err := c.Close(e.ctx); err != nil {
		t.Fatalf("second Client.Close: %v", err)
	}
	if _, err := q.NextBatch(e.ctx); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("NextBatch after Client.Close: %v, want ErrClosed", err)
	}
	if err := tp.Publish(e.ctx, broker.OutboundMessage{Data: []byte("y")}); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("Publish after Client.Close: %v, want ErrClosed", err)
	}
	if _, err := c.NewQueue(e.ctx, servicebus.QueueConfig{Queue: e.queue}); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("NewQueue after Client.Close: %v, want ErrClosed", err)
	}
	// Not ErrAlreadySettled: the caller never settled it, and a handler
	// must not take its ack for done.
	if err := held.AckContext(e.ctx); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("AckContext of a message the closed queue gave back: %v, want ErrClosed", err)
	}
	e.waitFor("the held message to be available again", func() bool {
		msgs, _ := e.srv.Messages(e.queue)
		return len(msgs) == 1 && msgs[0].State == "active"
	})
}

func TestNativePeekStartsAtTheFirstMessage(t *testing.T) {
	e := newEnv(t, nil)
	e.publish("a", "b")
	q := e.consumer(servicebus.QueueConfig{})
	// NewQueue connects with a peek; that must not move the receiver's
	// own peek cursor, or a caller peeking through Native misses messages.
	got, err := q.Native().PeekMessages(e.ctx, 10, nil)
	if err != nil {
		t.Fatalf("PeekMessages: %v", err)
	}
	var bodies []string
	for _, m := range got {
		bodies = append(bodies, string(m.Body))
	}
	if len(bodies) != 2 || bodies[0] != "a" || bodies[1] != "b" {
		t.Errorf("Native().PeekMessages: %q, want [a b]", bodies)
	}
}

// Close abandons what it holds, and Service Bus counts an abandon as a
// delivery: the package doc says so (it used to promise the count stayed
// as it was), and that even messages no caller saw are counted.
func TestCloseCountsADeliveryForWhatItHeld(t *testing.T) {
	e := newEnv(t, nil)
	e.publish("a", "b", "c")
	// A batch of exactly 3, collected for as long as it takes: b and c
	// come with a and wait in the NextMessage adapter.
	q := e.consumer(servicebus.QueueConfig{MaxBatch: 3, MaxWait: 10 * time.Second})
	if m := e.next(q); m.DeliveryCount != 1 {
		t.Fatalf("first delivery has DeliveryCount %d", m.DeliveryCount)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	q2 := e.consumer(servicebus.QueueConfig{})
	for range 3 {
		m := e.next(q2)
		if m.DeliveryCount != 2 {
			t.Errorf("%s after Close: DeliveryCount %d, want 2", m.Data, m.DeliveryCount)
		}
		m.Ack()
	}
}

// A message received past PoisonPolicy.MaxDeliveries is dead-lettered
// inside NextBatch; a namespace slow to confirm that must not hold
// NextBatch past its ctx (it used to wait up to SettleTimeout, 30 s, per
// such message, whatever the ctx).
func TestNextBatchHonoursItsCtxWhileDeadLetteringAPoisonMessage(t *testing.T) {
	e := newEnv(t, &sbtest.QueueOptions{LockDuration: 300 * time.Millisecond})
	q := e.consumer(servicebus.QueueConfig{AutoRenew: -1, Poison: broker.PoisonPolicy{MaxDeliveries: 1}})
	e.publish("poison")
	first, err := q.NextBatch(e.ctx)
	if err != nil || len(first) != 1 || first[0].DeliveryCount != 1 {
		t.Fatalf("NextBatch: %d messages, %v", len(first), err)
	}
	// Left unsettled: its lock expires and it comes back on delivery 2,
	// past MaxDeliveries; the dead-letter NextBatch sends gets no answer.
	e.srv.IgnoreSettlements(1)
	ctx, cancel := context.WithTimeout(e.ctx, time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		batch, err := q.NextBatch(ctx)
		if len(batch) > 0 {
			err = errors.New("a poison message was handed out")
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("NextBatch: %v, want its ctx's deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("NextBatch still blocked 9 s after its ctx ended")
	}
}

// Calls must not be concurrent, but the doc says a second one waits for
// the first: that wait must still end with the second call's ctx.
func TestASecondNextBatchWaitsOnlyAsLongAsItsCtx(t *testing.T) {
	e := newEnv(t, nil)
	q := e.consumer(servicebus.QueueConfig{})
	firstCtx, stopFirst := context.WithCancel(e.ctx)
	defer stopFirst()
	first := make(chan error, 1)
	go func() {
		_, err := q.NextBatch(firstCtx) // the queue is empty: blocks
		first <- err
	}()
	time.Sleep(100 * time.Millisecond) // let the first call start receiving
	ctx, cancel := context.WithTimeout(e.ctx, 200*time.Millisecond)
	defer cancel()
	second := make(chan error, 1)
	go func() {
		_, err := q.NextBatch(ctx)
		second <- err
	}()
	returned := false
	select {
	case err := <-second:
		returned = true
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("second NextBatch: %v, want its ctx's deadline", err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("second NextBatch still waiting for the first 5 s after its ctx ended")
	}
	stopFirst()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("first NextBatch: %v, want canceled", err)
	}
	if !returned {
		<-second
	}
}

// A client whose clock runs ahead of the namespace's by more than the
// lock duration sees every lock already expired, even one just renewed.
// The renewer used to renew such a message back to back, as fast as round
// trips allowed, for all of AutoRenew; it must keep the lock at a sane
// pace instead.
func TestRenewalDoesNotSpinWhenTheClientClockRunsAhead(t *testing.T) {
	const lock = 2 * time.Second
	srv, err := sbtest.NewServer(sbtest.WithClockSkew(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if err := srv.CreateQueue("orders", &sbtest.QueueOptions{LockDuration: lock}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tg := target{name: "sbtest", connStr: srv.ConnectionString(), admin: sbtestAdmin{srv}, fast: true}
	c := tg.newClient(t)
	p, _ := c.Publisher()
	defer p.Close()
	tp, _ := p.Topic("orders")
	if err := tp.Publish(ctx, broker.OutboundMessage{Data: []byte("m")}); err != nil {
		t.Fatal(err)
	}
	q, err := c.NewQueue(ctx, servicebus.QueueConfig{Queue: "orders", AutoRenew: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	m, err := q.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	time.Sleep(lock + lock/2) // a handler outliving its lock
	held := time.Since(start)
	// At most one renewal per half second (Service Bus locks last at
	// least 5 s) plus the first: a spinning renewer makes hundreds.
	if n, most := srv.LockRenewals(), int(held/(lock/4))+2; n > most {
		t.Errorf("%d lock renewals in %v, want at most %d", n, held.Round(time.Millisecond), most)
	}
	if err := m.AckContext(ctx); err != nil {
		t.Errorf("AckContext after %v with renewal: %v", held.Round(time.Millisecond), err)
	}
}

// A dead-letter queue has no dead-letter queue of its own (Service Bus
// keeps a message dead-lettered there where it is, to be delivered
// again), so Reject on a DeadLetter consumer completes the message, as
// broker.PoisonDeadLetter says for a consumer without a dead-letter
// destination; it used to dead-letter it in place, and it came back.
// PoisonPolicy.MaxDeliveries is refused there: dead-lettered messages
// keep the delivery count they reached on the entity, so the check would
// settle them before anyone saw them (it made NextBatch receive and
// dead-letter them in place in a loop, never returning).
func TestPoisonOnADeadLetterQueue(t *testing.T) {
	e := newEnv(t, nil)
	e.publish("x")
	q := e.consumer(servicebus.QueueConfig{})
	m := e.next(q)
	if err := m.Settle(e.ctx, broker.Settlement{Kind: broker.SettleReject}); err != nil {
		t.Fatalf("Reject: %v", err)
	}
	_, err := e.c.NewQueue(e.ctx, servicebus.QueueConfig{Queue: e.queue, DeadLetter: true, Poison: broker.PoisonPolicy{MaxDeliveries: 3}})
	if !errors.Is(err, broker.ErrInvalidOption) {
		t.Errorf("NewQueue for a dead-letter queue with MaxDeliveries: %v, want ErrInvalidOption", err)
	}
	dlq := e.consumer(servicebus.QueueConfig{DeadLetter: true})
	m = e.next(dlq)
	if err := m.Settle(e.ctx, broker.Settlement{Kind: broker.SettleReject, Reason: "still bad"}); err != nil {
		t.Fatalf("Reject on the dead-letter queue: %v", err)
	}
	e.nothingWithin(dlq, 200*time.Millisecond, "after Reject on the dead-letter queue")
	if dead, _ := e.srv.DeadLetters(e.queue); len(dead) != 0 {
		t.Errorf("%d messages left in the dead-letter queue, want 0", len(dead))
	}
}

// One renewal that gets no answer must not stall the renewal of every
// other held message: the renewer used to renew one message at a time,
// each call bounded only by Close, so all locks ran out behind it.
func TestAnUnansweredRenewalDoesNotStallTheOthers(t *testing.T) {
	const lock = 600 * time.Millisecond
	e := newEnv(t, &sbtest.QueueOptions{LockDuration: lock})
	e.publish("a", "b")
	q := e.consumer(servicebus.QueueConfig{AutoRenew: time.Minute, MaxBatch: 2, MaxWait: 10 * time.Second})
	batch, err := q.NextBatch(e.ctx)
	if err != nil || len(batch) != 2 {
		t.Fatalf("NextBatch: %d messages, %v", len(batch), err)
	}
	e.srv.IgnoreLockRenewals(1) // the first renewal of one of them
	time.Sleep(4 * lock)        // handlers outliving their locks
	kept := 0
	for _, m := range batch {
		if err := m.AckContext(e.ctx); err == nil {
			kept++
		}
	}
	if kept == 0 {
		t.Errorf("both locks lost after one renewal went unanswered; want the other one kept")
	}
}
