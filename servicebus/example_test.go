package servicebus_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/servicebus"
	"github.com/pullkit/broker/servicebus/sbtest"
)

// Example publishes to a queue and consumes it, on sbtest; against a real
// namespace only the connection string changes.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := sbtest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := srv.CreateQueue("orders", nil); err != nil {
		log.Fatal(err)
	}

	client, err := servicebus.NewClient(servicebus.Config{ConnectionString: srv.ConnectionString()})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)
	pub, err := client.Publisher()
	if err != nil {
		log.Fatal(err)
	}
	orders, err := pub.Topic("orders")
	if err != nil {
		log.Fatal(err)
	}
	err = orders.Publish(ctx, broker.OutboundMessage{Key: "alice", Data: []byte("order-1"), Attributes: map[string]any{"priority": int32(2)}})
	if err != nil {
		log.Fatal(err)
	}

	q, err := client.NewQueue(ctx, servicebus.QueueConfig{Queue: "orders"})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()
	m, err := q.NextMessage(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s from %s, priority %v, delivery %d\n", m.Data, m.Key, m.Attributes["priority"], m.DeliveryCount)
	if err := m.AckContext(ctx); err != nil {
		log.Fatal(err)
	}
	// Output: order-1 from alice, priority 2, delivery 1
}

// ExampleQueue_NextBatch reads a topic subscription in batches; a rejected
// message goes to the subscription's dead-letter queue with its reason.
func ExampleQueue_NextBatch() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := sbtest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := srv.CreateTopic("events"); err != nil {
		log.Fatal(err)
	}
	if err := srv.CreateSubscription("events", "audit", nil); err != nil {
		log.Fatal(err)
	}

	client, err := servicebus.NewClient(servicebus.Config{ConnectionString: srv.ConnectionString()})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)
	pub, err := client.Publisher()
	if err != nil {
		log.Fatal(err)
	}
	events, err := pub.Topic("events")
	if err != nil {
		log.Fatal(err)
	}
	err = events.BatchPublish(ctx,
		broker.OutboundMessage{Data: []byte("login")},
		broker.OutboundMessage{Data: []byte("garbage")},
		broker.OutboundMessage{Data: []byte("logout")},
	)
	if err != nil {
		log.Fatal(err)
	}

	q, err := client.NewQueue(ctx, servicebus.QueueConfig{Topic: "events", Subscription: "audit", MaxBatch: 10})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()
	for seen := 0; seen < 3; {
		batch, err := q.NextBatch(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, m := range batch {
			seen++
			if string(m.Data) == "garbage" {
				if err := m.Settle(ctx, broker.Settlement{Kind: broker.SettleReject, Reason: "unparseable"}); err != nil {
					log.Fatal(err)
				}
				continue
			}
			fmt.Println("handled", string(m.Data))
			if err := m.AckContext(ctx); err != nil {
				log.Fatal(err)
			}
		}
	}
	dead, err := srv.DeadLetters("events/Subscriptions/audit")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("dead-lettered %s: %s\n", dead[0].Body, dead[0].DeadLetterReason)
	// Output:
	// handled login
	// handled logout
	// dead-lettered garbage: unparseable
}
