package pubsub_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pubsub"
)

// Acking first and then doing long work is how Pub/Sub users keep a
// message from coming back while they work past the lease horizon. An Ack
// made during the handler call was held until the call returned, so for
// a handler that went on for long (or for ever) the ack never reached
// Pub/Sub, and the message came back after MaxExtension although acked.
// The same for Nack: the message was not redelivered while the handler
// went on.
func TestAnAckOrNackMadeDuringALongHandlerCallReachesPubSubWhileItRuns(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	publishAll(t, c, topic, broker.OutboundMessage{Data: []byte("ack")}, broker.OutboundMessage{Data: []byte("nack")})
	r, err := c.Receiver(ctx, sub, pubsub.ReceiveConfig{})
	must(t, err)

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	release := make(chan struct{})
	settled := make(chan string, 2)
	var nacks atomic.Int32
	errc := make(chan error, 1)
	go func() {
		errc <- r.Receive(rctx, func(_ context.Context, m broker.Message) {
			switch string(m.Data) {
			case "ack":
				m.Ack()
				settled <- m.ID
				<-release // long work after the ack
			case "nack":
				if nacks.Add(1) == 1 {
					m.Nack()
					settled <- m.ID
					<-release
					return
				}
				m.Ack()
				close(release) // redelivered while the first call still runs
			}
		})
	}()
	var ackedID string
	for range 2 {
		select {
		case id := <-settled:
			if srv.Message(id).Data != nil && string(srv.Message(id).Data) == "ack" {
				ackedID = id
			}
		case <-ctx.Done():
			t.Fatal("handler not called")
		}
	}
	acked := false
	for !acked && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		acked = srv.Message(ackedID).Acks == 1
	}
	if !acked {
		t.Error("the ack made before the long work never reached the server")
	}
	select {
	case <-release:
	case <-ctx.Done():
		t.Error("the nacked message was not redelivered while its handler call went on")
		close(release)
	}
	cancel()
	must(t, <-errc)
}

// An Ack made during the handler call is neither lost nor turned into a
// nack when Receive shuts down before the call returns.
func TestAnAckMadeBeforeShutdownIsSentWhenTheHandlerCallReturnsDuringIt(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	topic, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	publishAll(t, c, topic, broker.OutboundMessage{Data: []byte("m")})
	r, err := c.Receiver(ctx, sub, pubsub.ReceiveConfig{})
	must(t, err)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var id string
	must(t, r.Receive(rctx, func(hctx context.Context, m broker.Message) {
		id = m.ID
		m.Ack()
		cancel()      // shutdown starts while the call runs
		<-hctx.Done() // and has begun when it returns
	}))
	if got := srv.Message(id); got == nil || got.Acks != 1 {
		t.Errorf("server state %+v, want acked once", got)
	}
	for _, ma := range srv.Message(id).Modacks {
		if ma.AckDeadline == 0 {
			t.Errorf("the acked message was also nacked: %+v", srv.Message(id).Modacks)
		}
	}
}
