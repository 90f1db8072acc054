package pubsub_test

import (
	"errors"
	"testing"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pubsub"
)

// refuseEmpty does what Pub/Sub does and pstest does not: it refuses a
// request with a message that has neither data nor attributes (see
// pubsubpb.PubsubMessage: "The message must contain either a non-empty data
// field or at least one attribute").
type refuseEmpty struct{}

func (refuseEmpty) React(req any) (bool, any, error) {
	for _, m := range req.(*pb.PublishRequest).Messages {
		if len(m.Data) == 0 && len(m.Attributes) == 0 {
			return true, nil, status.Error(codes.InvalidArgument, "One or more messages in the publish request is empty. Each message must contain either non-empty data, or at least one attribute.")
		}
	}
	return false, nil, nil
}

// broker.OutboundMessage allows an empty payload (the conformance suite
// publishes one with only a Key), which Pub/Sub refuses unless the message
// has an attribute; the refusal failed the whole request, so every message
// batched with it too.
func TestAnEmptyMessageIsPublishedAndComesBackEmpty(t *testing.T) {
	srv := newServer(t, pstest.ServerReactorOption{FuncName: "Publish", Reactor: refuseEmpty{}})
	c := newClient(t, srv)
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	p, err := c.Publisher(pubsub.PublishConfig{})
	must(t, err)
	defer p.Close()
	tp, err := p.Topic(topic)
	must(t, err)
	must(t, tp.Publish(ctx, broker.OutboundMessage{Key: "k"}))
	must(t, tp.BatchPublish(ctx, broker.OutboundMessage{Data: []byte("x")}, broker.OutboundMessage{}))

	cons, err := c.Subscribe(ctx, sub, pubsub.ReceiveConfig{})
	must(t, err)
	defer cons.Close()
	empty := 0
	for range 3 {
		m, err := cons.NextMessage(ctx)
		must(t, err)
		m.Ack()
		if len(m.Data) == 0 {
			empty++
			if m.Attributes != nil {
				t.Errorf("empty message came back with attributes %v", m.Attributes)
			}
		}
	}
	if empty != 2 {
		t.Errorf("got %d empty messages, want 2", empty)
	}
	if err := tp.Publish(ctx, broker.OutboundMessage{Attributes: map[string]any{pubsub.EmptyAttribute: "1"}}); !errors.Is(err, broker.ErrInvalidAttribute) {
		t.Errorf("attribute named EmptyAttribute: got %v, want ErrInvalidAttribute", err)
	}
}
