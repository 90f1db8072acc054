package pubsub_test

import (
	"errors"
	"testing"

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
