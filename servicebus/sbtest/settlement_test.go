package sbtest_test

import (
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/pullkit/broker/servicebus/sbtest"
)

func TestAbandonRedeliversWithIncrementedDeliveryCount(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", nil)
	ctx := testCtx(t)
	c := newClient(t, srv)
	if err := mustSender(t, c, "q").SendMessage(ctx, &azservicebus.Message{Body: []byte("retry me")}, nil); err != nil {
		t.Fatal(err)
	}
	r := mustReceiver(t, c, "q", nil)
	first := receiveOne(t, ctx, r)
	if err := r.AbandonMessage(ctx, first, &azservicebus.AbandonMessageOptions{
		PropertiesToModify: map[string]any{"attempt": int64(1)},
	}); err != nil {
		t.Fatalf("AbandonMessage: %v", err)
	}
	second := receiveOne(t, ctx, r)
	if string(second.Body) != "retry me" || second.DeliveryCount != first.DeliveryCount+1 {
		t.Fatalf("redelivered %q with DeliveryCount %d, want %d", second.Body, second.DeliveryCount, first.DeliveryCount+1)
	}
	if *second.SequenceNumber != *first.SequenceNumber {
		t.Fatalf("sequence number changed from %d to %d", *first.SequenceNumber, *second.SequenceNumber)
	}
	if second.LockToken == first.LockToken {
		t.Fatal("redelivery reused the lock token")
	}
	if got := second.ApplicationProperties["attempt"]; got != int64(1) {
		t.Fatalf("PropertiesToModify not applied: attempt = %v", got)
	}
	if err := r.CompleteMessage(ctx, second, nil); err != nil {
		t.Fatal(err)
	}
}

func TestLockExpiryRedeliversAndLosesTheOldLock(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", &sbtest.QueueOptions{LockDuration: 300 * time.Millisecond})
	ctx := testCtx(t)
	c := newClient(t, srv)
	if err := mustSender(t, c, "q").SendMessage(ctx, &azservicebus.Message{Body: []byte("slow")}, nil); err != nil {
		t.Fatal(err)
	}
	r := mustReceiver(t, c, "q", nil)
	first := receiveOne(t, ctx, r)
	// Not settled: the lock expires and the message comes back.
	second := receiveOne(t, ctx, r)
	if second.DeliveryCount != 2 {
		t.Fatalf("DeliveryCount after lock expiry = %d, want 2", second.DeliveryCount)
	}
	err := r.CompleteMessage(ctx, first, nil)
	var sbErr *azservicebus.Error
	if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeLockLost {
		t.Fatalf("completing with the expired lock: %v, want lock lost", err)
	}
	if err := r.CompleteMessage(ctx, second, nil); err != nil {
		t.Fatalf("completing with the current lock: %v", err)
	}
}

func TestRenewMessageLockExtendsTheLock(t *testing.T) {
	srv := newServer(t)
	const lock = time.Second
	mustQueue(t, srv, "q", &sbtest.QueueOptions{LockDuration: lock})
	ctx := testCtx(t)
	c := newClient(t, srv)
	if err := mustSender(t, c, "q").SendMessage(ctx, &azservicebus.Message{Body: []byte("long job")}, nil); err != nil {
		t.Fatal(err)
	}
	r := mustReceiver(t, c, "q", nil)
	m := receiveOne(t, ctx, r)
	original := *m.LockedUntil
	// Renew halfway through the lock, then wait until the original lock
	// would have expired: the message must still be locked by us.
	for time.Now().Before(original.Add(-lock / 2)) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := r.RenewMessageLock(ctx, m, nil); err != nil {
		t.Fatalf("RenewMessageLock: %v", err)
	}
	if !m.LockedUntil.After(original) {
		t.Fatalf("LockedUntil %v not after %v", m.LockedUntil, original)
	}
	waitFor(t, "the original lock time to pass", 5*time.Second, func() bool {
		return time.Now().After(original.Add(50 * time.Millisecond))
	})
	if got := messagesIn(t, srv, "q"); len(got) != 1 || got[0].State != "locked" || got[0].DeliveryCount != 1 {
		t.Fatalf("after renewal the server holds %+v, want the message still locked, delivered once", got)
	}
	if err := r.CompleteMessage(ctx, m, nil); err != nil {
		t.Fatalf("CompleteMessage after renewal: %v", err)
	}
}

