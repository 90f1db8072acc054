package jetstream_test

import (
	"errors"
	"strings"
	"testing"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/jetstream"
)

func TestBadInputFailsWithTheRightSentinel(t *testing.T) {
	c := connect(t, shared.URL())
	ctx := testCtx(t)
	subject, stream := uniqueSubject("bad")
	createStream(t, c, stream, subject)
	pub := c.Publisher(jetstream.PublisherConfig{})
	t.Cleanup(func() { _ = pub.Close() })

	t.Run("subjects with spaces or wildcards", func(t *testing.T) {
		for _, s := range []string{"", "a b", "orders.*", "orders.>", "a..b", ".a", "a.", "tab\there", "new\nline", "$JS.API.STREAM.DELETE." + stream, "$SYS.REQ.SERVER.PING"} {
			if _, err := pub.Topic(s); !errors.Is(err, broker.ErrInvalidTopic) {
				t.Errorf("Topic(%q): got %v, want an error matching broker.ErrInvalidTopic", s, err)
			}
		}
		for _, s := range []string{"a b", "a..b", "orders.>.x"} {
			_, err := c.Subscribe(ctx, jetstream.QueueConfig{Subject: s, Consumer: "c"})
			if !errors.Is(err, broker.ErrInvalidTopic) {
				t.Errorf("Subscribe(%q): got %v, want an error matching broker.ErrInvalidTopic", s, err)
			}
		}
		for _, name := range []string{"", "with.dot", "with space", "star*"} {
			_, err := c.Subscribe(ctx, jetstream.QueueConfig{Subject: subject, Consumer: name})
			if !errors.Is(err, broker.ErrInvalidTopic) {
				t.Errorf("Subscribe with consumer name %q: got %v, want an error matching broker.ErrInvalidTopic", name, err)
			}
			_, err = c.JoinLog(ctx, jetstream.LogConfig{Subject: subject, Group: name})
			if !errors.Is(err, broker.ErrInvalidTopic) {
				t.Errorf("JoinLog with group %q: got %v, want an error matching broker.ErrInvalidTopic", name, err)
			}
		}
	})

	tp, err := pub.Topic(subject)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("attributes", func(t *testing.T) {
		for name, attrs := range map[string]map[string]any{
			"nil value":             {"k": nil},
			"unsupported type":      {"k": struct{}{}},
			"empty key":             {"": "v"},
			"key with a colon":      {"a:b": "v"},
			"key with a space":      {"a b": "v"},
			"key with a newline":    {"a\nb": "v"},
			"reserved Pullkit- key": {"Pullkit-Key": "v"},
		} {
			err := tp.Publish(ctx, broker.OutboundMessage{Data: []byte("x"), Attributes: attrs})
			if !errors.Is(err, broker.ErrInvalidAttribute) {
				t.Errorf("Publish with %s: got %v, want an error matching broker.ErrInvalidAttribute", name, err)
			}
			err = tp.BatchPublish(ctx, broker.OutboundMessage{Data: []byte("ok")}, broker.OutboundMessage{Data: []byte("x"), Attributes: attrs})
			var be *broker.BatchError
			if !errors.As(err, &be) || !errors.Is(err, broker.ErrInvalidAttribute) || len(be.Indexes(broker.PublishFailed)) != 2 {
				t.Errorf("BatchPublish with %s: got %v, want a *broker.BatchError failing both messages", name, err)
			}
		}
	})

	t.Run("message over the server's max payload", func(t *testing.T) {
		limit := int(c.Conn().MaxPayload())
		err := tp.Publish(ctx, broker.OutboundMessage{Data: make([]byte, limit+1)})
		if !errors.Is(err, broker.ErrMessageTooLarge) {
			t.Errorf("Publish of %d bytes: got %v, want an error matching broker.ErrMessageTooLarge", limit+1, err)
		}
		// Headers count: a payload that fits alone does not with a big attribute.
		err = tp.Publish(ctx, broker.OutboundMessage{Data: make([]byte, limit-10), Attributes: map[string]any{"big": strings.Repeat("x", 100)}})
		if !errors.Is(err, broker.ErrMessageTooLarge) {
			t.Errorf("Publish of a payload plus headers over the limit: got %v, want an error matching broker.ErrMessageTooLarge", err)
		}
	})

	t.Run("missing stream", func(t *testing.T) {
		missing, missingStream := uniqueSubject("missing")
		mt, err := pub.Topic(missing)
		if err != nil {
			t.Fatal(err)
		}
		if err := mt.Publish(ctx, broker.OutboundMessage{Data: []byte("x")}); !errors.Is(err, broker.ErrNotFound) {
			t.Errorf("Publish without a stream: got %v, want an error matching broker.ErrNotFound", err)
		}
		err = mt.BatchPublish(ctx, broker.OutboundMessage{Data: []byte("x")}, broker.OutboundMessage{Data: []byte("y")})
		var be *broker.BatchError
		if !errors.As(err, &be) || !errors.Is(err, broker.ErrNotFound) || len(be.Indexes(broker.PublishFailed)) != 2 {
			t.Errorf("BatchPublish without a stream: got %v, want a *broker.BatchError failing both with broker.ErrNotFound", err)
		}
		if _, err := c.Subscribe(ctx, jetstream.QueueConfig{Subject: missing, Consumer: "c"}); !errors.Is(err, broker.ErrNotFound) {
			t.Errorf("Subscribe without a stream: got %v, want an error matching broker.ErrNotFound", err)
		}
		if _, err := c.JoinLog(ctx, jetstream.LogConfig{Stream: missingStream, Group: "g"}); !errors.Is(err, broker.ErrNotFound) {
			t.Errorf("JoinLog on a missing stream: got %v, want an error matching broker.ErrNotFound", err)
		}
		if _, err := c.Subscribe(ctx, jetstream.QueueConfig{Subject: subject, Consumer: "never-created", Bind: true}); !errors.Is(err, broker.ErrNotFound) {
			t.Errorf("Bind to a missing consumer: got %v, want an error matching broker.ErrNotFound", err)
		}
	})

	t.Run("bad options", func(t *testing.T) {
		for name, cfg := range map[string]jetstream.QueueConfig{
			"negative ack wait":     {Subject: subject, Consumer: "c", AckWait: -1},
			"negative max delivers": {Subject: subject, Consumer: "c", Poison: broker.PoisonPolicy{MaxDeliveries: -1}},
		} {
			if _, err := c.Subscribe(ctx, cfg); !errors.Is(err, broker.ErrInvalidOption) {
				t.Errorf("%s: got %v, want an error matching broker.ErrInvalidOption", name, err)
			}
		}
		q, err := c.Subscribe(ctx, jetstream.QueueConfig{Subject: subject, Consumer: "fixed", DeliverPolicy: natsjs.DeliverNewPolicy})
		if err != nil {
			t.Fatal(err)
		}
		_ = q.Close()
		_, err = c.Subscribe(ctx, jetstream.QueueConfig{Subject: subject, Consumer: "fixed", DeliverPolicy: natsjs.DeliverAllPolicy})
		if !errors.Is(err, broker.ErrInvalidOption) {
			t.Errorf("changing an existing consumer's deliver policy: got %v, want an error matching broker.ErrInvalidOption", err)
		}
		_, err = c.Subscribe(ctx, jetstream.QueueConfig{Subject: subject, Consumer: "c",
			Poison: broker.PoisonPolicy{MaxDeliveries: 2, DeadLetterTopic: "dead.*"}})
		if !errors.Is(err, broker.ErrInvalidTopic) {
			t.Errorf("a wildcard dead-letter subject: got %v, want an error matching broker.ErrInvalidTopic", err)
		}
	})
}
