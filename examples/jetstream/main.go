// Command jetstream shows pullkit/broker on NATS JetStream. It starts a
// nats-server with JetStream inside the process (random port, file store
// in a temporary directory), then: publishes orders (one batch refused
// whole because of a bad attribute), consumes them as a work queue in
// batches (acking, nacking one with a delay so it comes back, rejecting a
// poison one to a dead-letter subject), reads the same stream as a log,
// commits part of it, and shows that the rejoined group resumes right
// after the commit.
//
//	go run ./examples/jetstream
//
// Against your own server instead: NATS_URL=nats://host:4222 go run ./examples/jetstream
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/jetstream"
	"github.com/pullkit/broker/jetstream/jstest"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run is the whole example; it writes what it does to w.
func run(ctx context.Context, w io.Writer) (err error) {
	url := os.Getenv("NATS_URL")
	if url == "" {
		dir, err := os.MkdirTemp("", "jetstream-example-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		srv, err := jstest.Start(jstest.Options{StoreDir: dir})
		if err != nil {
			return err
		}
		defer srv.Shutdown()
		url = srv.URL()
	}

	c, err := jetstream.Connect(ctx, jetstream.Config{URLs: []string{url}, Name: "pullkit-example"})
	if err != nil {
		return err
	}
	defer c.Close()

	// Streams: the orders, and a dead-letter stream for poison ones.
	js := c.JetStream()
	for name, subject := range map[string]string{"EX_ORDERS": "ex.orders", "EX_ORDERS_DEAD": "ex.orders.dead"} {
		if _, err := js.CreateOrUpdateStream(ctx, natsjs.StreamConfig{Name: name, Subjects: []string{subject}}); err != nil {
			return err
		}
		defer js.DeleteStream(context.Background(), name)
	}

	// Publish. A batch with an invalid message sends nothing and says which.
	pub := c.Publisher(jetstream.PublisherConfig{})
	defer pub.Close()
	orders, err := pub.Topic("ex.orders")
	if err != nil {
		return err
	}
	err = orders.BatchPublish(ctx,
		broker.OutboundMessage{Key: "alice", Data: []byte("order-1")},
		broker.OutboundMessage{Key: "bob", Data: []byte("order-2"), Attributes: map[string]any{"bad key": 1}},
	)
	var be *broker.BatchError
	if errors.As(err, &be) {
		fmt.Fprintf(w, "batch refused, nothing sent: failed=%v (invalid attribute: %v)\n", be.Indexes(broker.PublishFailed), errors.Is(err, broker.ErrInvalidAttribute))
	}
	var batch []broker.OutboundMessage
	for i, who := range []string{"alice", "bob", "carol", "dave"} {
		batch = append(batch, broker.OutboundMessage{
			Key:        who,
			Data:       fmt.Appendf(nil, "order-%d", i+1),
			Attributes: map[string]any{"amount": 10 * (i + 1), jetstream.MsgIDAttribute: fmt.Sprint("order-", i+1)},
		})
	}
	if err := orders.BatchPublish(ctx, batch...); err != nil {
		return err
	}
	fmt.Fprintln(w, "published 4 orders")

	// Queue: a durable consumer with explicit acks, read in batches.
	queue, err := c.Subscribe(ctx, jetstream.QueueConfig{
		Subject:  "ex.orders",
		Consumer: "billing",
		Poison:   broker.PoisonPolicy{MaxDeliveries: 3, Action: broker.PoisonDeadLetter, DeadLetterTopic: "ex.orders.dead"},
	})
	if err != nil {
		return err
	}
	defer queue.Close()
	fmt.Fprintln(w, "-- queue: NextBatch")
	for done := 0; done < 4; {
		msgs, err := queue.NextBatch(ctx)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			switch {
			case string(m.Data) == "order-2" && m.DeliveryCount == 1:
				fmt.Fprintf(w, "nack   %s (delivery %d), retry in 100ms\n", m.Data, m.DeliveryCount)
				if err := m.Settle(ctx, broker.Settlement{Kind: broker.SettleNack, Delay: 100 * time.Millisecond}); err != nil {
					return err
				}
			case string(m.Data) == "order-3":
				fmt.Fprintf(w, "reject %s: amount %v is poison\n", m.Data, m.Attributes["amount"])
				if err := m.Settle(ctx, broker.Settlement{Kind: broker.SettleReject, Reason: "amount too high"}); err != nil {
					return err
				}
				done++
			default:
				fmt.Fprintf(w, "ack    %s for %s (delivery %d)\n", m.Data, m.Key, m.DeliveryCount)
				if err := m.AckContext(ctx); err != nil {
					return err
				}
				done++
			}
		}
	}
	dead, err := c.Subscribe(ctx, jetstream.QueueConfig{Subject: "ex.orders.dead", Consumer: "ops"})
	if err != nil {
		return err
	}
	defer dead.Close()
	d, err := dead.NextMessage(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "dead letter: %s (%v)\n", d.Data, d.Attributes["Pullkit-Dead-Reason"])
	d.Ack()

	// Log: the same stream, in order, committed cumulatively.
	fmt.Fprintln(w, "-- log: NextRecord")
	cfg := jetstream.LogConfig{Subject: "ex.orders", Group: "audit"}
	lg, err := c.JoinLog(ctx, cfg)
	if err != nil {
		return err
	}
	var records []broker.Record
	for r, err := range broker.Records(ctx, lg) {
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "offset %d: %s\n", r.Offset, r.Value)
		if records = append(records, r); len(records) == 4 {
			break
		}
	}
	// Commit order-2 and everything before it.
	if err := records[1].AckContext(ctx); err != nil {
		return err
	}
	if err := lg.Close(); err != nil {
		return err
	}
	lg, err = c.JoinLog(ctx, cfg)
	if err != nil {
		return err
	}
	defer lg.Close()
	r, err := lg.NextRecord(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "rejoined group resumes at offset %d: %s\n", r.Offset, r.Value)
	return nil
}
