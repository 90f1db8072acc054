package pulsar_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pulsar"
)

func TestRejectPublishesToTheDeadLetterTopicWithTheReason(t *testing.T) {
	tg := targets(t)[0]
	c := tg.newClient(t)
	ctx := ctxFor(t)
	name := uniqueTopic("reject")
	q, err := c.Subscribe(ctx, name, "sub", pulsar.QueueConfig{}) // default dead-letter topic
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	dead, err := c.Subscribe(ctx, name+"-sub-DLQ", "dead", pulsar.QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	pub, err := c.Publisher(pulsar.PublisherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	tp, err := pub.Topic(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Publish(ctx, broker.OutboundMessage{Key: "k", Data: []byte("poison"), Attributes: map[string]any{"a": "1"}}); err != nil {
		t.Fatal(err)
	}
	m, err := q.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Settle(ctx, broker.Settlement{Kind: broker.SettleReject, Reason: "cannot parse"}); err != nil {
		t.Fatalf("Settle(reject): %v", err)
	}
	d, err := dead.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Data) != "poison" || d.Key != "k" || d.Attributes["a"] != "1" || d.Attributes["pullkit-reject-reason"] != "cannot parse" {
		t.Errorf("dead letter: data %q key %q attributes %v", d.Data, d.Key, d.Attributes)
	}
	d.Ack()
	if m, err := nextWithin(q, 300*time.Millisecond); err == nil {
		t.Errorf("rejected message %q delivered again", m.Data)
	}
}

func TestPoisonTerminateDropsAMessagePastMaxDeliveries(t *testing.T) {
	tg := targets(t)[0]
	c := tg.newClient(t)
	ctx := ctxFor(t)
	name := uniqueTopic("terminate")
	q, err := c.Subscribe(ctx, name, "sub", pulsar.QueueConfig{
		Poison: broker.PoisonPolicy{MaxDeliveries: 2, Action: broker.PoisonTerminate, NackDelay: 10 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	publishN(t, ctx, c, name, "m", 1)
	for want := 1; want <= 2; want++ {
		m, err := q.NextMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.DeliveryCount != want {
			t.Errorf("DeliveryCount = %d, want %d", m.DeliveryCount, want)
		}
		m.Nack()
	}
	if m, err := nextWithin(q, 500*time.Millisecond); err == nil {
		t.Errorf("message %q (delivery %d) delivered past MaxDeliveries 2", m.Data, m.DeliveryCount)
	}
	// It was acked, not just skipped: a new consumer does not get it either.
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q2, err := c.Subscribe(ctx, name, "sub", pulsar.QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	if m, err := nextWithin(q2, 300*time.Millisecond); err == nil {
		t.Errorf("dropped message %q delivered to the next consumer", m.Data)
	}
}

func TestSettlingAfterCloseFailsWithErrClosed(t *testing.T) {
	tg := targets(t)[0]
	c := tg.newClient(t)
	ctx := ctxFor(t)
	name := uniqueTopic("after-close")
	q, err := c.Subscribe(ctx, name, "sub", pulsar.QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, ctx, c, name, "m", 2)
	m1, err := q.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := q.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m1.AckContext(ctx); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("AckContext after Close: %v, want ErrClosed", err)
	}
	if err := m2.Extend(ctx, time.Second); !errors.Is(err, broker.ErrUnsupported) {
		t.Errorf("Extend: %v, want ErrUnsupported", err)
	}
	if err := m2.Settle(ctx, broker.Settlement{Kind: broker.SettleNack}); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("Settle(nack) after Close: %v, want ErrClosed", err)
	}
	if _, err := q.NextMessage(ctx); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("NextMessage after Close: %v, want ErrClosed", err)
	}
	// Client.Close after closing its consumer, and closing a client with
	// an open publisher and consumer, both work.
	q2, err := c.Subscribe(ctx, name, "sub", pulsar.QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publisher(pulsar.PublisherConfig{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := q2.NextMessage(ctx); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("NextMessage after Client.Close: %v, want ErrClosed", err)
	}
	if _, err := c.Subscribe(ctx, name, "sub", pulsar.QueueConfig{}); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("Subscribe after Client.Close: %v, want ErrClosed", err)
	}
}

func TestSettlingAfterTheAckDeadlineFails(t *testing.T) {
	tg := targets(t)[0]
	c := tg.newClient(t)
	ctx := ctxFor(t)
	name := uniqueTopic("deadline")
	q, err := c.Subscribe(ctx, name, "sub", pulsar.QueueConfig{AckDeadline: 100 * time.Millisecond,
		Poison: broker.PoisonPolicy{NackDelay: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	publishN(t, ctx, c, name, "m", 1)
	m1, err := q.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := q.NextMessage(ctx) // the redelivery after m1's deadline
	if err != nil {
		t.Fatal(err)
	}
	if string(m2.Data) != "m0" || m2.DeliveryCount != 2 {
		t.Fatalf("got %q delivery %d, want m0 delivery 2", m2.Data, m2.DeliveryCount)
	}
	if err := m1.Extend(ctx, time.Second); !errors.Is(err, broker.ErrAlreadySettled) {
		t.Errorf("Extend after the deadline: %v, want ErrAlreadySettled", err)
	}
	if err := m1.AckContext(ctx); !errors.Is(err, broker.ErrAlreadySettled) {
		t.Errorf("AckContext after the deadline: %v, want ErrAlreadySettled", err)
	}
	if err := m2.AckContext(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestCloseStopsDelayedNacksAndTheMessageComesBack(t *testing.T) {
	tg := targets(t)[0]
	c := tg.newClient(t)
	ctx := ctxFor(t)
	name := uniqueTopic("delayed-nack")
	q, err := c.Subscribe(ctx, name, "sub", pulsar.QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, ctx, c, name, "m", 1)
	m, err := q.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Settle(ctx, broker.Settlement{Kind: broker.SettleNack, Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil { // must not wait for the hour
		t.Fatal(err)
	}
	q2, err := c.Subscribe(ctx, name, "sub", pulsar.QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	again, err := q2.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(again.Data) != "m0" || again.DeliveryCount != 2 {
		t.Errorf("got %q delivery %d, want m0 delivery 2", again.Data, again.DeliveryCount)
	}
	again.Ack()
}
