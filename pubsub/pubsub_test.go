package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pubsub"
)

// receiveN runs r until handler has seen n messages, then ends Receive.
func receiveN(t *testing.T, ctx context.Context, r *pubsub.Receiver, n int, handler func(broker.Message)) {
	t.Helper()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	seen := 0
	err := r.Receive(rctx, func(_ context.Context, m broker.Message) {
		handler(m)
		mu.Lock()
		seen++
		if seen == n {
			cancel()
		}
		mu.Unlock()
	})
	must(t, err)
	if ctx.Err() != nil {
		t.Fatalf("timed out after %d of %d messages", seen, n)
	}
}

func TestNackedMessageIsRedeliveredWithTheNextDeliveryAttempt(t *testing.T) {
	c := newClient(t, newServer(t))
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{DeadLetterTopic: uniqueName("dead"), MaxDeliveryAttempts: 10})
	publishAll(t, c, topic, broker.OutboundMessage{Data: []byte("m")})
	r, err := c.Receiver(ctx, sub, pubsub.ReceiveConfig{})
	must(t, err)
	var attempts []int
	var ids []string
	receiveN(t, ctx, r, 3, func(m broker.Message) {
		attempts = append(attempts, m.DeliveryCount)
		ids = append(ids, m.ID)
		if len(attempts) < 3 {
			m.Nack()
			return
		}
		must(t, m.AckContext(ctx))
	})
	if fmt.Sprint(attempts) != "[1 2 3]" {
		t.Errorf("delivery counts %v, want [1 2 3]", attempts)
	}
	if ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("IDs %v: want the same message each time", ids)
	}
}

func TestDeliveryCountIsUnknownWithoutADeadLetterPolicy(t *testing.T) {
	c := newClient(t, newServer(t))
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	publishAll(t, c, topic, broker.OutboundMessage{Data: []byte("m")})
	cons, err := c.Subscribe(ctx, sub, pubsub.ReceiveConfig{})
	must(t, err)
	defer cons.Close()
	m, err := cons.NextMessage(ctx)
	must(t, err)
	if m.DeliveryCount != 0 {
		t.Errorf("DeliveryCount %d without a dead-letter policy, want 0 (unknown)", m.DeliveryCount)
	}
	must(t, m.AckContext(ctx))
}

// With lease extension disabled, an unsettled message comes back once the
// lease asked for at receipt has passed. 60 s of ctx: the lease is 1 s.
func TestAckDeadlineExpiryRedeliversWhenLeaseExtensionIsDisabled(t *testing.T) {
	c := newClient(t, newServer(t))
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	publishAll(t, c, topic, broker.OutboundMessage{Data: []byte("m")})
	cons, err := c.Subscribe(ctx, sub, pubsub.ReceiveConfig{AckDeadline: time.Second, MaxExtension: -1})
	must(t, err)
	defer cons.Close()
	first, err := cons.NextMessage(ctx)
	must(t, err)
	again, err := cons.NextMessage(ctx)
	must(t, err)
	if again.ID != first.ID {
		t.Fatalf("got %q, want the expired %q again", again.ID, first.ID)
	}
	must(t, again.AckContext(ctx))
	// The first delivery's lease is gone: acking it now is a no-op on
	// Pub/Sub, and the message stays acked through its redelivery.
	if m, err := nextWithin(cons, 500*time.Millisecond); err == nil {
		t.Errorf("message %q delivered again after its redelivery was acked", m.Data)
	}
}

// With lease extension on (the default), the library keeps an unsettled
// message leased past its 10 s lease, as Extend promised.
func TestLeaseExtensionKeepsAnUnsettledMessageLeased(t *testing.T) {
	t.Parallel()
	c := newClient(t, newServer(t))
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	publishAll(t, c, topic, broker.OutboundMessage{Data: []byte("m")})
	cons, err := c.Subscribe(ctx, sub, pubsub.ReceiveConfig{AckDeadline: 10 * time.Second})
	must(t, err)
	defer cons.Close()
	m, err := cons.NextMessage(ctx)
	must(t, err)
	must(t, m.Extend(ctx, time.Minute))
	if got, err := nextWithin(cons, 13*time.Second); err == nil {
		t.Errorf("message %q redelivered while its lease was being extended", got.Data)
	}
	must(t, m.AckContext(ctx))
}

