package pulsar_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pulsar"
)

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestInvalidTopicNamesAreRefusedWithErrInvalidTopic(t *testing.T) {
	tg := targets(t)[0]
	c := tg.newClient(t)
	ctx := ctxFor(t)
	pub, err := c.Publisher(pulsar.PublisherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	for _, name := range []string{
		"", "two words", "tab\there", "a/b", "a/b/c/d/", "http://public/default/x",
		"persistent://public", "persistent://pub lic/default/x", "public/default/", "bad$tenant/ns/x",
	} {
		if _, err := pub.Topic(name); !errors.Is(err, broker.ErrInvalidTopic) {
			t.Errorf("Topic(%q): got %v, want ErrInvalidTopic", name, err)
		}
		if _, err := c.Subscribe(ctx, name, "sub", pulsar.QueueConfig{}); !errors.Is(err, broker.ErrInvalidTopic) {
			t.Errorf("Subscribe(%q): got %v, want ErrInvalidTopic", name, err)
		}
		if _, err := c.JoinGroup(ctx, name, "group", pulsar.LogConfig{}); !errors.Is(err, broker.ErrInvalidTopic) {
			t.Errorf("JoinGroup(%q): got %v, want ErrInvalidTopic", name, err)
		}
	}
	for _, sub := range []string{"", "a b", "new\nline"} {
		if _, err := c.Subscribe(ctx, "fine", sub, pulsar.QueueConfig{}); !errors.Is(err, broker.ErrInvalidTopic) {
			t.Errorf("Subscribe with subscription %q: got %v, want ErrInvalidTopic", sub, err)
		}
	}
	for _, name := range []string{"orders", "public/default/orders", "persistent://public/default/orders",
		"non-persistent://public/default/orders", "my-tenant/ns.1/a:b=c"} {
		if _, err := pub.Topic(name); err != nil {
			t.Errorf("Topic(%q): %v", name, err)
		}
	}
}

func TestBadMessagesAreRefusedBeforeAnythingIsSent(t *testing.T) {
	tg := targets(t)[0]
	c := tg.newClient(t)
	ctx := ctxFor(t)
	topicName := uniqueTopic("bad-input")
	sub, err := c.Subscribe(ctx, topicName, "sub", pulsar.QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	pub, err := c.Publisher(pulsar.PublisherConfig{MaxMessageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	topic, err := pub.Topic(topicName)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		msg  broker.OutboundMessage
		want error
	}{
		{broker.OutboundMessage{Attributes: map[string]any{"k": nil}}, broker.ErrInvalidAttribute},
		{broker.OutboundMessage{Attributes: map[string]any{"k": struct{}{}}}, broker.ErrInvalidAttribute},
		{broker.OutboundMessage{Attributes: map[string]any{"": "v"}}, broker.ErrInvalidAttribute},
		{broker.OutboundMessage{Data: make([]byte, 1001)}, broker.ErrMessageTooLarge},
		// Attributes and key count towards the size too.
		{broker.OutboundMessage{Data: make([]byte, 900), Key: strings.Repeat("k", 50),
			Attributes: map[string]any{"a": strings.Repeat("v", 60)}}, broker.ErrMessageTooLarge},
	}
	for i, tc := range cases {
		if err := topic.Publish(ctx, tc.msg); !errors.Is(err, tc.want) {
			t.Errorf("case %d: Publish: got %v, want %v", i, err, tc.want)
		}
		err := topic.BatchPublish(ctx, broker.OutboundMessage{Data: []byte("fine")}, tc.msg)
		var be *broker.BatchError
		if !errors.As(err, &be) || !errors.Is(err, tc.want) || len(be.Indexes(broker.PublishFailed)) != 2 {
			t.Errorf("case %d: BatchPublish: got %v, want a BatchError failing both, matching %v", i, err, tc.want)
		}
	}
	// Nothing arrived: the next message is the marker.
	if err := topic.Publish(ctx, broker.OutboundMessage{Data: []byte("marker")}); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != "marker" {
		t.Fatalf("got %q, want the marker: a refused message was sent", m.Data)
	}
	m.Ack()
}

func TestMessagesBeyondTheBrokersLimitFailWithErrMessageTooLarge(t *testing.T) {
	// The publisher allows more than pulsartest's 5 MiB; the client, which
	// learned the broker's limit when it connected, refuses the message.
	tg := targets(t)[0]
	c := tg.newClient(t)
	ctx := ctxFor(t)
	pub, err := c.Publisher(pulsar.PublisherConfig{MaxMessageSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	topic, err := pub.Topic(uniqueTopic("too-large"))
	if err != nil {
		t.Fatal(err)
	}
	big := broker.OutboundMessage{Data: make([]byte, pulsar.DefaultMaxMessageSize+1)}
	if err := topic.Publish(ctx, big); !errors.Is(err, broker.ErrMessageTooLarge) {
		t.Errorf("Publish: got %v, want ErrMessageTooLarge", err)
	}
	err = topic.BatchPublish(ctx, broker.OutboundMessage{Data: []byte("ok")}, big)
	var be *broker.BatchError
	if !errors.As(err, &be) || !errors.Is(err, broker.ErrMessageTooLarge) ||
		be.Status[0] != broker.PublishSent || be.Status[1] != broker.PublishFailed {
		t.Errorf("BatchPublish: got %v, want the small one sent and the big one failed with ErrMessageTooLarge", err)
	}
}

func TestAttributesArriveAsStrings(t *testing.T) {
	tg := targets(t)[0]
	c := tg.newClient(t)
	ctx := ctxFor(t)
	name := uniqueTopic("attrs")
	sub, err := c.Subscribe(ctx, name, "sub", pulsar.QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	pub, err := c.Publisher(pulsar.PublisherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	topic, err := pub.Topic(name)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))
	attrs := map[string]any{
		"s": "text", "b": []byte{0xff, 0}, "t": true, "i": -7, "u8": uint8(200), "f": 1.5,
		"f32": float32(0.1), "at": at, "d": 1500 * time.Millisecond,
	}
	want := map[string]string{
		"s": "text", "b": "/wA=", "t": "true", "i": "-7", "u8": "200", "f": "1.5",
		"f32": "0.1", "at": "2026-01-02T02:04:05.000000006Z", "d": "1.5s",
	}
	if err := topic.Publish(ctx, broker.OutboundMessage{Key: "k", Data: []byte("x"), Attributes: attrs}); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Ack()
	if m.Key != "k" || len(m.Attributes) != len(want) {
		t.Fatalf("got key %q attributes %v", m.Key, m.Attributes)
	}
	for k, v := range want {
		if m.Attributes[k] != v {
			t.Errorf("attribute %q = %#v, want %q", k, m.Attributes[k], v)
		}
	}
}

func TestConfigErrorsAndSecretsStayOutOfErrors(t *testing.T) {
	if _, err := pulsar.NewClient(pulsar.Config{}); !errors.Is(err, broker.ErrInvalidOption) {
		t.Errorf("no URL: got %v, want ErrInvalidOption", err)
	}
	if _, err := pulsar.NewClient(pulsar.Config{URL: "pulsar://127.0.0.1:1", Token: "t",
		OAuth2: map[string]string{"type": "client_credentials"}}); !errors.Is(err, broker.ErrInvalidOption) {
		t.Errorf("two authentications: got %v, want ErrInvalidOption", err)
	}
	// A token the broker never sees: nothing listens on the port. The
	// subscribe fails, and its error must not carry the token.
	const secret = "s3cr3t-t0ken-value"
	c, err := pulsar.NewClient(pulsar.Config{URL: "pulsar://127.0.0.1:1", Token: secret,
		OperationTimeout: 300 * time.Millisecond, ConnectionTimeout: 100 * time.Millisecond,
		ClientOptions: targets(t)[0].config().ClientOptions})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Subscribe(ctxFor(t), "t", "s", pulsar.QueueConfig{})
	if err == nil {
		t.Fatal("Subscribe to a closed port succeeded")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q contains the token", err)
	}
	pub, err := c.Publisher(pulsar.PublisherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if _, err := pub.Topic("t"); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("Topic on a closed port: %v", err)
	}
}

func TestTokenAuthenticationReachesTheBroker(t *testing.T) {
	// pulsartest accepts any credentials; this checks that a configured
	// token does not stop the client from working.
	tg := targets(t)[0]
	cfg := tg.config()
	cfg.Token = "any-token"
	c, err := pulsar.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxFor(t)
	name := uniqueTopic("token")
	sub, err := c.Subscribe(ctx, name, "sub", pulsar.QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	pub, err := c.Publisher(pulsar.PublisherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	topic, err := pub.Topic(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := topic.Publish(ctx, broker.OutboundMessage{Data: []byte("hi")}); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AckContext(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestBadConsumerAndPublisherConfigsFailWithErrInvalidOption(t *testing.T) {
	tg := targets(t)[0]
	c := tg.newClient(t)
	ctx := ctxFor(t)
	for name, cfg := range map[string]pulsar.QueueConfig{
		"negative batch":        {MaxBatch: -1},
		"negative queue size":   {ReceiverQueueSize: -1},
		"negative deadline":     {AckDeadline: -time.Second},
		"negative max delivery": {Poison: broker.PoisonPolicy{MaxDeliveries: -1}},
		"bad dead-letter topic": {Poison: broker.PoisonPolicy{DeadLetterTopic: "a b"}},
	} {
		if _, err := c.Subscribe(ctx, "t", "s", cfg); !errors.Is(err, broker.ErrInvalidOption) {
			t.Errorf("Subscribe with %s: %v, want ErrInvalidOption", name, err)
		}
	}
	if _, err := c.JoinGroup(ctx, "t", "g", pulsar.LogConfig{MaxBatch: -1}); !errors.Is(err, broker.ErrInvalidOption) {
		t.Errorf("JoinGroup with a negative batch: %v, want ErrInvalidOption", err)
	}
	if _, err := c.Publisher(pulsar.PublisherConfig{MaxMessageSize: -1}); !errors.Is(err, broker.ErrInvalidOption) {
		t.Errorf("Publisher with a negative size: %v, want ErrInvalidOption", err)
	}
}

func TestExclusiveLogRefusesASecondConsumer(t *testing.T) {
	tg := targets(t)[0]
	c := tg.newClient(t)
	ctx := ctxFor(t)
	name := uniqueTopic("exclusive")
	first, err := c.JoinGroup(ctx, name, "g", pulsar.LogConfig{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if second, err := c.JoinGroup(ctx, name, "g", pulsar.LogConfig{Exclusive: true}); err == nil {
		second.Close()
		t.Fatal("a second consumer joined an Exclusive subscription")
	}
}
