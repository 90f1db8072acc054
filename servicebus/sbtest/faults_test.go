package sbtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/pullkit/broker/servicebus/sbtest"
)

func TestClientSurvivesDroppedConnection(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", nil)
	ctx := testCtx(t)
	c := newClient(t, srv)
	s := mustSender(t, c, "q")
	r := mustReceiver(t, c, "q", &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	if err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte("before")}, nil); err != nil {
		t.Fatal(err)
	}
	if m := receiveOne(t, ctx, r); string(m.Body) != "before" {
		t.Fatalf("got %q", m.Body)
	}
	if n := srv.DropConnections(); n != 1 {
		t.Fatalf("dropped %d connections, want 1", n)
	}
	// Both the sender and the receiver recover on their own.
	if err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte("after")}, nil); err != nil {
		t.Fatalf("SendMessage after the drop: %v", err)
	}
	if m := receiveOne(t, ctx, r); string(m.Body) != "after" {
		t.Fatalf("got %q", m.Body)
	}
	if got := srv.Connections(); got < 2 {
		t.Fatalf("server accepted %d connections, want a reconnect", got)
	}
}

func TestCloseIsIdempotentAndStopsClients(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", nil)
	ctx := testCtx(t)
	c := newClient(t, srv)
	if err := mustSender(t, c, "q").SendMessage(ctx, &azservicebus.Message{Body: []byte("x")}, nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Close()
		_ = srv.Close()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked with a client connected")
	}
	if err := srv.CreateQueue("other", nil); err == nil {
		t.Fatal("CreateQueue after Close succeeded")
	}
}

func TestRefuseSendsFailsTheChosenSends(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", nil)
	ctx := testCtx(t)
	s := mustSender(t, newClient(t, srv), "q")
	srv.RefuseSends(1, 1)
	for i, wantErr := range []bool{false, true, false} {
		err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte{byte(i)}}, nil)
		if (err != nil) != wantErr {
			t.Fatalf("send %d: %v, want error %v", i, err, wantErr)
		}
	}
	if got := messagesIn(t, srv, "q"); len(got) != 2 {
		t.Fatalf("%d messages stored, want 2", len(got))
	}
}

func TestIgnoreSettlementsLeavesTheSettlementUnanswered(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", &sbtest.QueueOptions{LockDuration: 200 * time.Millisecond})
	ctx := testCtx(t)
	c := newClient(t, srv)
	if err := mustSender(t, c, "q").SendMessage(ctx, &azservicebus.Message{Body: []byte("x")}, nil); err != nil {
		t.Fatal(err)
	}
	r := mustReceiver(t, c, "q", nil)
	m := receiveOne(t, ctx, r)
	srv.IgnoreSettlements(1)
	sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := r.CompleteMessage(sctx, m, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CompleteMessage with its settlement ignored: %v, want the ctx's deadline", err)
	}
	// Not completed: the message comes back once its lock expired.
	again := receiveOne(t, ctx, r)
	if string(again.Body) != "x" || again.DeliveryCount != 2 {
		t.Fatalf("got %q (delivery %d), want x again on delivery 2", again.Body, again.DeliveryCount)
	}
	if err := r.CompleteMessage(ctx, again, nil); err != nil {
		t.Fatalf("CompleteMessage after the fault: %v", err)
	}
}

func TestClockSkewShiftsReportedTimesAndRenewalsAreCounted(t *testing.T) {
	const skew = -time.Hour
	srv := newServer(t, sbtest.WithClockSkew(skew))
	mustQueue(t, srv, "q", nil) // 60 s locks
	ctx := testCtx(t)
	c := newClient(t, srv)
	if err := mustSender(t, c, "q").SendMessage(ctx, &azservicebus.Message{Body: []byte("x")}, nil); err != nil {
		t.Fatal(err)
	}
	r := mustReceiver(t, c, "q", nil)
	m := receiveOne(t, ctx, r)
	near := func(what string, got time.Time, want time.Duration) {
		t.Helper()
		if d := time.Until(got) - want; d < -10*time.Second || d > 10*time.Second {
			t.Errorf("%s is %v from now, want about %v", what, time.Until(got), want)
		}
	}
	near("LockedUntil", *m.LockedUntil, skew+sbtest.DefaultLockDuration)
	near("EnqueuedTime", *m.EnqueuedTime, skew)
	if err := r.RenewMessageLock(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	near("renewed LockedUntil", *m.LockedUntil, skew+sbtest.DefaultLockDuration)
	if n := srv.LockRenewals(); n != 1 {
		t.Errorf("LockRenewals: %d, want 1", n)
	}
	// Locks run on the server's own clock: the skewed lock still holds.
	if err := r.CompleteMessage(ctx, m, nil); err != nil {
		t.Fatalf("CompleteMessage: %v", err)
	}
}

func TestIgnoreLockRenewalsLeavesTheRenewalUnanswered(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", nil)
	ctx := testCtx(t)
	c := newClient(t, srv)
	if err := mustSender(t, c, "q").SendMessage(ctx, &azservicebus.Message{Body: []byte("x")}, nil); err != nil {
		t.Fatal(err)
	}
	r := mustReceiver(t, c, "q", nil)
	m := receiveOne(t, ctx, r)
	srv.IgnoreLockRenewals(1)
	rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := r.RenewMessageLock(rctx, m, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RenewMessageLock with the renewal ignored: %v, want the ctx's deadline", err)
	}
	if err := r.RenewMessageLock(ctx, m, nil); err != nil {
		t.Fatalf("RenewMessageLock after the fault: %v", err)
	}
	if n := srv.LockRenewals(); n != 1 {
		t.Errorf("LockRenewals: %d, want 1 (the ignored one is not counted)", n)
	}
}