func TestExtendSucceedsOnlyWithinTheLibrarysLeaseHorizon(t *testing.T) {
	c := newClient(t, newServer(t))
	ctx := testCtx(t)
	for _, tc := range []struct {
		name   string
		maxExt time.Duration
		d      time.Duration
		want   error
	}{
		{"within MaxExtension", time.Hour, time.Minute, nil},
		{"past MaxExtension", time.Minute, time.Hour, broker.ErrUnsupported},
		{"extension disabled", -1, time.Second, broker.ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
			publishAll(t, c, topic, broker.OutboundMessage{Data: []byte("m")})
			cons, err := c.Subscribe(ctx, sub, pubsub.ReceiveConfig{MaxExtension: tc.maxExt})
			must(t, err)
			defer cons.Close()
			m, err := cons.NextMessage(ctx)
			must(t, err)
			if err := m.Extend(ctx, tc.d); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("Extend(%v) with MaxExtension %v: got %v, want %v", tc.d, tc.maxExt, err, tc.want)
			}
			must(t, m.AckContext(ctx))
			if err := m.Extend(ctx, tc.d); !errors.Is(err, broker.ErrAlreadySettled) {
				t.Errorf("Extend after AckContext: got %v, want ErrAlreadySettled", err)
			}
		})
	}
}

func TestOrderingKeysKeepPublishingOrder(t *testing.T) {
	c := newClient(t, newServer(t))
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{Ordering: true})
	const keys, each = 3, 8
	var msgs []broker.OutboundMessage
	for i := range each {
		for k := range keys {
			msgs = append(msgs, broker.OutboundMessage{Key: fmt.Sprint("key", k), Data: fmt.Appendf(nil, "%d", i)})
		}
	}
	publishAll(t, c, topic, msgs...)
	r, err := c.Receiver(ctx, sub, pubsub.ReceiveConfig{NumGoroutines: 2})
	must(t, err)
	var mu sync.Mutex
	got := map[string][]string{}
	receiveN(t, ctx, r, keys*each, func(m broker.Message) {
		mu.Lock()
		got[m.Key] = append(got[m.Key], string(m.Data))
		mu.Unlock()
		m.Ack()
	})
	want := fmt.Sprint([]string{"0", "1", "2", "3", "4", "5", "6", "7"})
	for k := range keys {
		key := fmt.Sprint("key", k)
		if fmt.Sprint(got[key]) != want {
			t.Errorf("key %s: got %v, want %v", key, got[key], want)
		}
	}
}

// failData makes the fake server refuse every Publish request that carries
// a message with this payload, as a server-side fault.
const failData = "refuse-me"

type refusePublish struct{ hits sync.Map }

func (r *refusePublish) React(req any) (bool, any, error) {
	for _, m := range req.(*pb.PublishRequest).Messages {
		if string(m.Data) == failData {
			return true, nil, status.Error(codes.FailedPrecondition, "injected fault")
		}
	}
	return false, nil, nil
}

