package pubsub_test

import (
	"context"
	"errors"
	"testing"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pubsub"
)

// broker.Receiver: Receive "returns nil after ctx is canceled". A Receive
// whose ctx ended before it started returned ctx's error, and a Consumer
// closed while its first NextMessage waited then reported that
// context.Canceled instead of broker.ErrClosed.
func TestReceiveWithAnEndedContextReturnsNil(t *testing.T) {
	c := newClient(t, newServer(t))
	ctx := testCtx(t)
	_, sub := topicAndSub(t, c, pubsub.SubscriptionConfig{})
	r, err := c.Receiver(ctx, sub, pubsub.ReceiveConfig{})
	must(t, err)
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := r.Receive(done, func(context.Context, broker.Message) {}); err != nil {
		t.Errorf("Receive with a canceled ctx: got %v, want nil", err)
	}

	for i := range 20 {
		cons, err := c.Subscribe(ctx, sub, pubsub.ReceiveConfig{})
		must(t, err)
		errc := make(chan error, 1)
		go func() {
			_, err := cons.NextMessage(ctx)
			errc <- err
		}()
		must(t, cons.Close())
		if err := <-errc; !errors.Is(err, broker.ErrClosed) {
			t.Fatalf("round %d: NextMessage pending during Close: got %v, want ErrClosed", i, err)
		}
	}
}
