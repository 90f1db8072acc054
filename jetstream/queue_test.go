package jetstream_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/jetstream"
)

// queueFixture makes a stream and a queue consumer on it.
func queueFixture(t *testing.T, cfg jetstream.QueueConfig) (*jetstream.Client, string, *jetstream.QueueConsumer) {
	t.Helper()
	c := connect(t, shared.URL())
	subject, stream := uniqueSubject("q")
	createStream(t, c, stream, subject)
	cfg.Subject = subject
	if cfg.Consumer == "" {
		cfg.Consumer = "c"
	}
	q, err := c.Subscribe(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return c, subject, q
}

// nextWithin returns the next message if one arrives within d.
func nextWithin(t *testing.T, q *jetstream.QueueConsumer, d time.Duration) (broker.Message, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(testCtx(t), d)
	defer cancel()
	m, err := q.NextMessage(ctx)
	if err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("NextMessage: %v", err)
		}
		return m, false
	}
	return m, true
}

func TestAckWaitExpiryRedeliversWithTheNextDeliveryCount(t *testing.T) {
	c, subject, q := queueFixture(t, jetstream.QueueConfig{AckWait: 300 * time.Millisecond})
	publishN(t, c, subject, "m", 0, 1)
	ctx := testCtx(t)
	first, err := q.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, err := q.NextMessage(ctx) // only the expiry can bring it back
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || first.DeliveryCount != 1 || again.DeliveryCount != 2 {
		t.Errorf("got %s (delivery %d) then %s (delivery %d), want one message delivered twice", first.ID, first.DeliveryCount, again.ID, again.DeliveryCount)
	}
	if err := again.AckContext(ctx); err != nil {
		t.Fatal(err)
	}
	// The first delivery's ack comes too late to matter, and is harmless.
	first.Ack()
}

func TestMaxDeliverStopsRedeliveryWithoutADeadLetterSubject(t *testing.T) {
	c, subject, q := queueFixture(t, jetstream.QueueConfig{Poison: broker.PoisonPolicy{MaxDeliveries: 3}})
	if mx := q.Consumer().CachedInfo().Config.MaxDeliver; mx != 3 {
		t.Errorf("consumer MaxDeliver %d, want 3", mx)
	}
	publishN(t, c, subject, "m", 0, 1)
	ctx := testCtx(t)
	for i := 1; i <= 3; i++ {
		m, err := q.NextMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.DeliveryCount != i {
			t.Errorf("delivery %d has DeliveryCount %d", i, m.DeliveryCount)
		}
		if err := m.Settle(ctx, broker.Settlement{Kind: broker.SettleNack}); err != nil {
			t.Fatal(err)
		}
	}
	if m, ok := nextWithin(t, q, 500*time.Millisecond); ok {
		t.Errorf("message %q delivered a 4th time with MaxDeliveries 3", m.Data)
	}
}