func TestPublishErrorInjectedByTheServerIsReportedForTheRightMessage(t *testing.T) {
	srv := newServer(t, pstest.ServerReactorOption{FuncName: "Publish", Reactor: &refusePublish{}})
	c := newClient(t, srv)
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	p, err := c.Publisher(pubsub.PublishConfig{})
	must(t, err)
	defer p.Close()
	tp, err := p.Topic(topic)
	must(t, err)

	// Each key is its own ordered batch, so the refused request carries
	// the bad message only.
	err = tp.BatchPublish(ctx,
		broker.OutboundMessage{Key: "a", Data: []byte("ok-1")},
		broker.OutboundMessage{Key: "b", Data: []byte(failData)},
		broker.OutboundMessage{Key: "c", Data: []byte("ok-2")},
	)
	var be *broker.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("BatchPublish: got %v, want a *broker.BatchError", err)
	}
	if fmt.Sprint(be.Status) != "[sent failed sent]" {
		t.Errorf("statuses %v, want [sent failed sent]", be.Status)
	}
	if !strings.Contains(fmt.Sprint(be.Errs[1]), "injected fault") {
		t.Errorf("message 1's error %v does not carry the server's", be.Errs[1])
	}

	err = tp.Publish(ctx, broker.OutboundMessage{Key: "b", Data: []byte(failData)})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("Publish of the refused message: got %v, want the server's FailedPrecondition", err)
	}
	// The failure paused key b in the library; it was resumed when reported.
	must(t, tp.Publish(ctx, broker.OutboundMessage{Key: "b", Data: []byte("ok-3")}))

	cons, err := c.Subscribe(ctx, sub, pubsub.ReceiveConfig{})
	must(t, err)
	defer cons.Close()
	seen := map[string]bool{}
	for len(seen) < 3 {
		m, err := cons.NextMessage(ctx)
		must(t, err)
		seen[string(m.Data)] = true
		m.Ack()
	}
	if fmt.Sprint(seen) != "map[ok-1:true ok-2:true ok-3:true]" {
		t.Errorf("received %v, want ok-1, ok-2 and ok-3 only", seen)
	}
	if m, err := nextWithin(cons, 500*time.Millisecond); err == nil {
		t.Errorf("refused message arrived: %q", m.Data)
	}
}

// The subscription's lease is 60 s with extension on, so without the nack
// at shutdown nothing would come back within the test's 20 s.
func TestCloseWhileMessagesAreInFlightNacksThem(t *testing.T) {
	c := newClient(t, newServer(t))
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	const n = 6
	var msgs []broker.OutboundMessage
	for i := range n {
		msgs = append(msgs, broker.OutboundMessage{Data: fmt.Appendf(nil, "m%d", i)})
	}
	publishAll(t, c, topic, msgs...)
	cfg := pubsub.ReceiveConfig{AckDeadline: time.Minute}

	// A Receiver whose handlers keep every message unsettled.
	r, err := c.Receiver(ctx, sub, cfg)
	must(t, err)
	var held []broker.Message
	receiveN(t, ctx, r, n, func(m broker.Message) { held = append(held, m) })
	for _, m := range held {
		if err := m.AckContext(ctx); !errors.Is(err, broker.ErrClosed) {
			t.Errorf("AckContext after Receive returned: got %v, want ErrClosed (nacked at shutdown)", err)
		}
	}

	// A Consumer holding every message handed out. (Holding only some
	// would leave the rest in its buffer, nacked too, but maybe also one
	// in flight on the stream, which only comes back after the stream's
	// 60 s lease: see the package doc on shutdown.)
	cons, err := c.Subscribe(ctx, sub, cfg)
	must(t, err)
	for range n {
		_, err := cons.NextMessage(ctx)
		must(t, err)
	}
	must(t, cons.Close())
	if _, err := cons.NextMessage(ctx); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("NextMessage after Close: got %v, want ErrClosed", err)
	}

	again, err := c.Subscribe(ctx, sub, cfg)
	must(t, err)
	defer again.Close()
	seen := map[string]bool{}
	for len(seen) < n {
		m, err := again.NextMessage(ctx)
		if err != nil {
			t.Fatalf("after %d of %d redeliveries: %v", len(seen), n, err)
		}
		seen[string(m.Data)] = true
		must(t, m.AckContext(ctx))
	}
}

func TestExactlyOnceSubscriptionReportsTheAckOutcome(t *testing.T) {
	c := newClient(t, newServer(t))
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{ExactlyOnce: true})
	publishAll(t, c, topic, broker.OutboundMessage{Data: []byte("a")}, broker.OutboundMessage{Data: []byte("b")})
	cons, err := c.Subscribe(ctx, sub, pubsub.ReceiveConfig{})
	must(t, err)
	defer cons.Close()
	for range 2 {
		m, err := cons.NextMessage(ctx)
		must(t, err)
		switch string(m.Data) {
		case "a":
			must(t, m.AckContext(ctx))
		default:
			must(t, m.Settle(ctx, broker.Settlement{Kind: broker.SettleNack}))
			m2, err := cons.NextMessage(ctx)
			must(t, err)
			must(t, m2.AckContext(ctx))
		}
	}
	if m, err := nextWithin(cons, 500*time.Millisecond); err == nil {
		t.Errorf("message %q delivered again after a confirmed ack", m.Data)
	}
}

