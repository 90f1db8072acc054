package sbtest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/pullkit/broker/servicebus/sbtest"
)

func mustQueue(t *testing.T, srv *sbtest.Server, name string, opts *sbtest.QueueOptions) {
	t.Helper()
	if err := srv.CreateQueue(name, opts); err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
}

func mustSender(t *testing.T, c *azservicebus.Client, entity string) *azservicebus.Sender {
	t.Helper()
	s, err := c.NewSender(entity, nil)
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	return s
}

func mustReceiver(t *testing.T, c *azservicebus.Client, queue string, opts *azservicebus.ReceiverOptions) *azservicebus.Receiver {
	t.Helper()
	r, err := c.NewReceiverForQueue(queue, opts)
	if err != nil {
		t.Fatalf("NewReceiverForQueue: %v", err)
	}
	return r
}

func messagesIn(t *testing.T, srv *sbtest.Server, path string) []sbtest.Message {
	t.Helper()
	msgs, err := srv.Messages(path)
	if err != nil {
		t.Fatalf("Messages(%s): %v", path, err)
	}
	return msgs
}

func TestQueueSendReceiveCompleteRemovesMessage(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "orders", nil)
	ctx := testCtx(t)
	c := newClient(t, srv)
	before := time.Now().Add(-time.Second)

	id := "m-1"
	if err := mustSender(t, c, "orders").SendMessage(ctx, &azservicebus.Message{MessageID: &id, Body: []byte("hello")}, nil); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	r := mustReceiver(t, c, "orders", nil)
	m := receiveOne(t, ctx, r)
	if string(m.Body) != "hello" || m.MessageID != id {
		t.Fatalf("got body %q id %q", m.Body, m.MessageID)
	}
	if m.DeliveryCount != 1 {
		t.Errorf("DeliveryCount = %d, want 1", m.DeliveryCount)
	}
	if m.SequenceNumber == nil || *m.SequenceNumber != 1 {
		t.Errorf("SequenceNumber = %v, want 1", m.SequenceNumber)
	}
	if m.EnqueuedTime == nil || m.EnqueuedTime.Before(before) {
		t.Errorf("EnqueuedTime = %v", m.EnqueuedTime)
	}
	if m.LockedUntil == nil || !m.LockedUntil.After(time.Now()) {
		t.Errorf("LockedUntil = %v, want in the future", m.LockedUntil)
	}
	if got := messagesIn(t, srv, "orders"); len(got) != 1 || got[0].State != "locked" {
		t.Fatalf("server holds %+v, want one locked message", got)
	}
	if err := r.CompleteMessage(ctx, m, nil); err != nil {
		t.Fatalf("CompleteMessage: %v", err)
	}
	if got := messagesIn(t, srv, "orders"); len(got) != 0 {
		t.Fatalf("after complete the queue holds %+v", got)
	}
}

func TestTopicMessageReachesEverySubscription(t *testing.T) {
	srv := newServer(t)
	if err := srv.CreateTopic("events"); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"a", "b"} {
		if err := srv.CreateSubscription("events", sub, nil); err != nil {
			t.Fatal(err)
		}
	}
	ctx := testCtx(t)
	c := newClient(t, srv)
	if err := mustSender(t, c, "events").SendMessage(ctx, &azservicebus.Message{Body: []byte("fan-out")}, nil); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	for _, sub := range []string{"a", "b"} {
		r, err := c.NewReceiverForSubscription("events", sub, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := receiveOne(t, ctx, r)
		if string(m.Body) != "fan-out" {
			t.Fatalf("subscription %s got %q", sub, m.Body)
		}
		if err := r.CompleteMessage(ctx, m, nil); err != nil {
			t.Fatalf("CompleteMessage on %s: %v", sub, err)
		}
	}
	for _, sub := range []string{"a", "b"} {
		if got := messagesIn(t, srv, "events/Subscriptions/"+sub); len(got) != 0 {
			t.Fatalf("subscription %s still holds %+v", sub, got)
		}
	}
}

