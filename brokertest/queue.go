package brokertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pullkit/broker"
)

// RunQueueTests runs the queue conformance tests against h: the publishing
// tests, then the settlement, lifecycle and capability tests, in parallel
// (unless h.Options.Serial), then the goroutine-leak check.
func RunQueueTests(t *testing.T, h QueueHarness) {
	t.Helper()
	q := &queueSuite{h: h, opts: h.Options.withDefaults()}
	if h.NewTopic == nil || h.Publisher == nil || h.Subscribe == nil {
		t.Fatal("brokertest: QueueHarness needs NewTopic, Publisher and Subscribe")
	}
	checkLeaks := leakCheck(t, q.opts)
	t.Run("Queue", func(t *testing.T) {
		r := newRunner(t, q.opts)
		runPublishTests(r, q.side())
		q.run(r)
		r.wait()
	})
	checkLeaks()
}

type queueSuite struct {
	h    QueueHarness
	opts Options
}

func (q *queueSuite) topic(e *env) string {
	e.t.Helper()
	name, err := q.h.NewTopic(e.ctx, e.t)
	e.must(err, "NewTopic")
	return name
}

func (q *queueSuite) publisher(e *env) broker.Publisher {
	e.t.Helper()
	p, err := q.h.Publisher(e.ctx, e.t)
	e.must(err, "Publisher")
	if c, ok := p.(interface{ Close() error }); ok {
		e.track("publisher", c)
	}
	return p
}

func (q *queueSuite) subscribe(e *env, topic, sub string, o SubscribeOptions) QueueConsumer {
	e.t.Helper()
	c, err := q.h.Subscribe(e.ctx, e.t, topic, sub, o)
	e.must(err, "Subscribe(%q, %q)", topic, sub)
	e.track("consumer of "+sub, c)
	return c
}

// publish publishes n messages with payloads prefix0 … prefix<n-1>.
func (q *queueSuite) publish(e *env, topic, prefix string, n int) {
	e.t.Helper()
	tp, err := q.publisher(e).Topic(topic)
	e.must(err, "Publisher.Topic(%q)", topic)
	msgs := make([]broker.OutboundMessage, n)
	for i := range msgs {
		msgs[i] = broker.OutboundMessage{Key: fmt.Sprint("k", i), Data: fmt.Appendf(nil, "%s%d", prefix, i)}
	}
	e.must(tp.BatchPublish(e.ctx, msgs...), "BatchPublish")
}

// fresh makes a topic and a subscription on it, ready before anything is published.
func (q *queueSuite) fresh(e *env, o SubscribeOptions) (topic, sub string, c QueueConsumer) {
	topic, sub = q.topic(e), uniqueName("sub")
	return topic, sub, q.subscribe(e, topic, sub, o)
}

func (q *queueSuite) side() *side {
	return &side{
		opts:     q.opts,
		typed:    q.h.Features.TypedAttributes,
		maxSize:  q.h.Features.MaxMessageSize,
		newTopic: q.topic,
		pub:      q.publisher,
		reader: func(e *env, topic string) func(context.Context) (delivery, error) {
			c := q.subscribe(e, topic, uniqueName("sub"), SubscribeOptions{})
			return func(ctx context.Context) (delivery, error) {
				m, err := c.NextMessage(ctx)
				if err != nil {
					return delivery{}, err
				}
				q.checkFields(e, m)
				return delivery{key: m.Key, data: m.Data, attrs: m.Attributes, ack: m.Ack}, nil
			}
		},
	}
}

// checkFields checks what every delivered message carries.
func (q *queueSuite) checkFields(e *env, m broker.Message) {
	e.t.Helper()
	if m.ID == "" {
		e.t.Errorf("message %.40q has an empty ID", m.Data)
	}
	if m.PublishTime.IsZero() {
		e.t.Errorf("message %.40q has a zero PublishTime", m.Data)
	}
	if q.h.Features.DeliveryCount && m.DeliveryCount < 1 {
		e.t.Errorf("message %.40q has DeliveryCount %d; Features.DeliveryCount promises at least 1", m.Data, m.DeliveryCount)
	}
}