func TestRejectPublishesToTheDeadLetterTopicAndAcks(t *testing.T) {
	c := newClient(t, newServer(t))
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	dead := uniqueName("dead")
	must(t, c.EnsureTopic(ctx, dead))
	must(t, c.EnsureSubscription(ctx, pubsub.SubscriptionConfig{Name: dead + "-sub", Topic: dead}))
	publishAll(t, c, topic, broker.OutboundMessage{Key: "k", Data: []byte("poison"), Attributes: map[string]any{"a": "1"}})
	cons, err := c.Subscribe(ctx, sub, pubsub.ReceiveConfig{DeadLetterTopic: dead})
	must(t, err)
	defer cons.Close()
	m, err := cons.NextMessage(ctx)
	must(t, err)
	must(t, m.Settle(ctx, broker.Settlement{Kind: broker.SettleReject, Reason: "bad"}))
	if got, err := nextWithin(cons, 500*time.Millisecond); err == nil {
		t.Errorf("rejected message %q delivered again", got.Data)
	}
	dl, err := c.Subscribe(ctx, dead+"-sub", pubsub.ReceiveConfig{})
	must(t, err)
	defer dl.Close()
	d, err := dl.NextMessage(ctx)
	must(t, err)
	if string(d.Data) != "poison" || d.Key != "k" || d.Attributes["a"] != "1" {
		t.Errorf("dead letter: data %q key %q attrs %v, want the rejected message", d.Data, d.Key, d.Attributes)
	}
	d.Ack()
}

func TestAttributesAreConvertedToStringsByTheDocumentedRules(t *testing.T) {
	c := newClient(t, newServer(t))
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("X", 3600))
	publishAll(t, c, topic, broker.OutboundMessage{Data: []byte("m"), Attributes: map[string]any{
		"string": "s", "bytes": []byte{0, 255}, "bool": true, "int": -42, "uint8": uint8(200),
		"float32": float32(1.5), "float64": 0.1, "time": at, "duration": 1500 * time.Millisecond,
	}})
	cons, err := c.Subscribe(ctx, sub, pubsub.ReceiveConfig{})
	must(t, err)
	defer cons.Close()
	m, err := cons.NextMessage(ctx)
	must(t, err)
	m.Ack()
	want := map[string]any{
		"string": "s", "bytes": "AP8=", "bool": "true", "int": "-42", "uint8": "200",
		"float32": "1.5", "float64": "0.1", "time": "2026-01-02T02:04:05.000006Z", "duration": "1.5s",
	}
	if fmt.Sprint(m.Attributes) != fmt.Sprint(want) {
		t.Errorf("attributes\n got %v\nwant %v", m.Attributes, want)
	}
}

