package pulsartest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
)

func subscribe(t *testing.T, c pulsar.Client, opts pulsar.ConsumerOptions) pulsar.Consumer {
	t.Helper()
	cons, err := c.Subscribe(opts)
	if err != nil {
		t.Fatalf("Subscribe %s: %v", opts.SubscriptionName, err)
	}
	t.Cleanup(cons.Close)
	return cons
}

func produce(t *testing.T, c pulsar.Client, opts pulsar.ProducerOptions) pulsar.Producer {
	t.Helper()
	p, err := c.CreateProducer(opts)
	if err != nil {
		t.Fatalf("CreateProducer: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// sendBatch sends msgs asynchronously, so that the client's default batching
// packs them into batch entries, and waits for every receipt.
func sendBatch(t *testing.T, p pulsar.Producer, msgs []*pulsar.ProducerMessage) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(msgs))
	for _, m := range msgs {
		wg.Add(1)
		p.SendAsync(context.Background(), m, func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
			if err != nil {
				errs <- err
			}
			wg.Done()
		})
	}
	if err := p.FlushWithCtx(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("SendAsync: %v", err)
	}
}

func payloads(prefix string, n int) []*pulsar.ProducerMessage {
	out := make([]*pulsar.ProducerMessage, n)
	for i := range out {
		out[i] = &pulsar.ProducerMessage{Payload: []byte(fmt.Sprintf("%s%d", prefix, i))}
	}
	return out
}

// received is one message as a consumer saw it.
type received struct {
	consumer int
	topic    string
	key      string
	payload  string
	count    uint32
}

// collect receives from all consumers concurrently, acknowledging each
// message, until n messages arrived in total.
func collect(t *testing.T, consumers []pulsar.Consumer, n int) []received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var (
		mu  sync.Mutex
		out []received
		wg  sync.WaitGroup
	)
	done := make(chan struct{})
	for i, c := range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := c.Receive(ctx)
				if err != nil {
					return
				}
				if err := c.Ack(m); err != nil {
					t.Errorf("Ack: %v", err)
				}
				mu.Lock()
				out = append(out, received{consumer: i, topic: m.Topic(), key: m.Key(), payload: string(m.Payload()), count: m.RedeliveryCount()})
				if len(out) == n {
					close(done)
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	if len(out) < n {
		t.Fatalf("received %d of %d messages", len(out), n)
	}
	return out
}

func TestSharedSubscriptionDeliversBatchedAndSingleMessagesOnce(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	opts := pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "shared", Type: pulsar.Shared}
	c1 := subscribe(t, c, opts)
	c2 := subscribe(t, c, opts)

	batched := produce(t, c, pulsar.ProducerOptions{Topic: topic})
	sendBatch(t, batched, payloads("b", 50))
	single := produce(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	for _, m := range payloads("s", 10) {
		send(t, single, m)
	}

	got := collect(t, []pulsar.Consumer{c1, c2}, 60)
	seen := map[string]int{}
	for _, r := range got {
		seen[r.payload]++
	}
	for _, m := range append(payloads("b", 50), payloads("s", 10)...) {
		if seen[string(m.Payload)] != 1 {
			t.Errorf("message %s received %d times", m.Payload, seen[string(m.Payload)])
		}
	}
	waitBacklog(t, s, topic, "shared", 0)
	if n := s.MessageCount(topic); n != 60 {
		t.Errorf("MessageCount = %d, want 60", n)
	}
}

func TestExclusiveSubscriptionRefusesSecondConsumerAndAcceptsCumulativeAck(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	opts := pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "excl", Type: pulsar.Exclusive}
	cons := subscribe(t, c, opts)
	if second, err := c.Subscribe(opts); err == nil {
		second.Close()
		t.Fatal("a second consumer joined an exclusive subscription")
	}

	p := produce(t, c, pulsar.ProducerOptions{Topic: topic})
	sendBatch(t, p, payloads("m", 20))
	var last pulsar.Message
	for i := 0; i < 20; i++ {
		m := receive(t, cons)
		if want := fmt.Sprintf("m%d", i); string(m.Payload()) != want {
			t.Fatalf("message %d: got %q, want %q", i, m.Payload(), want)
		}
		last = m
	}
	waitBacklog(t, s, topic, "excl", 20)
	if err := cons.AckCumulative(last); err != nil {
		t.Fatal(err)
	}
	waitBacklog(t, s, topic, "excl", 0)
}

func TestCumulativeAckInsideABatchKeepsTheRestOfTheBatch(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub", Type: pulsar.Exclusive})
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("first")})
	bp := produce(t, c, pulsar.ProducerOptions{Topic: topic})
	sendBatch(t, bp, payloads("b", 4))

	var msgs []pulsar.Message
	for i := 0; i < 5; i++ {
		msgs = append(msgs, receive(t, cons))
	}
	// Acking message b1 cumulatively: without batch-index acks the client
	// can only acknowledge up to the entry before the batch.
	if err := cons.AckCumulative(msgs[2]); err != nil {
		t.Fatal(err)
	}
	waitBacklog(t, s, topic, "sub", 4)
	if err := cons.AckCumulative(msgs[4]); err != nil {
		t.Fatal(err)
	}
	waitBacklog(t, s, topic, "sub", 0)
}

