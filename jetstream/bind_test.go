package jetstream_test

import (
	"errors"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/pullkit/broker"
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

// A consumer bound as it is, or edited by the ConsumerConfig hook, must ack
// the way the semantics need: explicitly for a queue (AckAll would settle
// other workers' messages, AckNone settles on delivery), cumulatively for
// a log (AckNone commits records on delivery, before anyone read them).
func TestConsumersRefuseAnAckPolicyThatBreaksTheirSemantics(t *testing.T) {
	c := connect(t, shared.URL())
	subject, stream := uniqueSubject("bindack")
	createStream(t, c, stream, subject)
	ctx := testCtx(t)
	for _, p := range []natsjs.AckPolicy{natsjs.AckNonePolicy, natsjs.AckAllPolicy, natsjs.AckExplicitPolicy} {
		if _, err := c.JetStream().CreateConsumer(ctx, stream, natsjs.ConsumerConfig{Durable: "ops-" + p.String(),
			FilterSubject: subject, AckPolicy: p}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []natsjs.AckPolicy{natsjs.AckNonePolicy, natsjs.AckAllPolicy} {
		q, err := c.Subscribe(ctx, jetstream.QueueConfig{Subject: subject, Consumer: "ops-" + p.String(), Bind: true})
		if err == nil {
			_ = q.Close()
		}
		if !errors.Is(err, broker.ErrInvalidOption) {
			t.Errorf("queue bound to a consumer with %v: got %v, want broker.ErrInvalidOption", p, err)
		}
	}
	for _, p := range []natsjs.AckPolicy{natsjs.AckNonePolicy, natsjs.AckExplicitPolicy} {
		l, err := c.JoinLog(ctx, jetstream.LogConfig{Subject: subject, Group: "ops-" + p.String(), Bind: true})
		if err == nil {
			_ = l.Close()
		}
		if !errors.Is(err, broker.ErrInvalidOption) {
			t.Errorf("log bound to a consumer with %v: got %v, want broker.ErrInvalidOption", p, err)
		}
	}
	l, err := c.JoinLog(ctx, jetstream.LogConfig{Subject: subject, Group: "hooked",
		ConsumerConfig: func(cc *natsjs.ConsumerConfig) { cc.AckPolicy = natsjs.AckNonePolicy }})
	if err == nil {
		_ = l.Close()
	}
	if !errors.Is(err, broker.ErrInvalidOption) {
		t.Errorf("log whose hook set AckNone: got %v, want broker.ErrInvalidOption", err)
	}
	// The policies that fit bind fine.
	q, err := c.Subscribe(ctx, jetstream.QueueConfig{Subject: subject, Consumer: "ops-" + natsjs.AckExplicitPolicy.String(), Bind: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = q.Close()
	l, err = c.JoinLog(ctx, jetstream.LogConfig{Subject: subject, Group: "ops-" + natsjs.AckAllPolicy.String(), Bind: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
}
