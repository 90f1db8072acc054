package pulsar_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"
	plog "github.com/apache/pulsar-client-go/pulsar/log"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pulsar"
	"github.com/pullkit/broker/pulsar/pulsartest"
)

// quiet silences the client's own logging in the examples.
func quiet(o *pc.ClientOptions) { o.Logger = plog.DefaultNopLogger() }

// A queue on a Shared subscription: publish, receive, ack with
// confirmation. The in-process pulsartest broker stands in for a cluster.
func Example() {
	srv, err := pulsartest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	client, err := pulsar.NewClient(pulsar.Config{URL: srv.URL(), ClientOptions: quiet})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	sub, err := client.Subscribe(ctx, "orders", "billing", pulsar.QueueConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	pub, err := client.Publisher(pulsar.PublisherConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	topic, err := pub.Topic("orders")
	if err != nil {
		log.Fatal(err)
	}
	err = topic.Publish(ctx, broker.OutboundMessage{Key: "42", Data: []byte("paid"), Attributes: map[string]any{"amount": 12.5}})
	if err != nil {
		log.Fatal(err)
	}

	msg, err := sub.NextMessage(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if err := msg.AckContext(ctx); err != nil { // the broker confirmed the ack
		log.Fatal(err)
	}
	fmt.Printf("%s key=%s amount=%q delivery=%d\n", msg.Data, msg.Key, msg.Attributes["amount"], msg.DeliveryCount)
	// Output: paid key=42 amount="12.5" delivery=1
}

// A log on a Failover subscription of a partitioned topic: records of each
// partition in order, committed cumulatively; a reopened group resumes
// after its commits.
func ExampleClient_JoinGroup() {
	srv, err := pulsartest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := srv.CreateTopic("events", 2); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := pulsar.NewClient(pulsar.Config{URL: srv.URL(), ClientOptions: quiet})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	pub, err := client.Publisher(pulsar.PublisherConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	topic, err := pub.Topic("events")
	if err != nil {
		log.Fatal(err)
	}
	var batch []broker.OutboundMessage
	for i := range 3 {
		batch = append(batch, broker.OutboundMessage{Key: "device-7", Data: fmt.Appendf(nil, "reading-%d", i)})
	}
	if err := topic.BatchPublish(ctx, batch...); err != nil {
		log.Fatal(err)
	}

	group, err := client.JoinGroup(ctx, "events", "analytics", pulsar.LogConfig{})
	if err != nil {
		log.Fatal(err)
	}
	var last broker.Record
	for range 2 {
		r, err := group.NextRecord(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("read", string(r.Value))
		last = r
	}
	// Commits reading-0 and reading-1 (same key, same partition).
	if err := last.AckContext(ctx); err != nil {
		log.Fatal(err)
	}
	if err := group.Close(); err != nil {
		log.Fatal(err)
	}

	group, err = client.JoinGroup(ctx, "events", "analytics", pulsar.LogConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer group.Close()
	r, err := group.NextRecord(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("resumed at", string(r.Value))
	// Output:
	// read reading-0
	// read reading-1
	// resumed at reading-2
}

// BatchPublish refuses a batch with an invalid message as a whole and says
// which message was wrong.
func ExamplePublisher_Topic() {
	srv, err := pulsartest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client, err := pulsar.NewClient(pulsar.Config{URL: srv.URL(), ClientOptions: quiet})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	pub, err := client.Publisher(pulsar.PublisherConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()

	if _, err := pub.Topic("not a topic"); errors.Is(err, broker.ErrInvalidTopic) {
		fmt.Println("invalid topic name refused")
	}
	topic, err := pub.Topic("persistent://public/default/orders")
	if err != nil {
		log.Fatal(err)
	}
	err = topic.BatchPublish(context.Background(),
		broker.OutboundMessage{Data: []byte("fine")},
		broker.OutboundMessage{Data: []byte("bad"), Attributes: map[string]any{"note": nil}},
	)
	var be *broker.BatchError
	if errors.As(err, &be) {
		fmt.Println("failed:", be.Indexes(broker.PublishFailed), "invalid attribute:", errors.Is(err, broker.ErrInvalidAttribute))
	}
	// Output:
	// invalid topic name refused
	// failed: [0 1] invalid attribute: true
}
