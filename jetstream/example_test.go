package jetstream_test

import (
	"context"
	"fmt"
	"log"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/jetstream"
)

// exampleStream creates a stream for an example on the test server.
func exampleStream(ctx context.Context, c *jetstream.Client, name, subject string) {
	if _, err := c.JetStream().CreateStream(ctx, natsjs.StreamConfig{Name: name, Subjects: []string{subject}}); err != nil {
		log.Fatal(err)
	}
}

// A work queue: publish, pull, settle each message on its own.
func ExampleClient_Subscribe() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := jetstream.Connect(ctx, jetstream.Config{URLs: []string{shared.URL()}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	exampleStream(ctx, c, "EXAMPLE_ORDERS", "example.orders")
	defer c.JetStream().DeleteStream(context.Background(), "EXAMPLE_ORDERS")

	q, err := c.Subscribe(ctx, jetstream.QueueConfig{Subject: "example.orders", Consumer: "billing"})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()

	pub := c.Publisher(jetstream.PublisherConfig{})
	defer pub.Close()
	orders, err := pub.Topic("example.orders")
	if err != nil {
		log.Fatal(err)
	}
	err = orders.BatchPublish(ctx,
		broker.OutboundMessage{Key: "alice", Data: []byte("order 1"), Attributes: map[string]any{"amount": 12.5}},
		broker.OutboundMessage{Key: "bob", Data: []byte("order 2"), Attributes: map[string]any{"amount": 7.0}},
	)
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		m, err := q.NextMessage(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %s, amount %v (%T), delivery %d\n", m.Key, m.Data, m.Attributes["amount"], m.Attributes["amount"], m.DeliveryCount)
		if err := m.AckContext(ctx); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// alice: order 1, amount 12.5 (float64), delivery 1
	// bob: order 2, amount 7 (float64), delivery 1
}

// A log: read in order, commit cumulatively, resume after the commit.
func ExampleClient_JoinLog() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := jetstream.Connect(ctx, jetstream.Config{URLs: []string{shared.URL()}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	exampleStream(ctx, c, "EXAMPLE_EVENTS", "example.events")
	defer c.JetStream().DeleteStream(context.Background(), "EXAMPLE_EVENTS")

	pub := c.Publisher(jetstream.PublisherConfig{})
	defer pub.Close()
	events, err := pub.Topic("example.events")
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range []string{"created", "paid", "shipped"} {
		if err := events.Publish(ctx, broker.OutboundMessage{Data: []byte(e)}); err != nil {
			log.Fatal(err)
		}
	}

	cfg := jetstream.LogConfig{Subject: "example.events", Group: "audit"}
	l, err := c.JoinLog(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	var read []broker.Record
	for r, err := range broker.Records(ctx, l) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("offset %d: %s\n", r.Offset, r.Value)
		if read = append(read, r); len(read) == 3 {
			break
		}
	}
	// Commit "paid" and what came before it; "shipped" stays uncommitted.
	if err := read[1].AckContext(ctx); err != nil {
		log.Fatal(err)
	}
	l.Close()

	l, err = c.JoinLog(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	r, err := l.NextRecord(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("resumed at offset %d: %s\n", r.Offset, r.Value)
	// Output:
	// offset 1: created
	// offset 2: paid
	// offset 3: shipped
	// resumed at offset 3: shipped
}

// Retries that cannot duplicate: the Nats-Msg-Id attribute.
func ExampleMsgIDAttribute() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := jetstream.Connect(ctx, jetstream.Config{URLs: []string{shared.URL()}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	exampleStream(ctx, c, "EXAMPLE_PAYMENTS", "example.payments")
	defer c.JetStream().DeleteStream(context.Background(), "EXAMPLE_PAYMENTS")

	pub := c.Publisher(jetstream.PublisherConfig{})
	defer pub.Close()
	payments, err := pub.Topic("example.payments")
	if err != nil {
		log.Fatal(err)
	}
	msg := broker.OutboundMessage{Data: []byte("pay 10"), Attributes: map[string]any{jetstream.MsgIDAttribute: "payment-42"}}
	for range 3 { // a retry loop that went around too often
		if err := payments.Publish(ctx, msg); err != nil {
			log.Fatal(err)
		}
	}
	info, err := c.JetStream().Stream(ctx, "EXAMPLE_PAYMENTS")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored:", info.CachedInfo().State.Msgs)
	// Output:
	// stored: 1
}
