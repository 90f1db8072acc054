package pubsub_test

import (
	"errors"
	"testing"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pubsub"
)

// Pub/Sub attributes and ordering keys are protobuf strings, which must be
// valid UTF-8: the library cannot even encode a request holding one that
// is not, so that request fails for every message batched with it.
func TestInvalidUTF8IsRefusedBeforeSending(t *testing.T) {
	c := newClient(t, newServer(t))
	ctx := testCtx(t)
	topic, _ := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	p, err := c.Publisher(pubsub.PublishConfig{})
	must(t, err)
	defer p.Close()
	tp, err := p.Topic(topic)
	must(t, err)
	bad := string([]byte{0xff, 0xfe})
	for name, m := range map[string]broker.OutboundMessage{
		"attribute value": {Data: []byte("x"), Attributes: map[string]any{"a": bad}},
		"attribute key":   {Data: []byte("x"), Attributes: map[string]any{bad: "v"}},
		"key":             {Data: []byte("x"), Key: bad},
	} {
		if err := tp.Publish(ctx, m); !errors.Is(err, broker.ErrInvalidAttribute) {
			t.Errorf("%s not UTF-8: Publish got %v, want ErrInvalidAttribute", name, err)
		}
		err := tp.BatchPublish(ctx, broker.OutboundMessage{Data: []byte("ok")}, m)
		var be *broker.BatchError
		if !errors.As(err, &be) || !errors.Is(be.Errs[1], broker.ErrInvalidAttribute) {
			t.Errorf("%s not UTF-8: BatchPublish got %v, want a BatchError with ErrInvalidAttribute for message 1", name, err)
		}
	}
	kp, err := c.Publisher(pubsub.PublishConfig{KeyAttribute: "k"})
	must(t, err)
	defer kp.Close()
	ktp, err := kp.Topic(topic)
	must(t, err)
	if err := ktp.Publish(ctx, broker.OutboundMessage{Data: []byte("x"), Key: bad}); !errors.Is(err, broker.ErrInvalidAttribute) {
		t.Errorf("key not UTF-8 in KeyAttribute: Publish got %v, want ErrInvalidAttribute", err)
	}
}

// The library refuses a message whose encoded size leaves no room in a
// 10 MB publish request for the topic's name; the backend checked the
// message against 10 MB alone, so such a message passed the check, and a
// BatchPublish holding it sent the batch's other messages: a half-publish.
func TestAMessageTheLibraryWouldRefuseFailsTheWholeBatchBeforeSending(t *testing.T) {
	c := newClient(t, newServer(t))
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	p, err := c.Publisher(pubsub.PublishConfig{})
	must(t, err)
	defer p.Close()
	tp, err := p.Topic(topic)
	must(t, err)
	// Encoded: 1 tag byte, 4 length bytes, the data: 10 bytes under 10 MB.
	big := broker.OutboundMessage{Data: make([]byte, pubsub.MaxMessageSize-15)}
	if err := tp.Publish(ctx, big); !errors.Is(err, broker.ErrMessageTooLarge) {
		t.Errorf("Publish: got %v, want ErrMessageTooLarge", err)
	}
	err = tp.BatchPublish(ctx, broker.OutboundMessage{Data: []byte("small")}, big)
	var be *broker.BatchError
	if !errors.As(err, &be) || be.Status[0] != broker.PublishFailed || !errors.Is(be.Errs[1], broker.ErrMessageTooLarge) {
		t.Fatalf("BatchPublish: got %v, want a BatchError failing both, message 1 with ErrMessageTooLarge", err)
	}
	cons, err := c.Subscribe(ctx, sub, pubsub.ReceiveConfig{})
	must(t, err)
	defer cons.Close()
	if m, err := nextWithin(cons, 500*time.Millisecond); err == nil {
		t.Errorf("message %q of a refused batch was published", m.Data)
	}

	// The boundary is the library's: the largest message the backend
	// accepts, the library does not refuse (pstest's gRPC server then
	// refuses the 10 MB request: its receive limit is 4 MB).
	// A short Timeout: the library retries the refused request until then.
	ep, err := c.Publisher(pubsub.PublishConfig{Timeout: 200 * time.Millisecond})
	must(t, err)
	defer ep.Close()
	etp, err := ep.Topic(topic)
	must(t, err)
	path := "projects/" + project + "/topics/" + topic
	limit := gpubsub.MaxPublishRequestBytes - (1 + 1 + len(path)) - 5
	edge := broker.OutboundMessage{Data: make([]byte, limit-5)}
	err = etp.Publish(ctx, edge)
	if errors.Is(err, broker.ErrMessageTooLarge) || errors.Is(err, gpubsub.ErrOversizedMessage) {
		t.Errorf("Publish of the largest message: got %v, want no size refusal", err)
	}
	edge.Data = append(edge.Data, 0)
	if err := etp.Publish(ctx, edge); !errors.Is(err, broker.ErrMessageTooLarge) || errors.Is(err, gpubsub.ErrOversizedMessage) {
		t.Errorf("Publish of one byte more: got %v, want the backend's ErrMessageTooLarge", err)
	}
}
