package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pubsub"
)

// A failed message pauses its ordering key in the library, which then
// fails the key's later messages instead of sending them after the gap. A
// BatchPublish must report those as failed, and none of them may reach the
// subscription: the backend resumed the key as soon as it saw the failure,
// while the library was still sending the batch's later messages, so they
// could be published after the hole (order broken, reported Sent).
func TestBatchPublishFailureFailsTheKeysLaterMessagesAndPublishesNoneOfThem(t *testing.T) {
	srv := newServer(t, pstest.ServerReactorOption{FuncName: "Publish", Reactor: &refusePublish{}})
	c := newClient(t, srv)
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{Ordering: true})
	// One message per request, so the later ones are separate requests
	// that wait behind the refused one.
	p, err := c.Publisher(pubsub.PublishConfig{CountThreshold: 1})
	must(t, err)
	defer p.Close()
	tp, err := p.Topic(topic)
	must(t, err)

	const rounds, later = 5, 8
	for round := range rounds {
		msgs := []broker.OutboundMessage{
			{Key: "k", Data: fmt.Appendf(nil, "first-%d", round)},
			{Key: "k", Data: []byte(failData)},
		}
		for i := range later {
			msgs = append(msgs, broker.OutboundMessage{Key: "k", Data: fmt.Appendf(nil, "later-%d-%d", round, i)})
		}
		err := tp.BatchPublish(ctx, msgs...)
		var be *broker.BatchError
		if !errors.As(err, &be) {
			t.Fatalf("round %d: got %v, want a *broker.BatchError", round, err)
		}
		for i, st := range be.Status {
			want := broker.PublishFailed
			if i == 0 {
				want = broker.PublishSent
			}
			if st != want {
				t.Errorf("round %d: message %d (%s): status %v (%v), want %v", round, i, msgs[i].Data, st, be.Errs[i], want)
			}
		}
	}
	// The key works again once the batch reported its failures.
	must(t, tp.Publish(ctx, broker.OutboundMessage{Key: "k", Data: []byte("after")}))

	cons, err := c.Subscribe(ctx, sub, pubsub.ReceiveConfig{})
	must(t, err)
	defer cons.Close()
	var got []string
	for {
		m, err := nextWithin(cons, time.Second)
		if err != nil {
			break
		}
		got = append(got, string(m.Data))
		m.Ack()
	}
	want := "[first-0 first-1 first-2 first-3 first-4 after]"
	if fmt.Sprint(got) != want {
		t.Errorf("received %v, want %v", got, want)
	}
}

// slowRefusal answers a Publish request carrying slowFailData with an
// error, late.
type slowRefusal struct{}

const slowFailData = "refuse-me-late"

func (slowRefusal) React(req any) (bool, any, error) {
	for _, m := range req.(*pb.PublishRequest).Messages {
		if string(m.Data) == slowFailData {
			time.Sleep(300 * time.Millisecond)
			return true, nil, status.Error(codes.FailedPrecondition, "injected late fault")
		}
	}
	return false, nil, nil
}

// A Publish whose ctx ends before its message fails left the key paused
// for good: only a reported failure resumed it, so every later message of
// the key failed with the library's ErrPublishingPaused.
func TestAKeyWhoseFailureNobodyWaitedForIsResumed(t *testing.T) {
	srv := newServer(t, pstest.ServerReactorOption{FuncName: "Publish", Reactor: slowRefusal{}})
	c := newClient(t, srv)
	ctx := testCtx(t)
	topic, _ := topicAndSub(t, c, pubsub.SubscriptionConfig{Ordering: true})
	p, err := c.Publisher(pubsub.PublishConfig{})
	must(t, err)
	defer p.Close()
	tp, err := p.Topic(topic)
	must(t, err)

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := tp.Publish(short, broker.OutboundMessage{Key: "k", Data: []byte(slowFailData)}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Publish with a short ctx: got %v, want DeadlineExceeded", err)
	}
	time.Sleep(500 * time.Millisecond) // the refusal arrives meanwhile
	must(t, tp.Publish(ctx, broker.OutboundMessage{Key: "k", Data: []byte("next")}))

	// Same with a batch that gave up waiting.
	short, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = tp.BatchPublish(short,
		broker.OutboundMessage{Key: "b", Data: []byte(slowFailData)},
		broker.OutboundMessage{Key: "b", Data: []byte("behind")})
	var be *broker.BatchError
	if !errors.As(err, &be) || fmt.Sprint(be.Status) != "[unknown unknown]" {
		t.Fatalf("BatchPublish with a short ctx: got %v, want both unknown", err)
	}
	time.Sleep(500 * time.Millisecond)
	must(t, tp.Publish(ctx, broker.OutboundMessage{Key: "b", Data: []byte("next")}))
}