func TestBadInputIsRefusedWithSentinelsBeforeSending(t *testing.T) {
	c := newClient(t, newServer(t))
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	p, err := c.Publisher(pubsub.PublishConfig{})
	must(t, err)
	defer p.Close()
	tp, err := p.Topic(topic)
	must(t, err)

	many := map[string]any{}
	for i := range pubsub.MaxAttributes + 1 {
		many[fmt.Sprint("a", i)] = "v"
	}
	for name, tc := range map[string]struct {
		msg  broker.OutboundMessage
		want error
	}{
		"key over 256 bytes":      {broker.OutboundMessage{Attributes: map[string]any{strings.Repeat("k", 257): "v"}}, broker.ErrInvalidAttribute},
		"value over 1024 bytes":   {broker.OutboundMessage{Attributes: map[string]any{"k": strings.Repeat("v", 1025)}}, broker.ErrInvalidAttribute},
		"bytes value over limit":  {broker.OutboundMessage{Attributes: map[string]any{"k": make([]byte, 800)}}, broker.ErrInvalidAttribute},
		"101 attributes":          {broker.OutboundMessage{Attributes: many}, broker.ErrInvalidAttribute},
		"reserved goog prefix":    {broker.OutboundMessage{Attributes: map[string]any{"googkey": "v"}}, broker.ErrInvalidAttribute},
		"nil value":               {broker.OutboundMessage{Attributes: map[string]any{"k": nil}}, broker.ErrInvalidAttribute},
		"ordering key over limit": {broker.OutboundMessage{Key: strings.Repeat("k", 1025)}, broker.ErrInvalidAttribute},
		"data over 10 MB":         {broker.OutboundMessage{Data: make([]byte, pubsub.MaxMessageSize+1)}, broker.ErrMessageTooLarge},
		"10 MB of data plus attributes": {broker.OutboundMessage{Data: make([]byte, pubsub.MaxMessageSize-10),
			Attributes: map[string]any{"k": strings.Repeat("v", 100)}}, broker.ErrMessageTooLarge},
	} {
		if err := tp.Publish(ctx, tc.msg); !errors.Is(err, tc.want) {
			t.Errorf("Publish with %s: got %v, want %v", name, err, tc.want)
		}
		var be *broker.BatchError
		err := tp.BatchPublish(ctx, broker.OutboundMessage{Data: []byte("fine")}, tc.msg)
		if !errors.As(err, &be) || !errors.Is(be.Errs[1], tc.want) || be.Status[0] != broker.PublishFailed {
			t.Errorf("BatchPublish with %s: got %v, want a BatchError failing both, message 1 with %v", name, err, tc.want)
		}
	}
	if _, err := p.Topic(""); !errors.Is(err, broker.ErrInvalidTopic) {
		t.Errorf(`Topic(""): got %v, want ErrInvalidTopic`, err)
	}
	if _, err := c.Subscribe(ctx, "", pubsub.ReceiveConfig{}); !errors.Is(err, broker.ErrInvalidTopic) {
		t.Errorf(`Subscribe(""): got %v, want ErrInvalidTopic`, err)
	}
	if _, err := c.Receiver(ctx, "", pubsub.ReceiveConfig{}); !errors.Is(err, broker.ErrInvalidTopic) {
		t.Errorf(`Receiver(""): got %v, want ErrInvalidTopic`, err)
	}
	if _, err := c.Subscribe(ctx, "no-such-subscription", pubsub.ReceiveConfig{}); !errors.Is(err, broker.ErrNotFound) {
		t.Errorf("Subscribe to a missing subscription: got %v, want ErrNotFound", err)
	}
	missing, err := p.Topic("no-such-topic")
	must(t, err)
	if err := missing.Publish(ctx, broker.OutboundMessage{Data: []byte("x")}); !errors.Is(err, broker.ErrNotFound) {
		t.Errorf("Publish to a missing topic: got %v, want ErrNotFound", err)
	}
	var be *broker.BatchError
	if err := missing.BatchPublish(ctx, broker.OutboundMessage{Data: []byte("x")}); !errors.As(err, &be) || !errors.Is(err, broker.ErrNotFound) || be.Status[0] != broker.PublishFailed {
		t.Errorf("BatchPublish to a missing topic: got %v, want a BatchError with ErrNotFound", err)
	}
	if _, err := pubsub.NewClient(ctx, pubsub.Config{}); !errors.Is(err, broker.ErrInvalidOption) {
		t.Errorf("NewClient without a project: got %v, want ErrInvalidOption", err)
	}
	if _, err := c.Publisher(pubsub.PublishConfig{CountThreshold: 5000}); !errors.Is(err, broker.ErrInvalidOption) {
		t.Errorf("Publisher with CountThreshold 5000: got %v, want ErrInvalidOption", err)
	}

	// Nothing refused was sent.
	cons, err := c.Subscribe(ctx, sub, pubsub.ReceiveConfig{})
	must(t, err)
	defer cons.Close()
	if m, err := nextWithin(cons, 500*time.Millisecond); err == nil {
		t.Errorf("a refused message was delivered: %.40q", m.Data)
	}
}

