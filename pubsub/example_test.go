package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pubsub"
)

// exampleClient connects to a pstest server in process; a real program
// passes credentials in Config.ClientOptions, or sets PUBSUB_EMULATOR_HOST.
func exampleClient(ctx context.Context) (*pubsub.Client, func()) {
	srv := pstest.NewServer()
	c, err := pubsub.NewClient(ctx, pubsub.Config{ProjectID: "example", ClientOptions: pstestOptions(srv)})
	if err != nil {
		log.Fatal(err)
	}
	return c, func() { c.Close(); srv.Close() }
}

// Publish a message and a batch, then read them one at a time with a
// Consumer, nacking one so that it comes back.
func ExampleClient_Subscribe() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, done := exampleClient(ctx)
	defer done()
	if err := c.EnsureTopic(ctx, "orders"); err != nil {
		log.Fatal(err)
	}
	// A dead-letter policy makes Pub/Sub count deliveries.
	if err := c.EnsureTopic(ctx, "orders-dead"); err != nil {
		log.Fatal(err)
	}
	if err := c.EnsureSubscription(ctx, pubsub.SubscriptionConfig{Name: "billing", Topic: "orders", DeadLetterTopic: "orders-dead"}); err != nil {
		log.Fatal(err)
	}

	pub, err := c.Publisher(pubsub.PublishConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	topic, err := pub.Topic("orders")
	if err != nil {
		log.Fatal(err)
	}
	if err := topic.Publish(ctx, broker.OutboundMessage{Key: "alice", Data: []byte("order-1"), Attributes: map[string]any{"qty": 2}}); err != nil {
		log.Fatal(err)
	}

	cons, err := c.Subscribe(ctx, "billing", pubsub.ReceiveConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer cons.Close()
	for range 2 {
		m, err := cons.NextMessage(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s key=%s qty=%q delivery=%d\n", m.Data, m.Key, m.Attributes["qty"], m.DeliveryCount)
		if m.DeliveryCount == 1 {
			m.Nack() // comes back
			continue
		}
		if err := m.AckContext(ctx); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// order-1 key=alice qty="2" delivery=1
	// order-1 key=alice qty="2" delivery=2
}

// Attribute values that Pub/Sub cannot carry are refused before anything
// is sent.
func ExampleTopic_BatchPublish() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, done := exampleClient(ctx)
	defer done()
	if err := c.EnsureTopic(ctx, "orders"); err != nil {
		log.Fatal(err)
	}
	pub, err := c.Publisher(pubsub.PublishConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	topic, err := pub.Topic("orders")
	if err != nil {
		log.Fatal(err)
	}
	err = topic.BatchPublish(ctx,
		broker.OutboundMessage{Data: []byte("fine")},
		broker.OutboundMessage{Data: []byte("bad"), Attributes: map[string]any{"googflag": "x"}},
	)
	var be *broker.BatchError
	if errors.As(err, &be) {
		fmt.Println("failed:", be.Indexes(broker.PublishFailed), errors.Is(err, broker.ErrInvalidAttribute))
	}
	// Output:
	// failed: [0 1] true
}

// A Receiver runs the handler for each message until ctx ends; messages
// still unsettled then are nacked.
func ExampleReceiver_Receive() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, done := exampleClient(ctx)
	defer done()
	if err := c.EnsureTopic(ctx, "events"); err != nil {
		log.Fatal(err)
	}
	if err := c.EnsureSubscription(ctx, pubsub.SubscriptionConfig{Name: "audit", Topic: "events"}); err != nil {
		log.Fatal(err)
	}
	pub, err := c.Publisher(pubsub.PublishConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	topic, err := pub.Topic("events")
	if err != nil {
		log.Fatal(err)
	}
	if err := topic.Publish(ctx, broker.OutboundMessage{Data: []byte("login")}); err != nil {
		log.Fatal(err)
	}

	r, err := c.Receiver(ctx, "audit", pubsub.ReceiveConfig{})
	if err != nil {
		log.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	err = r.Receive(rctx, func(ctx context.Context, m broker.Message) {
		fmt.Printf("handled %s\n", m.Data)
		m.Ack()
		stop()
	})
	fmt.Println("Receive returned", err)
	// Output:
	// handled login
	// Receive returned <nil>
}

// NextBatch hands out what arrived, up to MaxBatch messages, for bulk work.
func ExampleConsumer_NextBatch() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, done := exampleClient(ctx)
	defer done()
	if err := c.EnsureTopic(ctx, "rows"); err != nil {
		log.Fatal(err)
	}
	if err := c.EnsureSubscription(ctx, pubsub.SubscriptionConfig{Name: "loader", Topic: "rows"}); err != nil {
		log.Fatal(err)
	}
	pub, err := c.Publisher(pubsub.PublishConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	topic, err := pub.Topic("rows")
	if err != nil {
		log.Fatal(err)
	}
	var rows []broker.OutboundMessage
	for i := range 5 {
		rows = append(rows, broker.OutboundMessage{Data: fmt.Appendf(nil, "row-%d", i)})
	}
	if err := topic.BatchPublish(ctx, rows...); err != nil {
		log.Fatal(err)
	}

	cons, err := c.Subscribe(ctx, "loader", pubsub.ReceiveConfig{MaxBatch: 3})
	if err != nil {
		log.Fatal(err)
	}
	defer cons.Close()
	loaded := 0
	for loaded < len(rows) {
		batch, err := cons.NextBatch(ctx)
		if err != nil {
			log.Fatal(err)
		}
		if len(batch) > 3 {
			log.Fatalf("batch of %d", len(batch))
		}
		for _, m := range batch {
			m.Ack() // after the bulk write succeeded
		}
		loaded += len(batch)
	}
	fmt.Println("loaded", loaded, "rows")
	// Output:
	// loaded 5 rows
}
