package sbtest_test

import (
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/pullkit/broker/servicebus/sbtest"
)

func TestMaxDeliveryCountMovesMessageToDeadLetterQueue(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", &sbtest.QueueOptions{MaxDeliveryCount: 2})
	ctx := testCtx(t)
	c := newClient(t, srv)
	if err := mustSender(t, c, "q").SendMessage(ctx, &azservicebus.Message{Body: []byte("poison")}, nil); err != nil {
		t.Fatal(err)
	}
	r := mustReceiver(t, c, "q", nil)
	for i := 1; i <= 2; i++ {
		m := receiveOne(t, ctx, r)
		if int(m.DeliveryCount) != i {
			t.Fatalf("delivery %d has DeliveryCount %d", i, m.DeliveryCount)
		}
		if err := r.AbandonMessage(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	dead, err := srv.DeadLetters("q")
	if err != nil || len(dead) != 1 {
		t.Fatalf("DeadLetters: %+v, %v", dead, err)
	}
	if dead[0].DeadLetterReason != "MaxDeliveryCountExceeded" || string(dead[0].Body) != "poison" {
		t.Fatalf("dead letter %+v", dead[0])
	}
	if got := messagesIn(t, srv, "q"); len(got) != 0 {
		t.Fatalf("queue still holds %+v", got)
	}

	dlq := mustReceiver(t, c, "q", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	m := receiveOne(t, ctx, dlq)
	if string(m.Body) != "poison" || m.DeadLetterReason == nil || *m.DeadLetterReason != "MaxDeliveryCountExceeded" {
		t.Fatalf("from the dead-letter receiver: %q reason %v", m.Body, m.DeadLetterReason)
	}
	if err := dlq.CompleteMessage(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	if dead, _ := srv.DeadLetters("q"); len(dead) != 0 {
		t.Fatalf("dead-letter queue still holds %+v", dead)
	}
}

func TestDeadLetterMessageKeepsReasonAndDescription(t *testing.T) {
	srv := newServer(t)
	if err := srv.CreateTopic("t"); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateSubscription("t", "s", nil); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	c := newClient(t, srv)
	if err := mustSender(t, c, "t").SendMessage(ctx, &azservicebus.Message{Body: []byte("bad")}, nil); err != nil {
		t.Fatal(err)
	}
	r, err := c.NewReceiverForSubscription("t", "s", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := receiveOne(t, ctx, r)
	reason, desc := "validation", "field x is missing"
	if err := r.DeadLetterMessage(ctx, m, &azservicebus.DeadLetterOptions{Reason: &reason, ErrorDescription: &desc}); err != nil {
		t.Fatalf("DeadLetterMessage: %v", err)
	}
	dead, err := srv.DeadLetters("t/Subscriptions/s")
	if err != nil || len(dead) != 1 || dead[0].DeadLetterReason != reason || dead[0].DeadLetterErrorDescription != desc {
		t.Fatalf("DeadLetters: %+v, %v", dead, err)
	}
	dlq, err := c.NewReceiverForSubscription("t", "s", &azservicebus.ReceiverOptions{
		SubQueue: azservicebus.SubQueueDeadLetter, ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := receiveOne(t, ctx, dlq)
	if got.DeadLetterReason == nil || *got.DeadLetterReason != reason ||
		got.DeadLetterErrorDescription == nil || *got.DeadLetterErrorDescription != desc {
		t.Fatalf("reason %v description %v", got.DeadLetterReason, got.DeadLetterErrorDescription)
	}
}

func TestExpiredMessageIsDroppedOrDeadLettered(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "drop", nil)
	mustQueue(t, srv, "keep", &sbtest.QueueOptions{DeadLetterOnMessageExpiration: true})
	ctx := testCtx(t)
	c := newClient(t, srv)
	ttl := 50 * time.Millisecond
	for _, q := range []string{"drop", "keep"} {
		if err := mustSender(t, c, q).SendMessage(ctx, &azservicebus.Message{Body: []byte("stale"), TimeToLive: &ttl}, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the messages to expire", 5*time.Second, func() bool {
		return len(messagesIn(t, srv, "drop")) == 0 && len(messagesIn(t, srv, "keep")) == 0
	})
	if dead, _ := srv.DeadLetters("drop"); len(dead) != 0 {
		t.Fatalf("expired message dead-lettered without DeadLetterOnMessageExpiration: %+v", dead)
	}
	dead, _ := srv.DeadLetters("keep")
	if len(dead) != 1 || dead[0].DeadLetterReason != "TTLExpiredException" {
		t.Fatalf("dead-letter queue holds %+v", dead)
	}
}
