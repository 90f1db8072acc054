package inmem_test

import (
	"context"
	"fmt"
	"log"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/inmem"
)

// A queue: publish, take the message, ack it.
func Example_queue() {
	ctx := context.Background()
	b := inmem.New()
	defer b.Close()

	// Subscribe first: a subscription receives what is published after it exists.
	sub, err := b.Subscribe("orders", "billing", inmem.QueueConfig{})
	if err != nil {
		log.Fatal(err)
	}
	topic, err := b.Publisher().Topic("orders")
	if err != nil {
		log.Fatal(err)
	}
	err = topic.Publish(ctx, broker.OutboundMessage{
		Key:        "order-42",
		Data:       []byte("paid"),
		Attributes: map[string]any{"amount": 1999},
	})
	if err != nil {
		log.Fatal(err)
	}

	msg, err := sub.NextMessage(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %s amount=%v delivery=%d\n", msg.Key, msg.Data, msg.Attributes["amount"], msg.DeliveryCount)
	if err := msg.AckContext(ctx); err != nil {
		log.Fatal(err)
	}
	// Output: order-42 paid amount=1999 delivery=1
}

// A log: read records in batches and commit the last one of the batch,
// which commits every earlier record of its partition too.
func Example_log() {
	ctx := context.Background()
	b := inmem.New()
	defer b.Close()
	if err := b.CreateTopic("events", 1); err != nil {
		log.Fatal(err)
	}

	topic, err := b.Publisher().Topic("events")
	if err != nil {
		log.Fatal(err)
	}
	err = topic.BatchPublish(ctx,
		broker.OutboundMessage{Data: []byte("created")},
		broker.OutboundMessage{Data: []byte("updated")},
		broker.OutboundMessage{Data: []byte("deleted")},
	)
	if err != nil {
		log.Fatal(err)
	}

	group, err := b.JoinGroup("events", "indexer", inmem.LogConfig{MaxBatch: 10})
	if err != nil {
		log.Fatal(err)
	}
	batch, err := group.NextBatch(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range batch {
		fmt.Printf("%s/%d@%d %s\n", r.Topic, r.Partition, r.Offset, r.Value)
	}
	if err := batch[len(batch)-1].AckContext(ctx); err != nil {
		log.Fatal(err)
	}
	next, _ := b.Committed("events", "indexer", 0)
	fmt.Println("next offset to read:", next)
	// Output:
	// events/0@0 created
	// events/0@1 updated
	// events/0@2 deleted
	// next offset to read: 3
}

// A FakeClock makes an ack deadline pass without sleeping.
func ExampleFakeClock() {
	ctx := context.Background()
	clock := inmem.NewFakeClock(inmem.DefaultEpoch)
	b := inmem.New(inmem.WithClock(clock))
	defer b.Close()

	sub, err := b.Subscribe("jobs", "workers", inmem.QueueConfig{AckDeadline: inmem.DefaultAckDeadline})
	if err != nil {
		log.Fatal(err)
	}
	topic, _ := b.Publisher().Topic("jobs")
	if err := topic.Publish(ctx, broker.OutboundMessage{Data: []byte("resize")}); err != nil {
		log.Fatal(err)
	}
	first, _ := sub.NextMessage(ctx) // never settled

	clock.Advance(inmem.DefaultAckDeadline)
	again, err := sub.NextMessage(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(again.Data), "delivery", again.DeliveryCount)
	fmt.Println(first.AckContext(ctx) != nil) // too late: it was redelivered
	_ = again.AckContext(ctx)
	// Output:
	// resize delivery 2
	// true
}
