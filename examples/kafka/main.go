// Command kafka shows the Kafka backend of pullkit/broker against an
// in-process Kafka cluster (kfake), so it needs no server: it publishes a
// few orders, reads them as a log with a consumer-group loop (committing
// each record, then showing that a reopened group resumes after the
// commit), and as a queue with a share-group loop (nacking one message so
// it comes back with a higher delivery count).
//
//	go run ./examples/kafka
//
// Against a real cluster, replace the kfake cluster by kafka.Config{Brokers:
// []string{"host:9092"}} (share groups need Kafka 4.1 or later).
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/kafka"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run is the whole example; it writes what it does to w.
func run(ctx context.Context, w io.Writer) error {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders"))
	if err != nil {
		return err
	}
	defer cluster.Close()
	cfg := kafka.Config{Brokers: cluster.ListenAddrs()}

	// Publish a batch: franz-go batches the records, the call waits for the
	// broker's acknowledgement of each.
	pub, err := kafka.NewPublisher(ctx, cfg)
	if err != nil {
		return err
	}
	defer pub.Close()
	topic, err := pub.Topic("orders")
	if err != nil {
		return err
	}
	var orders []broker.OutboundMessage
	for i, customer := range []string{"alice", "bob", "alice"} {
		orders = append(orders, broker.OutboundMessage{
			Key:        customer,
			Data:       fmt.Appendf(nil, "order-%d", i+1),
			Attributes: map[string]any{"amount": 10 * (i + 1)},
		})
	}
	if err := topic.BatchPublish(ctx, orders...); err != nil {
		return err
	}
	fmt.Fprintln(w, "published 3 orders")

	if err := consumerGroupLoop(ctx, w, cfg); err != nil {
		return err
	}
	return shareGroupLoop(ctx, w, cfg)
}

// consumerGroupLoop reads the topic as a log: records of a partition in
// order, each Ack committing it and every earlier record of its partition.
func consumerGroupLoop(ctx context.Context, w io.Writer, cfg kafka.Config) error {
	fmt.Fprintln(w, "-- consumer group (log)")
	group, err := kafka.JoinGroup(ctx, cfg, "billing", []string{"orders"}, kafka.LogOptions{})
	if err != nil {
		return err
	}
	read := 0
	for r, err := range broker.Records(ctx, group) {
		if err != nil {
			group.Close()
			return err
		}
		fmt.Fprintf(w, "record %s (%s, amount %v) at offset %d\n", r.Value, r.Key, r.Attributes["amount"], r.Offset)
		r.Ack() // committed in the background, together with the next acks
		if read++; read == 2 {
			break // stop before order-3: it stays uncommitted
		}
	}
	// Close commits what was acked and leaves the group.
	if err := group.Close(); err != nil {
		return err
	}
	group, err = kafka.JoinGroup(ctx, cfg, "billing", []string{"orders"}, kafka.LogOptions{})
	if err != nil {
		return err
	}
	defer group.Close()
	r, err := group.NextRecord(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "reopened group resumes with %s\n", r.Value)
	return r.AckContext(ctx) // waits for the broker to confirm the commit
}

// shareGroupLoop reads the topic as a queue: each message settled on its
// own, a nacked one delivered again.
func shareGroupLoop(ctx context.Context, w io.Writer, cfg kafka.Config) error {
	fmt.Fprintln(w, "-- share group (queue)")
	queue, err := kafka.JoinShareGroup(ctx, cfg, "shipping", []string{"orders"}, kafka.QueueOptions{
		StartOffset: kafka.StartEarliest, // also read what was published before the group existed
	})
	if err != nil {
		return err
	}
	defer queue.Close()
	for handled := 0; handled < 3; {
		m, err := queue.NextMessage(ctx)
		if err != nil {
			return err
		}
		if string(m.Data) == "order-2" && m.DeliveryCount == 1 {
			fmt.Fprintf(w, "nack %s (delivery %d)\n", m.Data, m.DeliveryCount)
			m.Nack() // released: the broker delivers it again
			continue
		}
		if err := m.AckContext(ctx); err != nil { // accepted, confirmed
			return err
		}
		fmt.Fprintf(w, "ack  %s (delivery %d)\n", m.Data, m.DeliveryCount)
		handled++
	}
	return nil
}
