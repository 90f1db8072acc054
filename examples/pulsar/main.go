// Command pulsar shows the Pulsar backend of pullkit/broker against an
// in-process Pulsar broker (pulsartest), so it needs no cluster: it
// publishes orders to a two-partition topic, consumes them from a Shared
// subscription as a queue (acking, nacking one so it comes back, rejecting
// one to the dead-letter topic), then reads the same topic as a log through
// a Failover subscription, commits, and shows that a reopened group resumes
// after the commit.
//
//	go run ./examples/pulsar
//
// With PULSAR_URL set (pulsar://host:6650) it runs against that cluster
// instead, on a non-partitioned topic (creating a partitioned one needs the
// admin API).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"
	plog "github.com/apache/pulsar-client-go/pulsar/log"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pulsar"
	"github.com/pullkit/broker/pulsar/pulsartest"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run is the whole example; it writes what it does to w.
func run(ctx context.Context, w io.Writer) error {
	url := os.Getenv("PULSAR_URL")
	topicName := fmt.Sprintf("orders-%d", time.Now().UnixNano())
	if url == "" {
		srv, err := pulsartest.NewServer()
		if err != nil {
			return err
		}
		defer srv.Close()
		url = srv.URL()
		if err := srv.CreateTopic(topicName, 2); err != nil {
			return err
		}
	}

	client, err := pulsar.NewClient(pulsar.Config{
		URL:              url,
		OperationTimeout: 10 * time.Second,
		// The client logs reconnections and the like; quiet here.
		ClientOptions: func(o *pc.ClientOptions) { o.Logger = plog.DefaultNopLogger() },
	})
	if err != nil {
		return err
	}
	defer client.Close()

	// A Shared subscription receives what is published after it exists,
	// so subscribe first. Rejected messages go to "<topic>-billing-DLQ".
	queue, err := client.Subscribe(ctx, topicName, "billing", pulsar.QueueConfig{
		Poison: broker.PoisonPolicy{NackDelay: 50 * time.Millisecond},
	})
	if err != nil {
		return err
	}
	defer queue.Close()
	dead, err := client.Subscribe(ctx, topicName+"-billing-DLQ", "ops", pulsar.QueueConfig{})
	if err != nil {
		return err
	}
	defer dead.Close()

	pub, err := client.Publisher(pulsar.PublisherConfig{})
	if err != nil {
		return err
	}
	defer pub.Close()
	topic, err := pub.Topic(topicName)
	if err != nil {
		return err
	}
	// A batch with an invalid message sends nothing.
	err = topic.BatchPublish(ctx,
		broker.OutboundMessage{Key: "alice", Data: []byte("order-1")},
		broker.OutboundMessage{Key: "bob", Data: []byte("order-2"), Attributes: map[string]any{"priority": nil}},
	)
	var be *broker.BatchError
	if errors.As(err, &be) {
		fmt.Fprintf(w, "batch refused, nothing sent: failed=%v (%v)\n", be.Indexes(broker.PublishFailed), errors.Is(err, broker.ErrInvalidAttribute))
	}
	err = topic.BatchPublish(ctx,
		broker.OutboundMessage{Key: "alice", Data: []byte("order-1")},
		broker.OutboundMessage{Key: "bob", Data: []byte("order-2"), Attributes: map[string]any{"priority": 1}},
		broker.OutboundMessage{Key: "carol", Data: []byte("garbage")},
	)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "published 3 orders")

	// Queue: each message settled on its own. order-2 fails once and comes
	// back with a higher delivery count; garbage is rejected.
	fmt.Fprintln(w, "-- queue (Shared subscription)")
	for handled := 0; handled < 3; {
		msg, err := queue.NextMessage(ctx)
		if err != nil {
			return err
		}
		switch {
		case string(msg.Data) == "order-2" && msg.DeliveryCount == 1:
			fmt.Fprintf(w, "nack   %s (delivery %d, priority %v)\n", msg.Data, msg.DeliveryCount, msg.Attributes["priority"])
			msg.Nack()
			continue
		case string(msg.Data) == "garbage":
			fmt.Fprintf(w, "reject %s\n", msg.Data)
			if err := msg.Settle(ctx, broker.Settlement{Kind: broker.SettleReject, Reason: "not an order"}); err != nil {
				return err
			}
		default:
			if err := msg.AckContext(ctx); err != nil {
				return err
			}
			fmt.Fprintf(w, "ack    %s (delivery %d)\n", msg.Data, msg.DeliveryCount)
		}
		handled++
	}
	d, err := dead.NextMessage(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "dead letter: %s (%v)\n", d.Data, d.Attributes["pullkit-reject-reason"])
	if err := d.AckContext(ctx); err != nil {
		return err
	}

	// Log: the same topic through a Failover subscription, which starts at
	// the earliest record. Acking a partition's last record commits
	// everything before it.
	fmt.Fprintln(w, "-- log (Failover subscription)")
	group, err := client.JoinGroup(ctx, topicName, "analytics", pulsar.LogConfig{})
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
			fmt.Fprintf(w, "record %s key %s partition %d\n", r.Value, r.Key, r.Partition)
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

	// A new order after the commit: the reopened group sees only it.
	if err := topic.Publish(ctx, broker.OutboundMessage{Key: "dave", Data: []byte("order-4")}); err != nil {
		return err
	}
	group, err = client.JoinGroup(ctx, topicName, "analytics", pulsar.LogConfig{})
	if err != nil {
		return err
	}
	defer group.Close()
	r, err := group.NextRecord(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "reopened group resumes with %s\n", r.Value)
	return r.AckContext(ctx)
}