func TestDeferredMessageIsReceivedBySequenceNumber(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", nil)
	ctx := testCtx(t)
	c := newClient(t, srv)
	if err := mustSender(t, c, "q").SendMessage(ctx, &azservicebus.Message{Body: []byte("later")}, nil); err != nil {
		t.Fatal(err)
	}
	r := mustReceiver(t, c, "q", nil)
	m := receiveOne(t, ctx, r)
	if err := r.DeferMessage(ctx, m, nil); err != nil {
		t.Fatalf("DeferMessage: %v", err)
	}
	if got := messagesIn(t, srv, "q"); len(got) != 1 || got[0].State != "deferred" {
		t.Fatalf("server holds %+v, want one deferred message", got)
	}
	deferred, err := r.ReceiveDeferredMessages(ctx, []int64{*m.SequenceNumber}, nil)
	if err != nil || len(deferred) != 1 {
		t.Fatalf("ReceiveDeferredMessages: %d messages, %v", len(deferred), err)
	}
	d := deferred[0]
	if string(d.Body) != "later" || d.State != azservicebus.MessageStateDeferred || d.LockToken == [16]byte{} {
		t.Fatalf("deferred message %q state %v lock %v", d.Body, d.State, d.LockToken)
	}
	// Deferred messages are settled over $management.
	if err := r.CompleteMessage(ctx, d, nil); err != nil {
		t.Fatalf("CompleteMessage of a deferred message: %v", err)
	}
	if got := messagesIn(t, srv, "q"); len(got) != 0 {
		t.Fatalf("queue still holds %+v", got)
	}
}

func TestPeekDoesNotLockOrConsume(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", nil)
	ctx := testCtx(t)
	c := newClient(t, srv)
	s := mustSender(t, c, "q")
	for _, b := range []string{"a", "b", "c"} {
		if err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte(b)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	r := mustReceiver(t, c, "q", nil)
	peeked, err := r.PeekMessages(ctx, 2, nil)
	if err != nil || len(peeked) != 2 {
		t.Fatalf("PeekMessages: %d, %v", len(peeked), err)
	}
	if string(peeked[0].Body) != "a" || string(peeked[1].Body) != "b" {
		t.Fatalf("peeked %q, %q", peeked[0].Body, peeked[1].Body)
	}
	// The next peek continues after the last peeked sequence number.
	rest, err := r.PeekMessages(ctx, 10, nil)
	if err != nil || len(rest) != 1 || string(rest[0].Body) != "c" {
		t.Fatalf("second PeekMessages: %d messages, %v", len(rest), err)
	}
	for _, m := range messagesIn(t, srv, "q") {
		if m.State != "active" || m.DeliveryCount != 0 {
			t.Fatalf("peek changed a message: %+v", m)
		}
	}
}

func TestScheduledMessageArrivesLaterAndCanBeCancelled(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", nil)
	ctx := testCtx(t)
	c := newClient(t, srv)
	s := mustSender(t, c, "q")
	at := time.Now().Add(300 * time.Millisecond)
	seqs, err := s.ScheduleMessages(ctx, []*azservicebus.Message{{Body: []byte("kept")}, {Body: []byte("cancelled")}}, at, nil)
	if err != nil || len(seqs) != 2 {
		t.Fatalf("ScheduleMessages: %v, %v", seqs, err)
	}
	if err := s.CancelScheduledMessages(ctx, seqs[1:], nil); err != nil {
		t.Fatalf("CancelScheduledMessages: %v", err)
	}
	if got := messagesIn(t, srv, "q"); len(got) != 1 || got[0].State != "scheduled" {
		t.Fatalf("server holds %+v, want one scheduled message", got)
	}
	r := mustReceiver(t, c, "q", &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	m := receiveOne(t, ctx, r)
	if string(m.Body) != "kept" {
		t.Fatalf("got %q", m.Body)
	}
	if time.Now().Before(at.Add(-20 * time.Millisecond)) {
		t.Fatalf("scheduled message delivered before its time")
	}
}

func TestDeferredMessagesSettleThroughManagement(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", nil)
	ctx := testCtx(t)
	c := newClient(t, srv)
	s := mustSender(t, c, "q")
	for _, b := range []string{"abandon", "dead"} {
		if err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte(b)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	r := mustReceiver(t, c, "q", nil)
	var seqs []int64
	for len(seqs) < 2 {
		m := receiveOne(t, ctx, r)
		if err := r.DeferMessage(ctx, m, nil); err != nil {
			t.Fatalf("DeferMessage: %v", err)
		}
		seqs = append(seqs, *m.SequenceNumber)
	}
	deferred, err := r.ReceiveDeferredMessages(ctx, seqs, nil)
	if err != nil || len(deferred) != 2 {
		t.Fatalf("ReceiveDeferredMessages: %d, %v", len(deferred), err)
	}
	if err := r.RenewMessageLock(ctx, deferred[0], nil); err != nil {
		t.Fatalf("RenewMessageLock of a deferred message: %v", err)
	}
	// Abandoning a deferred message leaves it deferred.
	if err := r.AbandonMessage(ctx, deferred[0], nil); err != nil {
		t.Fatalf("AbandonMessage: %v", err)
	}
	reason := "unprocessable"
	if err := r.DeadLetterMessage(ctx, deferred[1], &azservicebus.DeadLetterOptions{Reason: &reason}); err != nil {
		t.Fatalf("DeadLetterMessage: %v", err)
	}
	got := messagesIn(t, srv, "q")
	if len(got) != 1 || got[0].State != "deferred" || string(got[0].Body) != "abandon" {
		t.Fatalf("queue holds %+v, want the abandoned message still deferred", got)
	}
	dead, _ := srv.DeadLetters("q")
	if len(dead) != 1 || string(dead[0].Body) != "dead" || dead[0].DeadLetterReason != reason {
		t.Fatalf("dead-letter queue holds %+v", dead)
	}
}
