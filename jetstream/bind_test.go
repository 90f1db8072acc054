package jetstream_test

import (
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/pullkit/broker/jetstream"
)

// An existing consumer's AckWait is the one the server applies: Extend
// must renew within it, not within QueueConfig.AckWait's default.
func TestExtendRenewsWithinTheBoundConsumersAckWait(t *testing.T) {
	c := connect(t, shared.URL())
	subject, stream := uniqueSubject("bindwait")
	createStream(t, c, stream, subject)
	ctx := testCtx(t)
	if _, err := c.JetStream().CreateConsumer(ctx, stream, natsjs.ConsumerConfig{Durable: "ops", FilterSubject: subject,
		AckPolicy: natsjs.AckExplicitPolicy, AckWait: time.Second}); err != nil {
		t.Fatal(err)
	}
	q, err := c.Subscribe(ctx, jetstream.QueueConfig{Subject: subject, Consumer: "ops", Bind: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	publishN(t, c, subject, "m", 0, 1)
	m, err := q.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Extend(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	// Three AckWaits pass: only renewals keep the message from coming back.
	if again, ok := nextWithin(t, q, 3*time.Second); ok {
		t.Errorf("message %q redelivered (delivery %d) while extended", again.Data, again.DeliveryCount)
	}
	if err := m.AckContext(ctx); err != nil {
		t.Fatal(err)
	}
}