func TestFailoverSubscriptionMovesUnackedMessagesToStandby(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	opts := pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "fo", Type: pulsar.Failover}
	opts.Name = "a"
	active, err := c.Subscribe(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer active.Close()
	opts.Name = "b"
	events := &activeEvents{}
	opts.EventListener = events
	standby := subscribe(t, c, opts)

	p := produce(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	for _, m := range payloads("m", 5) {
		send(t, p, m)
	}
	for i := 0; i < 5; i++ {
		m := receive(t, active)
		if want := fmt.Sprintf("m%d", i); string(m.Payload()) != want {
			t.Fatalf("active got %q, want %q", m.Payload(), want)
		}
		if i < 2 {
			if err := active.Ack(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitBacklog(t, s, topic, "fo", 3)
	noMessage(t, standby, 100*time.Millisecond)
	active.Close()
	// pulsar-client-go registers a consumer only after SUBSCRIBE returns,
	// so it may miss the notification sent right after it; this later one
	// always arrives.
	waitFor(t, "b to become active", func() bool { return events.get() == "active" })

	for i := 2; i < 5; i++ {
		m := receive(t, standby)
		if want := fmt.Sprintf("m%d", i); string(m.Payload()) != want {
			t.Fatalf("standby got %q, want %q", m.Payload(), want)
		}
		if m.RedeliveryCount() != 1 {
			t.Errorf("%s: redelivery count %d, want 1", m.Payload(), m.RedeliveryCount())
		}
		if err := standby.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
	waitBacklog(t, s, topic, "fo", 0)
}

func TestKeySharedKeepsEachKeyOnOneConsumerInOrder(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	opts := pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "ks", Type: pulsar.KeyShared}
	consumers := []pulsar.Consumer{subscribe(t, c, opts), subscribe(t, c, opts)}

	// The key-based batcher puts one key per batch, which KeyShared
	// routing needs (it routes whole entries).
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic, BatcherBuilderType: pulsar.KeyBasedBatchBuilder})
	var msgs []*pulsar.ProducerMessage
	for i := 0; i < 20; i++ {
		for k := 0; k < 8; k++ {
			msgs = append(msgs, &pulsar.ProducerMessage{Key: fmt.Sprintf("k%d", k), Payload: []byte(strconv.Itoa(i))})
		}
	}
	sendBatch(t, p, msgs)

	got := collect(t, consumers, len(msgs))
	owner := map[string]int{}
	next := map[string]int{}
	used := map[int]bool{}
	for _, r := range got {
		if o, ok := owner[r.key]; ok && o != r.consumer {
			t.Errorf("key %s went to consumers %d and %d", r.key, o, r.consumer)
		}
		owner[r.key] = r.consumer
		used[r.consumer] = true
	}
	// Order per key, per consumer (collect appends per consumer in order).
	for ci := range consumers {
		for _, r := range got {
			if r.consumer != ci {
				continue
			}
			if want := strconv.Itoa(next[r.key]); r.payload != want {
				t.Errorf("key %s: got %s, want %s", r.key, r.payload, want)
			}
			next[r.key]++
		}
	}
	if len(used) != 2 {
		t.Errorf("keys used %d consumers, want 2 (owners %v)", len(used), owner)
	}
	waitBacklog(t, s, topic, "ks", 0)
}

func TestDurableSubscriptionResumesAfterConsumerCloses(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	opts := pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "durable", Type: pulsar.Exclusive}
	first, err := c.Subscribe(opts)
	if err != nil {
		t.Fatal(err)
	}
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	for _, m := range payloads("m", 5) {
		send(t, p, m)
	}
	for i := 0; i < 2; i++ {
		if err := first.Ack(receive(t, first)); err != nil {
			t.Fatal(err)
		}
	}
	waitBacklog(t, s, topic, "durable", 3)
	first.Close()
	for _, m := range payloads("later", 2) {
		send(t, p, m)
	}
	waitBacklog(t, s, topic, "durable", 5)

	again := subscribe(t, c, opts)
	var got []string
	for i := 0; i < 5; i++ {
		got = append(got, string(receive(t, again).Payload()))
	}
	if want := "m2 m3 m4 later0 later1"; strings.Join(got, " ") != want {
		t.Fatalf("after resubscribing got %q, want %q", got, want)
	}
}

func TestSubscriptionInitialPosition(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("old")})

	latest := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "latest"})
	earliest := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "earliest",
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("new")})

	if m := receive(t, latest); string(m.Payload()) != "new" {
		t.Errorf("latest subscription got %q first, want new", m.Payload())
	}
	if m := receive(t, earliest); string(m.Payload()) != "old" {
		t.Errorf("earliest subscription got %q first, want old", m.Payload())
	}
}

func TestAckWithResponseIsConfirmedByTheServer(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub", AckWithResponse: true})
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic})
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("x")})
	if err := cons.Ack(receive(t, cons)); err != nil {
		t.Fatal(err)
	}
	// The ack was confirmed, so the server already applied it: no waiting.
	if n, err := s.Backlog(topic, "sub"); err != nil || n != 0 {
		t.Fatalf("Backlog = %d, %v; want 0", n, err)
	}
}

// activeEvents records the last ACTIVE_CONSUMER_CHANGE a consumer saw.
type activeEvents struct {
	mu    sync.Mutex
	state string
}

func (e *activeEvents) set(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state = s
}

func (e *activeEvents) get() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state
}

func (e *activeEvents) BecameActive(pulsar.Consumer, string, int32)   { e.set("active") }
func (e *activeEvents) BecameInactive(pulsar.Consumer, string, int32) { e.set("inactive") }
