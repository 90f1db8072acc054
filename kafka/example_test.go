package kafka_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/kafka"
)

// exampleCluster starts an in-process Kafka cluster with the given topics
// of one partition; a real program passes its brokers' addresses instead.
func exampleCluster(topics ...string) (*kfake.Cluster, kafka.Config) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics...))
	if err != nil {
		log.Fatal(err)
	}
	return c, kafka.Config{Brokers: c.ListenAddrs()}
}

func publish(ctx context.Context, cfg kafka.Config, topic string, values ...string) {
	p, err := kafka.NewPublisher(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	tp, err := p.Topic(topic)
	if err != nil {
		log.Fatal(err)
	}
	msgs := make([]broker.OutboundMessage, len(values))
	for i, v := range values {
		msgs[i] = broker.OutboundMessage{Key: "customer-1", Data: []byte(v), Attributes: map[string]any{"n": i}}
	}
	if err := tp.BatchPublish(ctx, msgs...); err != nil {
		log.Fatal(err)
	}
}

// A consumer group reads records in order per partition; acking a record
// commits it and every earlier record of its partition.
func ExampleJoinGroup() {
	cluster, cfg := exampleCluster("orders")
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	publish(ctx, cfg, "orders", "created", "paid", "shipped")

	c, err := kafka.JoinGroup(ctx, cfg, "billing", []string{"orders"}, kafka.LogOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for range 3 {
		r, err := c.NextRecord(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s offset %d: %s (n=%v)\n", r.Key, r.Offset, r.Value, r.Attributes["n"])
		r.Ack()
	}
	// Output:
	// customer-1 offset 0: created (n=0)
	// customer-1 offset 1: paid (n=1)
	// customer-1 offset 2: shipped (n=2)
}

// A share group is a queue: each message is settled on its own, and a
// nacked one comes back with a higher delivery count.
func ExampleJoinShareGroup() {
	cluster, cfg := exampleCluster("emails")
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	publish(ctx, cfg, "emails", "welcome")

	q, err := kafka.JoinShareGroup(ctx, cfg, "mailers", []string{"emails"}, kafka.QueueOptions{StartOffset: kafka.StartEarliest})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()
	m, err := q.NextMessage(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s, delivery %d: nack\n", m.Data, m.DeliveryCount)
	m.Nack()
	m, err = q.NextMessage(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s, delivery %d: ack\n", m.Data, m.DeliveryCount)
	if err := m.AckContext(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// welcome, delivery 1: nack
	// welcome, delivery 2: ack
}

// Records published in a transaction become visible together on Commit.
func ExampleNewTransactionalPublisher() {
	cluster, cfg := exampleCluster("ledger")
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	p, err := kafka.NewTransactionalPublisher(ctx, cfg, "ledger-writer")
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	tp, err := p.Topic("ledger")
	if err != nil {
		log.Fatal(err)
	}
	if err := p.Begin(); err != nil {
		log.Fatal(err)
	}
	if err := tp.BatchPublish(ctx, broker.OutboundMessage{Data: []byte("debit")}, broker.OutboundMessage{Data: []byte("credit")}); err != nil {
		log.Fatal(err)
	}
	committed, err := p.Commit(ctx)
	fmt.Println("committed:", committed, err)
	// Output:
	// committed: true <nil>
}