func TestReceiverRefusesANilHandlerAndASecondConcurrentReceive(t *testing.T) {
	c := newClient(t, newServer(t))
	ctx := testCtx(t)
	pubTopic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	r, err := c.Receiver(ctx, sub, pubsub.ReceiveConfig{})
	must(t, err)
	if err := r.Receive(ctx, nil); !errors.Is(err, broker.ErrInvalidOption) {
		t.Errorf("Receive(nil): got %v, want ErrInvalidOption", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	started := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- r.Receive(rctx, func(_ context.Context, m broker.Message) {
			m.Ack()
			select {
			case started <- struct{}{}:
			default:
			}
		})
	}()
	publishAll(t, c, pubTopic, broker.OutboundMessage{Data: []byte("m")})
	<-started
	if err := r.Receive(ctx, func(context.Context, broker.Message) {}); !errors.Is(err, broker.ErrUnsupported) {
		t.Errorf("concurrent Receive: got %v, want ErrUnsupported", err)
	}
	cancel()
	must(t, <-done)
}

// nextWithin waits d for a message that should not come.
func nextWithin(c *pubsub.Consumer, d time.Duration) (broker.Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.NextMessage(ctx)
}

func TestPoisonPolicyMapsToTheDeadLetterPolicy(t *testing.T) {
	c := newClient(t, newServer(t))
	ctx := testCtx(t)
	dead := uniqueName("dead")
	must(t, c.EnsureTopic(ctx, dead))
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{Poison: broker.PoisonPolicy{MaxDeliveries: 2, DeadLetterTopic: dead, NackDelay: time.Millisecond}})
	must(t, c.EnsureSubscription(ctx, pubsub.SubscriptionConfig{Name: dead + "-sub", Topic: dead}))
	publishAll(t, c, topic, broker.OutboundMessage{Data: []byte("poison")})
	r, err := c.Receiver(ctx, sub, pubsub.ReceiveConfig{})
	must(t, err)
	if !r.CountsDeliveries() || r.ExactlyOnce() {
		t.Errorf("CountsDeliveries %v, ExactlyOnce %v; want true, false", r.CountsDeliveries(), r.ExactlyOnce())
	}
	receiveN(t, ctx, r, 2, func(m broker.Message) { m.Nack() })
	dl, err := c.Subscribe(ctx, dead+"-sub", pubsub.ReceiveConfig{})
	must(t, err)
	defer dl.Close()
	m, err := dl.NextMessage(ctx)
	must(t, err)
	if string(m.Data) != "poison" {
		t.Errorf("dead letter %q, want poison", m.Data)
	}
	m.Ack()

	for name, sc := range map[string]pubsub.SubscriptionConfig{
		"terminate":         {Poison: broker.PoisonPolicy{MaxDeliveries: 3, DeadLetterTopic: dead, Action: broker.PoisonTerminate}},
		"no topic":          {Poison: broker.PoisonPolicy{MaxDeliveries: 3}},
		"both ways":         {Poison: broker.PoisonPolicy{MaxDeliveries: 3, DeadLetterTopic: dead}, DeadLetterTopic: dead},
		"negative delivery": {Poison: broker.PoisonPolicy{MaxDeliveries: -1}},
	} {
		sc.Name, sc.Topic = uniqueName("s"), topic
		if err := c.EnsureSubscription(ctx, sc); !errors.Is(err, broker.ErrInvalidOption) && !errors.Is(err, broker.ErrUnsupported) {
			t.Errorf("EnsureSubscription with %s: got %v, want ErrInvalidOption or ErrUnsupported", name, err)
		}
	}
}

// Settlements made while the handler call runs are handed to the library
// when it returns (see the package doc); from any goroutine, they still
// happen exactly once.
func TestSettlementsDuringTheHandlerCallTakeEffectOnce(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	publishAll(t, c, topic, broker.OutboundMessage{Data: []byte("a")}, broker.OutboundMessage{Data: []byte("b")})
	r, err := c.Receiver(ctx, sub, pubsub.ReceiveConfig{})
	must(t, err)
	var ids sync.Map
	receiveN(t, ctx, r, 2, func(m broker.Message) {
		ids.Store(m.ID, true)
		if string(m.Data) == "a" {
			// Acked from another goroutine while the handler waits.
			done := make(chan struct{})
			go func() { m.Ack(); close(done) }()
			<-done
		} else {
			m.Ack()
		}
		m.Nack() // a later settlement of the same message does nothing
	})
	// Receive returned, so its acks were sent: pstest counted them.
	ids.Range(func(id, _ any) bool {
		if got := srv.Message(id.(string)); got == nil || got.Acks != 1 {
			t.Errorf("message %v: server state %+v, want acked once", id, got)
		}
		return true
	})
}