func TestMessageBatchIsSplitIntoMessages(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", nil)
	ctx := testCtx(t)
	c := newClient(t, srv)
	s := mustSender(t, c, "q")
	batch, err := s.NewMessageBatch(ctx, nil)
	if err != nil {
		t.Fatalf("NewMessageBatch: %v", err)
	}
	const n = 5
	for i := 0; i < n; i++ {
		if err := batch.AddMessage(&azservicebus.Message{Body: []byte(fmt.Sprintf("m%d", i))}, nil); err != nil {
			t.Fatalf("AddMessage: %v", err)
		}
	}
	if err := s.SendMessageBatch(ctx, batch, nil); err != nil {
		t.Fatalf("SendMessageBatch: %v", err)
	}
	r := mustReceiver(t, c, "q", &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	var got []string
	for len(got) < n {
		msgs, err := r.ReceiveMessages(ctx, n, nil)
		if err != nil {
			t.Fatalf("ReceiveMessages: %v", err)
		}
		for _, m := range msgs {
			got = append(got, string(m.Body))
		}
	}
	for i, b := range got {
		if b != fmt.Sprintf("m%d", i) {
			t.Fatalf("message %d is %q (all: %q)", i, b, got)
		}
	}
}

func TestLargeMessageSpansSeveralFrames(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", nil)
	ctx := testCtx(t)
	c := newClient(t, srv)
	body := bytes.Repeat([]byte("0123456789abcdef"), 150*1024/16) // > two 64 KiB frames
	if err := mustSender(t, c, "q").SendMessage(ctx, &azservicebus.Message{Body: body}, nil); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	r := mustReceiver(t, c, "q", nil)
	m := receiveOne(t, ctx, r)
	if !bytes.Equal(m.Body, body) {
		t.Fatalf("body of %d bytes came back as %d bytes", len(body), len(m.Body))
	}
	if err := r.CompleteMessage(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
}

func TestReceiveAndDeleteRemovesOnDelivery(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", nil)
	ctx := testCtx(t)
	c := newClient(t, srv)
	if err := mustSender(t, c, "q").SendMessage(ctx, &azservicebus.Message{Body: []byte("once")}, nil); err != nil {
		t.Fatal(err)
	}
	r := mustReceiver(t, c, "q", &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	m := receiveOne(t, ctx, r)
	if string(m.Body) != "once" {
		t.Fatalf("got %q", m.Body)
	}
	if got := messagesIn(t, srv, "q"); len(got) != 0 {
		t.Fatalf("queue still holds %+v", got)
	}
	if err := r.CompleteMessage(ctx, m, nil); err == nil {
		t.Fatal("settling a receive-and-delete message succeeded")
	}
}

func TestApplicationPropertiesRoundTrip(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", nil)
	ctx := testCtx(t)
	c := newClient(t, srv)
	when := time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)
	props := map[string]any{
		"str":   "text",
		"i64":   int64(-1 << 40),
		"i32":   int32(-7),
		"i16":   int16(300),
		"u8":    uint8(200),
		"u64":   uint64(1 << 63),
		"f64":   2.5,
		"bool":  true,
		"time":  when,
		"bytes": []byte{1, 2, 3},
	}
	subject, ctype, corr := "subj", "application/json", "corr-1"
	ttl := time.Hour
	in := &azservicebus.Message{
		Body: []byte("{}"), ApplicationProperties: props,
		Subject: &subject, ContentType: &ctype, CorrelationID: &corr, TimeToLive: &ttl,
	}
	if err := mustSender(t, c, "q").SendMessage(ctx, in, nil); err != nil {
		t.Fatal(err)
	}
	r := mustReceiver(t, c, "q", &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	m := receiveOne(t, ctx, r)
	for k, want := range props {
		got := m.ApplicationProperties[k]
		if fmt.Sprintf("%T %v", got, got) != fmt.Sprintf("%T %v", want, want) {
			t.Errorf("property %s: got %T %v, want %T %v", k, got, got, want, want)
		}
	}
	if m.Subject == nil || *m.Subject != subject || m.ContentType == nil || *m.ContentType != ctype ||
		m.CorrelationID == nil || *m.CorrelationID != corr {
		t.Errorf("system properties: subject %v content-type %v correlation %v", m.Subject, m.ContentType, m.CorrelationID)
	}
	if m.TimeToLive == nil || *m.TimeToLive != ttl {
		t.Errorf("TimeToLive = %v, want %v", m.TimeToLive, ttl)
	}
}

func TestCompetingReceiversEachGetDistinctMessages(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "work", nil)
	ctx := testCtx(t)
	c := newClient(t, srv)
	s := mustSender(t, c, "work")
	const n = 40
	batch, err := s.NewMessageBatch(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := batch.AddMessage(&azservicebus.Message{Body: []byte(fmt.Sprint(i))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SendMessageBatch(ctx, batch, nil); err != nil {
		t.Fatal(err)
	}
	type result struct {
		bodies []string
		err    error
	}
	results := make(chan result, 2)
	var remaining atomicCounter
	remaining.set(n)
	for w := 0; w < 2; w++ {
		r := mustReceiver(t, c, "work", nil)
		go func() {
			var res result
			defer func() { results <- res }()
			for remaining.get() > 0 {
				// Short receive windows, so that a receiver notices when
				// the other one took the last messages.
				rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
				msgs, err := r.ReceiveMessages(rctx, 5, nil)
				cancel()
				if err != nil && !errors.Is(err, context.DeadlineExceeded) {
					res.err = err
					return
				}
				for _, m := range msgs {
					if err := r.CompleteMessage(ctx, m, nil); err != nil {
						res.err = err
						return
					}
					res.bodies = append(res.bodies, string(m.Body))
					remaining.add(-1)
				}
			}
		}()
	}
	seen := map[string]int{}
	for w := 0; w < 2; w++ {
		res := <-results
		if res.err != nil {
			t.Fatalf("receiver: %v", res.err)
		}
		for _, b := range res.bodies {
			seen[b]++
		}
	}
	if len(seen) != n {
		t.Fatalf("received %d distinct messages, want %d", len(seen), n)
	}
	for b, k := range seen {
		if k != 1 {
			t.Fatalf("message %s completed %d times", b, k)
		}
	}
}
