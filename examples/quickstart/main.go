// Command quickstart shows both semantics of pullkit/broker on the in-memory
// backend, with no server: it publishes a few orders, consumes them from a
// queue subscription one at a time with NextMessage (acking some, nacking one
// so it comes back), then reads the same topic as a log in batches with
// NextBatch and commits, and shows that a reopened consumer group resumes
// after the commit.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/inmem"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run is the whole example; it writes what it does to w.
func run(ctx context.Context, w io.Writer) error {

	b := inmem.New()
	defer b.Close()
	if err := b.CreateTopic("orders", 2); err != nil {
		return err
	}

	// A queue subscription receives what is published after it exists, so
	// subscribe first.
	queue, err := b.Subscribe("orders", "billing", inmem.QueueConfig{})
	if err != nil {
		return err
	}
	defer queue.Close()

	// Publish: one message, then a batch. A batch with an invalid message
	// sends nothing and says which message was wrong.
	pub := b.Publisher()
	defer pub.Close()
	topic, err := pub.Topic("orders")
	if err != nil {
		return err
	}
	if err := topic.Publish(ctx, broker.OutboundMessage{Key: "alice", Data: []byte("order-1")}); err != nil {
		return err
	}
	err = topic.BatchPublish(ctx,
		broker.OutboundMessage{Key: "bob", Data: []byte("order-2")},
		broker.OutboundMessage{Key: "alice", Data: []byte("order-3"), Attributes: map[string]any{"priority": nil}},
	)
	var be *broker.BatchError
	if errors.As(err, &be) {
		fmt.Fprintf(w, "batch refused, nothing sent: failed=%v (%v)\n", be.Indexes(broker.PublishFailed), errors.Is(err, broker.ErrInvalidAttribute))
	}
	err = topic.BatchPublish(ctx,
		broker.OutboundMessage{Key: "bob", Data: []byte("order-2")},
		broker.OutboundMessage{Key: "alice", Data: []byte("order-3"), Attributes: map[string]any{"priority": 1}},
	)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "published 3 orders")

	// Queue: settle each message on its own. order-2 fails the first time,
	// is nacked and comes back with a higher delivery count.
	fmt.Fprintln(w, "-- queue: NextMessage")
	for handled := 0; handled < 3; {
		msg, err := queue.NextMessage(ctx)
		if err != nil {
			return err
		}
		if string(msg.Data) == "order-2" && msg.DeliveryCount == 1 {
			fmt.Fprintf(w, "nack %s (delivery %d)\n", msg.Data, msg.DeliveryCount)
			msg.Nack()
			continue
		}
		if err := msg.AckContext(ctx); err != nil {
			return err
		}
		fmt.Fprintf(w, "ack  %s (delivery %d)\n", msg.Data, msg.DeliveryCount)
		handled++
	}

	// Log: the same topic read by a consumer group, in batches. Acking the
	// last record of a partition commits everything before it.
	fmt.Fprintln(w, "-- log: NextBatch")
	group, err := b.JoinGroup("orders", "analytics", inmem.LogConfig{})
	if err != nil {
		return err
	}
	for read := 0; read < 3; {
		batch, err := group.NextBatch(ctx)
		if err != nil {
			return err
		}
		last := map[int64]broker.Record{}
		for _, r := range batch {
			fmt.Fprintf(w, "record %s partition %d offset %d\n", r.Value, r.Partition, r.Offset)
			last[r.Partition] = r
		}
		for _, r := range last {
			if err := r.AckContext(ctx); err != nil {
				return err
			}
		}
		read += len(batch)
	}
	if err := group.Close(); err != nil {
		return err
	}
	for p := range 2 {
		next, _ := b.Committed("orders", "analytics", p)
		fmt.Fprintf(w, "group analytics: partition %d resumes at offset %d\n", p, next)
	}

	// A new order after the commit: the reopened group sees only it.
	if err := topic.Publish(ctx, broker.OutboundMessage{Key: "carol", Data: []byte("order-4")}); err != nil {
		return err
	}
	group, err = b.JoinGroup("orders", "analytics", inmem.LogConfig{})
	if err != nil {
		return err
	}
	defer group.Close()
	r, err := group.NextRecord(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "reopened group resumes with %s\n", r.Value)
	r.Ack()
	return nil
}