func (q *queueSuite) run(r *runner) {
	f := q.h.Features
	run := r.run

	run("AckedMessageIsNotRedelivered", func(e *env) {
		topic, sub, c := q.fresh(e, SubscribeOptions{})
		q.publish(e, topic, "m", 3)
		for range 3 {
			m := next(e, c.NextMessage, "a published message")
			m.Ack()
		}
		if m, ok := nextWithin(e, c.NextMessage, q.opts.Absence); ok {
			e.t.Errorf("acked message %q was delivered again", m.Data)
		}
		// Close flushes acks, so a new consumer of the subscription sees none.
		e.must(c.Close(), "Close")
		c2 := q.subscribe(e, topic, sub, SubscribeOptions{})
		if m, ok := nextWithin(e, c2.NextMessage, q.opts.Absence); ok {
			e.t.Errorf("acked message %q was delivered again to a new consumer", m.Data)
		}
	})

	run("AckContextConfirmsTheAck", func(e *env) {
		topic, sub, c := q.fresh(e, SubscribeOptions{})
		q.publish(e, topic, "m", 1)
		m := next(e, c.NextMessage, "the published message")
		e.must(m.AckContext(e.ctx), "AckContext")
		e.must(c.Close(), "Close")
		c2 := q.subscribe(e, topic, sub, SubscribeOptions{})
		if m, ok := nextWithin(e, c2.NextMessage, q.opts.Absence); ok {
			e.t.Errorf("message %q was delivered again after AckContext returned nil", m.Data)
		}
	})

	run("NackedMessageIsRedelivered", func(e *env) {
		topic, _, c := q.fresh(e, SubscribeOptions{})
		q.publish(e, topic, "m", 1)
		m1 := next(e, c.NextMessage, "the published message")
		if f.DeliveryCount && m1.DeliveryCount != 1 {
			e.t.Errorf("first delivery has DeliveryCount %d, want 1", m1.DeliveryCount)
		}
		m1.Nack()
		m2 := next(e, c.NextMessage, "the nacked message again")
		if m2.ID != m1.ID || string(m2.Data) != string(m1.Data) {
			e.t.Errorf("after a nack got ID %q data %q, want ID %q data %q", m2.ID, m2.Data, m1.ID, m1.Data)
		}
		if f.DeliveryCount && m2.DeliveryCount != 2 {
			e.t.Errorf("redelivery has DeliveryCount %d, want 2", m2.DeliveryCount)
		}
		e.must(m2.AckContext(e.ctx), "AckContext of the redelivered message")
		if m, ok := nextWithin(e, c.NextMessage, q.opts.Absence); ok {
			e.t.Errorf("message %q delivered again after its redelivery was acked", m.Data)
		}
	})

	run("UnsettledMessagesAreRedeliveredAfterClose", func(e *env) {
		topic, sub, c := q.fresh(e, SubscribeOptions{})
		const n = 5
		q.publish(e, topic, "m", n)
		// Take two and leave them unsettled; the rest may sit in a
		// prefetch buffer, which Close must give back too.
		for range 2 {
			next(e, c.NextMessage, "a published message")
		}
		e.must(c.Close(), "Close")
		c2 := q.subscribe(e, topic, sub, SubscribeOptions{})
		expectMessages(e, c2, "m", n)
	})

	run("SettlementIsOnceOnly", func(e *env) {
		topic, _, c := q.fresh(e, SubscribeOptions{})
		q.publish(e, topic, "m", 2)
		acked := next(e, c.NextMessage, "the first message")
		acked.Ack()
		acked.Ack()
		acked.Nack()
		copied := acked
		copied.Nack()
		if err := acked.AckContext(e.ctx); !errors.Is(err, broker.ErrAlreadySettled) {
			e.t.Errorf("AckContext after Ack: got %v, want an error matching broker.ErrAlreadySettled", err)
		}
		if err := copied.Settle(e.ctx, broker.Settlement{Kind: broker.SettleNack}); !errors.Is(err, broker.ErrAlreadySettled) {
			e.t.Errorf("Settle(nack) on a copy of an acked message: got %v, want an error matching broker.ErrAlreadySettled", err)
		}
		if !acked.Settled() || !copied.Settled() {
			e.t.Errorf("Settled() after Ack: got %v (copy %v), want true", acked.Settled(), copied.Settled())
		}

		// A nack on a copy wins over a later ack of the original.
		nacked := next(e, c.NextMessage, "the second message")
		nackedCopy := nacked
		nackedCopy.Nack()
		nacked.Ack()
		again := next(e, c.NextMessage, "the nacked message again")
		if again.ID != nacked.ID {
			e.t.Errorf("got message %q (%q), want the nacked %q (%q) again; was the acked one redelivered?", again.ID, again.Data, nacked.ID, nacked.Data)
		}
		again.Ack()
		if m, ok := nextWithin(e, c.NextMessage, q.opts.Absence); ok {
			e.t.Errorf("message %q delivered again after a once-only settlement", m.Data)
		}
	})

	run("ConcurrentSettlementSettlesEachMessageOnce", func(e *env) {
		topic, _, c := q.fresh(e, SubscribeOptions{})
		const n, racers = 20, 8
		q.publish(e, topic, "m", n)
		msgs := make([]broker.Message, n)
		for i := range msgs {
			msgs[i] = next(e, c.NextMessage, "a published message")
		}
		// Half the racers of each message ack and wait, half nack; exactly
		// one wins. A message whose acks all lost was nacked.
		wins := make([]int, n)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range msgs {
			for r := range racers {
				m := msgs[i] // a copy per goroutine, as handlers get
				wg.Go(func() {
					if r%2 == 1 {
						m.Nack()
						return
					}
					err := m.AckContext(e.ctx)
					switch {
					case err == nil:
						mu.Lock()
						wins[i]++
						mu.Unlock()
					case !errors.Is(err, broker.ErrAlreadySettled):
						e.t.Errorf("AckContext racing with settlements: got %v, want nil or broker.ErrAlreadySettled", err)
					}
				})
			}
		}
		wg.Wait()
		nacked := map[string]bool{}
		for i, w := range wins {
			if w > 1 {
				e.t.Errorf("message %q: %d AckContext calls succeeded, want at most 1", msgs[i].Data, w)
			}
			if w == 0 {
				nacked[string(msgs[i].Data)] = true
			}
			if !msgs[i].Settled() {
				e.t.Errorf("message %q not Settled() after the race", msgs[i].Data)
			}
		}
		e.t.Logf("%d of %d messages were nacked by the race", len(nacked), n)
		for range len(nacked) {
			m := next(e, c.NextMessage, "a nacked message again")
			if !nacked[string(m.Data)] {
				e.t.Errorf("message %q redelivered, but it was acked or already redelivered", m.Data)
			}
			delete(nacked, string(m.Data))
			m.Ack()
		}
		if m, ok := nextWithin(e, c.NextMessage, q.opts.Absence); ok {
			e.t.Errorf("message %q delivered again although its ack won", m.Data)
		}
	})

	run("CompetingConsumersShareMessagesWithoutDuplicates", func(e *env) {
		topic, sub, first := q.fresh(e, SubscribeOptions{})
		consumers := []QueueConsumer{first, q.subscribe(e, topic, sub, SubscribeOptions{}), q.subscribe(e, topic, sub, SubscribeOptions{})}
		const n = 60
		q.publish(e, topic, "m", n)
		ctx, cancel := context.WithCancel(e.ctx)
		defer cancel()
		var mu sync.Mutex
		seen := map[string]int{}
		counts := make([]int, len(consumers))
		var wg sync.WaitGroup
		for i, c := range consumers {
			wg.Go(func() {
				for {
					m, err := c.NextMessage(ctx)
					if err != nil {
						if ctx.Err() == nil {
							e.t.Errorf("consumer %d: NextMessage: %v", i, err)
						}
						return
					}
					// A little work per message, so a consumer that is
					// never blocked cannot take everything.
					time.Sleep(time.Millisecond)
					if err := m.AckContext(ctx); err != nil && ctx.Err() == nil {
						e.t.Errorf("consumer %d: AckContext: %v", i, err)
					}
					mu.Lock()
					seen[string(m.Data)]++
					counts[i]++
					if len(seen) == n {
						cancel()
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if e.ctx.Err() != nil {
			e.t.Fatalf("timed out with %d of %d messages received", len(seen), n)
		}
		for data, k := range seen {
			if k > 1 {
				e.t.Errorf("message %q delivered %d times to consumers that acked it", data, k)
			}
		}
		e.t.Logf("messages per consumer: %v", counts)
	})

	run("NextMessageReturnsPromptlyWhenItsContextEnds", func(e *env) {
		topic, _, c := q.fresh(e, SubscribeOptions{})
		checkPromptCancel(e, c.NextMessage)
		if b, ok := c.(broker.BatchedMessageIterator); ok && f.BatchedIterator {
			checkPromptCancel(e, b.NextBatch)
		}
		q.publish(e, topic, "m", 1)
		m := next(e, c.NextMessage, "a message published after the canceled calls")
		m.Ack()
	})

	run("CanceledNextMessageLosesNothing", func(e *env) {
		topic, _, c := q.fresh(e, SubscribeOptions{})
		const n = 50
		published := make(chan struct{})
		go func() {
			defer close(published)
			q.publishSlowly(e, topic, n)
		}()
		defer func() { <-published }()
		var batch func(context.Context) ([]broker.Message, error)
		if b, ok := c.(broker.BatchedMessageIterator); ok && f.BatchedIterator {
			batch = b.NextBatch
		}
		nextOf := oneOrBatch(c.NextMessage, batch)
		seen := map[string]bool{}
		for i := 0; len(seen) < n; i++ {
			ctx, cancel := context.WithTimeout(e.ctx, shortTimeout(i))
			msgs, err := nextOf(ctx, i)
			cancel()
			switch {
			case err == nil:
				for _, m := range msgs {
					if seen[string(m.Data)] {
						e.t.Errorf("message %q delivered twice though it was acked", m.Data)
					}
					seen[string(m.Data)] = true
					m.Ack()
				}
			case e.ctx.Err() != nil:
				e.t.Fatalf("timed out with %d of %d messages received: lost by canceled calls?", len(seen), n)
			case !errors.Is(err, context.DeadlineExceeded):
				e.t.Fatalf("NextMessage or NextBatch with a short deadline: got %v, want an error matching context.DeadlineExceeded", err)
			}
		}
	})

	run("CloseIsIdempotentAndEndsTheConsumer", func(e *env) {
		_, _, c := q.fresh(e, SubscribeOptions{})
		e.must(c.Close(), "Close")
		e.must(c.Close(), "second Close")
		if _, err := c.NextMessage(e.ctx); !errors.Is(err, broker.ErrClosed) {
			e.t.Errorf("NextMessage after Close: got %v, want an error matching broker.ErrClosed", err)
		}
		if b, ok := c.(broker.BatchedMessageIterator); ok && f.BatchedIterator {
			if _, err := b.NextBatch(e.ctx); !errors.Is(err, broker.ErrClosed) {
				e.t.Errorf("NextBatch after Close: got %v, want an error matching broker.ErrClosed", err)
			}
		}
	})

	run("CloseUnblocksAPendingNextMessage", func(e *env) {
		_, _, c := q.fresh(e, SubscribeOptions{})
		checkCloseUnblocks(e, c.NextMessage, c.Close)
	})

	run("AckDeadlineExpiryRedelivers", func(e *env) {
		if f.AckDeadline <= 0 {
			e.t.Skip("requires QueueFeatures.AckDeadline")
		}
		topic, _, c := q.fresh(e, SubscribeOptions{AckDeadline: f.AckDeadline})
		// Timed from before publishing, since no lease can start earlier:
		// timed from when NextMessage returned, a delivery that reaches
		// the client late (or a stalled test goroutine) would pass for an
		// early redelivery.
		start := time.Now()
		q.publish(e, topic, "m", 1)
		m1 := next(e, c.NextMessage, "the published message")
		m2 := next(e, c.NextMessage, "the unsettled message after its ack deadline")
		if waited := time.Since(start); waited < f.AckDeadline/2 {
			e.t.Errorf("redelivered after %v, well before the %v ack deadline", waited, f.AckDeadline)
		}
		if m2.ID != m1.ID {
			e.t.Errorf("got %q, want the expired %q again", m2.ID, m1.ID)
		}
		if f.DeliveryCount && m2.DeliveryCount != 2 {
			e.t.Errorf("redelivery after expiry has DeliveryCount %d, want 2", m2.DeliveryCount)
		}
		e.must(m2.AckContext(e.ctx), "AckContext of the redelivered message")
	})

	run("ExtendKeepsTheMessageLeased", func(e *env) {
		if !f.Extend || f.AckDeadline <= 0 {
			e.t.Skip("requires QueueFeatures.Extend and QueueFeatures.AckDeadline")
		}
		d := f.AckDeadline
		topic, _, c := q.fresh(e, SubscribeOptions{AckDeadline: d})
		q.publish(e, topic, "m", 1)
		m := next(e, c.NextMessage, "the published message")
		// One generous extension, so that a slow machine cannot make the
		// test miss a deadline: the message must outlive its original
		// deadline by far.
		e.must(m.Extend(e.ctx, 8*d), "Extend")
		if got, ok := nextWithin(e, c.NextMessage, 2*d); ok {
			e.t.Errorf("message %q delivered again after its deadline was extended", got.Data)
		}
		e.must(m.AckContext(e.ctx), "AckContext after extending")
		if err := m.Extend(e.ctx, d); !errors.Is(err, broker.ErrAlreadySettled) {
			e.t.Errorf("Extend after AckContext: got %v, want an error matching broker.ErrAlreadySettled", err)
		}
	})

	run("RejectedMessageIsNotRedelivered", func(e *env) {
		if !f.Reject {
			e.t.Skip("requires QueueFeatures.Reject")
		}
		topic, sub, c := q.fresh(e, SubscribeOptions{})
		dead := q.deadLetters(e, topic, sub)
		q.publish(e, topic, "m", 2)
		for range 2 {
			m := next(e, c.NextMessage, "a published message")
			if string(m.Data) == "m0" {
				m.Reject("brokertest: poison")
			} else {
				m.Ack()
			}
		}
		if m, ok := nextWithin(e, c.NextMessage, q.opts.Absence); ok {
			e.t.Errorf("message %q delivered again after Reject or Ack", m.Data)
		}
		if dead != nil {
			m := next(e, dead.NextMessage, "the rejected message on the dead-letter destination")
			if string(m.Data) != "m0" {
				e.t.Errorf("dead-letter destination got %q, want the rejected m0", m.Data)
			}
			m.Ack()
		}
	})

	run("MessagePastMaxDeliveriesIsNotDeliveredAgain", func(e *env) {
		if !f.MaxDeliveries {
			e.t.Skip("requires QueueFeatures.MaxDeliveries")
		}
		const max = 2
		topic, sub, c := q.fresh(e, SubscribeOptions{MaxDeliveries: max})
		dead := q.deadLetters(e, topic, sub)
		q.publish(e, topic, "m", 1)
		for i := range max {
			m := next(e, c.NextMessage, fmt.Sprintf("delivery %d of %d", i+1, max))
			m.Nack()
		}
		if m, ok := nextWithin(e, c.NextMessage, q.opts.Absence); ok {
			e.t.Errorf("message %q delivered %d times with MaxDeliveries %d", m.Data, max+1, max)
		}
		if dead != nil {
			m := next(e, dead.NextMessage, "the poison message on the dead-letter destination")
			if string(m.Data) != "m0" {
				e.t.Errorf("dead-letter destination got %q, want m0", m.Data)
			}
			m.Ack()
		}
	})

	run("NackWithDelayIsNotRedeliveredEarly", func(e *env) {
		if !f.NackDelay {
			e.t.Skip("requires QueueFeatures.NackDelay")
		}
		delay := 2 * q.opts.Absence
		topic, _, c := q.fresh(e, SubscribeOptions{})
		q.publish(e, topic, "m", 1)
		m := next(e, c.NextMessage, "the published message")
		nacked := time.Now()
		e.must(m.Settle(e.ctx, broker.Settlement{Kind: broker.SettleNack, Delay: delay}), "Settle(nack, %v delay)", delay)
		again, ok := nextWithin(e, c.NextMessage, delay/2)
		if !ok {
			again = next(e, c.NextMessage, "the nacked message after its delay")
		}
		// Timed from before Settle, not by the probe's window: a Settle
		// that returns late (or a stalled test goroutine) starts the probe
		// late, and the redelivery it then sees may be on time.
		if waited := time.Since(nacked); waited < delay {
			e.t.Errorf("message %q redelivered %v after a nack delayed %v", again.Data, waited, delay)
		}
		e.must(again.AckContext(e.ctx), "AckContext")
	})

	run("BatchesAreNeverEmptyNorOverMaxBatch", func(e *env) {
		if !f.BatchedIterator {
			e.t.Skip("requires QueueFeatures.BatchedIterator")
		}
		const n, maxBatch = 30, 7
		topic, _, c := q.fresh(e, SubscribeOptions{MaxBatch: maxBatch})
		b, ok := c.(broker.BatchedMessageIterator)
		if !ok {
			e.t.Fatalf("%T does not implement broker.BatchedMessageIterator", c)
		}
		q.publish(e, topic, "m", n)
		seen := map[string]bool{}
		for len(seen) < n {
			batch := next(e, b.NextBatch, "a batch")
			if len(batch) == 0 || len(batch) > maxBatch {
				e.t.Errorf("NextBatch returned %d messages, want 1 to %d", len(batch), maxBatch)
			}
			for _, m := range batch {
				if seen[string(m.Data)] {
					e.t.Errorf("message %q delivered twice", m.Data)
				}
				seen[string(m.Data)] = true
				m.Ack()
			}
		}
		if batch, ok := nextWithin(e, b.NextBatch, q.opts.Absence); ok {
			e.t.Errorf("NextBatch after everything was acked returned %d messages and no error", len(batch))
		}
	})
}

// deadLetters opens the dead-letter consumer if the harness has one.
func (q *queueSuite) deadLetters(e *env, topic, sub string) QueueConsumer {
	if q.h.DeadLetters == nil {
		return nil
	}
	c, err := q.h.DeadLetters(e.ctx, e.t, topic, sub)
	e.must(err, "DeadLetters")
	e.track("dead-letter consumer", c)
	return c
}

// publishSlowly publishes n messages one at a time from its own goroutine,
// so they arrive while the consumer's calls are being canceled.
func (q *queueSuite) publishSlowly(e *env, topic string, n int) {
	p, err := q.h.Publisher(e.ctx, e.t)
	if err != nil {
		e.t.Errorf("Publisher: %v", err)
		return
	}
	if c, ok := p.(interface{ Close() error }); ok {
		defer c.Close()
	}
	tp, err := p.Topic(topic)
	if err != nil {
		e.t.Errorf("Topic: %v", err)
		return
	}
	for i := range n {
		if err := tp.Publish(e.ctx, broker.OutboundMessage{Data: fmt.Appendf(nil, "m%d", i)}); err != nil {
			e.t.Errorf("Publish: %v", err)
			return
		}
		pause(i)
	}
}

// expectMessages receives n messages with payloads prefix0 … and acks them.
func expectMessages(e *env, c QueueConsumer, prefix string, n int) {
	e.t.Helper()
	want := map[string]bool{}
	for i := range n {
		want[fmt.Sprint(prefix, i)] = true
	}
	for len(want) > 0 {
		m := next(e, c.NextMessage, fmt.Sprintf("%d more messages", len(want)))
		delete(want, string(m.Data))
		m.Ack()
	}
}

// checkPromptCancel checks that a Next call returns soon after its context
// ends, in the three ways a context can end, with an error matching it.
func checkPromptCancel[T any](e *env, fn func(context.Context) (T, error)) {
	e.t.Helper()
	prompt := e.opts.Prompt
	check := func(what string, ctx context.Context, want error, limit time.Duration) {
		e.t.Helper()
		var err error
		took := timed(func() { _, err = fn(ctx) })
		if !errors.Is(err, want) {
			e.t.Errorf("%s: got %v, want an error matching %v", what, err, want)
		}
		if took > limit {
			e.t.Errorf("%s: returned after %v, want under %v", what, took, limit)
		}
	}

	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	check("call with a canceled context", ctx, context.Canceled, prompt)

	ctx, cancel = context.WithTimeout(e.ctx, 50*time.Millisecond)
	check("call whose deadline passes while it waits", ctx, context.DeadlineExceeded, 50*time.Millisecond+prompt)
	cancel()

	ctx, cancel = context.WithCancel(e.ctx)
	timer := time.AfterFunc(50*time.Millisecond, cancel)
	check("call canceled while it waits", ctx, context.Canceled, 50*time.Millisecond+prompt)
	timer.Stop()
	cancel()
}

// checkCloseUnblocks checks that Close makes a Next call blocked in another
// goroutine return ErrClosed promptly.
func checkCloseUnblocks[T any](e *env, fn func(context.Context) (T, error), closeFn func() error) {
	e.t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := fn(e.ctx)
		errc <- err
	}()
	// Give the call time to block; if it has not yet, it meets a closed
	// consumer instead, which must fail the same way.
	time.Sleep(20 * time.Millisecond)
	e.must(closeFn(), "Close")
	select {
	case err := <-errc:
		if !errors.Is(err, broker.ErrClosed) {
			e.t.Errorf("call blocked during Close: got %v, want an error matching broker.ErrClosed", err)
		}
	case <-time.After(e.opts.Prompt):
		e.t.Fatalf("call blocked during Close still blocked %v after Close returned", e.opts.Prompt)
	}
}