func TestADeliveryPastMaxDeliveriesIsDeadLetteredEvenIfItsAckWaitExpired(t *testing.T) {
	c := connect(t, shared.URL())
	subject, stream := uniqueSubject("dlq")
	createStream(t, c, stream, subject)
	createStream(t, c, stream+"_dead", subject+".dead")
	ctx := testCtx(t)
	q, err := c.Subscribe(ctx, jetstream.QueueConfig{Subject: subject, Consumer: "c", AckWait: 200 * time.Millisecond,
		Poison: broker.PoisonPolicy{MaxDeliveries: 1, DeadLetterTopic: subject + ".dead"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	if mx := q.Consumer().CachedInfo().Config.MaxDeliver; mx != 2 {
		t.Errorf("consumer MaxDeliver %d, want 2: one more than MaxDeliveries, for the client to dead-letter", mx)
	}
	dead, err := c.Subscribe(ctx, jetstream.QueueConfig{Subject: subject + ".dead", Consumer: "d"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dead.Close() })
	publishN(t, c, subject, "m", 0, 1)
	if _, err := q.NextMessage(ctx); err != nil { // left to expire
		t.Fatal(err)
	}
	if m, ok := nextWithin(t, q, time.Second); ok {
		t.Errorf("message %q (delivery %d) handed out past MaxDeliveries 1", m.Data, m.DeliveryCount)
	}
	m, err := dead.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != "m0" || m.Attributes["Pullkit-Dead-Reason"] == nil || m.Attributes["Pullkit-Dead-Subject"] != subject {
		t.Errorf("dead letter %q with attributes %v, want m0 with its reason and subject", m.Data, m.Attributes)
	}
	m.Ack()
}

func TestRejectWithoutADeadLetterSubjectTerminates(t *testing.T) {
	c, subject, q := queueFixture(t, jetstream.QueueConfig{})
	publishN(t, c, subject, "m", 0, 1)
	ctx := testCtx(t)
	m, err := q.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Settle(ctx, broker.Settlement{Kind: broker.SettleReject, Reason: "poison"}); err != nil {
		t.Fatal(err)
	}
	if m, ok := nextWithin(t, q, 300*time.Millisecond); ok {
		t.Errorf("rejected message %q delivered again", m.Data)
	}
	info, err := q.Consumer().Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 {
		t.Errorf("%d messages still pending after the reject", info.NumAckPending)
	}
}

func TestNextBatchReturnsWhatOnePullDelivered(t *testing.T) {
	c, subject, q := queueFixture(t, jetstream.QueueConfig{MaxBatch: 50})
	publishN(t, c, subject, "m", 0, 200)
	ctx := testCtx(t)
	seen, batches, biggest := 0, 0, 0
	for seen < 200 {
		b, err := q.NextBatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 || len(b) > 50 {
			t.Fatalf("batch of %d", len(b))
		}
		batches++
		biggest = max(biggest, len(b))
		seen += len(b)
		for _, m := range b {
			m.Ack()
		}
	}
	// A pull asks for up to Prefetch messages at once, so batches fill
	// up; N single fetches would give batches of one.
	if biggest < 2 {
		t.Errorf("200 messages came in %d batches of at most %d", batches, biggest)
	}
}

func TestSettlingAfterCloseFailsAndTheMessageComesBack(t *testing.T) {
	c, subject, q := queueFixture(t, jetstream.QueueConfig{Consumer: "shared"})
	publishN(t, c, subject, "m", 0, 1)
	ctx := testCtx(t)
	m, err := q.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.AckContext(ctx); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("AckContext after Close: got %v, want an error matching broker.ErrClosed", err)
	}
	if err := m.Extend(ctx, time.Second); !errors.Is(err, broker.ErrAlreadySettled) && !errors.Is(err, broker.ErrClosed) {
		t.Errorf("Extend after Close: got %v", err)
	}
	q2, err := c.Subscribe(ctx, jetstream.QueueConfig{Subject: subject, Consumer: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q2.Close() })
	again, err := q2.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != m.ID || again.DeliveryCount != 2 {
		t.Errorf("got %s (delivery %d), want %s again", again.ID, again.DeliveryCount, m.ID)
	}
	again.Ack()
}

func TestDeliverPolicyAndConsumerConfigPassThrough(t *testing.T) {
	c := connect(t, shared.URL())
	subject, stream := uniqueSubject("pt")
	createStream(t, c, stream, subject)
	publishN(t, c, subject, "old", 0, 3)
	ctx := testCtx(t)
	q, err := c.Subscribe(ctx, jetstream.QueueConfig{
		Subject: subject, Consumer: "c", DeliverPolicy: natsjs.DeliverNewPolicy, MaxAckPending: 7,
		ConsumerConfig: func(cc *natsjs.ConsumerConfig) { cc.Description = "set by the hook" },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	cfg := q.Consumer().CachedInfo().Config
	if cfg.Description != "set by the hook" || cfg.MaxAckPending != 7 || cfg.AckPolicy != natsjs.AckExplicitPolicy {
		t.Errorf("consumer config %+v", cfg)
	}
	publishN(t, c, subject, "new", 0, 1)
	m, err := q.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != "new0" {
		t.Errorf("DeliverNewPolicy consumer got %q first", m.Data)
	}
	m.Ack()
}

func TestCreateStreamMakesAMissingStream(t *testing.T) {
	c := connect(t, shared.URL())
	subject, _ := uniqueSubject("auto")
	ctx := testCtx(t)
	q, err := c.Subscribe(ctx, jetstream.QueueConfig{Subject: subject, Consumer: "c", CreateStream: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = q.Close()
		_ = c.JetStream().DeleteStream(context.Background(), q.Consumer().CachedInfo().Stream)
	})
	publishN(t, c, subject, "m", 0, 1)
	m, err := q.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.Consumer().CachedInfo().Stream, strings.ReplaceAll(subject, ".", "_"); got != want {
		t.Errorf("created stream %q, want %q (named after the subject)", got, want)
	}
	if string(m.Data) != "m0" {
		t.Errorf("got %q", m.Data)
	}
	m.Ack()
}

func TestAFailedFireAndForgetSettlementIsReportedByClose(t *testing.T) {
	c := connect(t, shared.URL())
	subject, stream := uniqueSubject("lost")
	createStream(t, c, stream, subject)
	publishN(t, c, subject, "m", 0, 1)
	ctx := testCtx(t)
	// The consumer's own connection, closed under it.
	own := connect(t, shared.URL())
	q, err := own.Subscribe(ctx, jetstream.QueueConfig{Subject: subject, Consumer: "c"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := q.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	own.Conn().Close()
	m.Ack() // cannot be sent
	if err := q.Close(); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("Close after an ack that could not be sent: got %v, want an error matching broker.ErrClosed", err)
	}
}

// Dead-lettering a message past MaxDeliveries happens inside NextMessage;
// a dead-letter subject that does not answer must not hold the call past
// its context (CloseTimeout bounds only the fire-and-forget settlements).
func TestNextMessageHonoursItsContextWhileDeadLettering(t *testing.T) {
	c := connect(t, shared.URL())
	subject, stream := uniqueSubject("dlqctx")
	createStream(t, c, stream, subject)
	// A plain subscriber that never answers: the republish waits for a PubAck.
	silent, err := c.Conn().SubscribeSync(subject + ".dead")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = silent.Unsubscribe() })
	ctx := testCtx(t)
	q, err := c.Subscribe(ctx, jetstream.QueueConfig{Subject: subject, Consumer: "c", AckWait: 200 * time.Millisecond,
		CloseTimeout: time.Minute, Poison: broker.PoisonPolicy{MaxDeliveries: 1, DeadLetterTopic: subject + ".dead"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	publishN(t, c, subject, "m", 0, 1)
	if _, err := q.NextMessage(ctx); err != nil { // left to expire
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := q.NextMessage(short)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("NextMessage: got %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("NextMessage still blocked 20 s after its context ended")
	}
	if err := q.Close(); err != nil {
		t.Errorf("Close reports %v; the dead-letter attempt ended with the caller's context, the message was nacked", err)
	}
}