func TestKeyAttributeCarriesTheKeyWithoutOrdering(t *testing.T) {
	c := newClient(t, newServer(t))
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	_, rawSub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	must(t, c.EnsureSubscription(ctx, pubsub.SubscriptionConfig{Name: rawSub + "-2", Topic: topic}))
	p, err := c.Publisher(pubsub.PublishConfig{KeyAttribute: "k"})
	must(t, err)
	defer p.Close()
	tp, err := p.Topic(topic)
	must(t, err)
	must(t, tp.Publish(ctx, broker.OutboundMessage{Key: "alice", Data: []byte("m"), Attributes: map[string]any{"a": 1}}))

	cons, err := c.Subscribe(ctx, sub, pubsub.ReceiveConfig{KeyAttribute: "k"})
	must(t, err)
	defer cons.Close()
	m, err := cons.NextMessage(ctx)
	must(t, err)
	m.Ack()
	if m.Key != "alice" || fmt.Sprint(m.Attributes) != "map[a:1]" {
		t.Errorf("with KeyAttribute: key %q attributes %v, want alice and map[a:1]", m.Key, m.Attributes)
	}
	plain, err := c.Subscribe(ctx, rawSub+"-2", pubsub.ReceiveConfig{})
	must(t, err)
	defer plain.Close()
	m, err = plain.NextMessage(ctx)
	must(t, err)
	m.Ack()
	if m.Key != "" || fmt.Sprint(m.Attributes) != "map[a:1 k:alice]" {
		t.Errorf("without KeyAttribute: key %q attributes %v, want no key and map[a:1 k:alice]", m.Key, m.Attributes)
	}

	if err := tp.Publish(ctx, broker.OutboundMessage{Key: "x", Attributes: map[string]any{"k": "taken"}}); !errors.Is(err, broker.ErrInvalidAttribute) {
		t.Errorf("attribute named like KeyAttribute: got %v, want ErrInvalidAttribute", err)
	}
	if _, err := c.Publisher(pubsub.PublishConfig{KeyAttribute: "googkey"}); !errors.Is(err, broker.ErrInvalidOption) {
		t.Errorf("reserved KeyAttribute: got %v, want ErrInvalidOption", err)
	}
	if _, err := c.Subscribe(ctx, sub, pubsub.ReceiveConfig{KeyAttribute: strings.Repeat("k", 300)}); !errors.Is(err, broker.ErrInvalidOption) {
		t.Errorf("overlong KeyAttribute: got %v, want ErrInvalidOption", err)
	}
}

func TestAPanickingHandlerHasItsMessageNackedAndReceiveGoesOn(t *testing.T) {
	c := newClient(t, newServer(t))
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	publishAll(t, c, topic, broker.OutboundMessage{Data: []byte("m")})
	var reported []error
	var mu sync.Mutex
	r, err := c.Receiver(ctx, sub, pubsub.ReceiveConfig{OnError: func(err error) {
		mu.Lock()
		reported = append(reported, err)
		mu.Unlock()
	}})
	must(t, err)
	calls := 0
	// receiveN counts the calls that returned: the second, on redelivery.
	receiveN(t, ctx, r, 1, func(m broker.Message) {
		calls++
		if calls == 1 {
			panic("boom")
		}
		must(t, m.AckContext(ctx))
	})
	var pe *broker.PanicError
	if len(reported) != 1 || !errors.As(reported[0], &pe) || pe.Value != "boom" || len(pe.Stack) == 0 {
		t.Errorf("reported %v, want one *broker.PanicError with boom and a stack", reported)
	}
}
