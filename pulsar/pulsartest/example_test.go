package pulsartest_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	plog "github.com/apache/pulsar-client-go/pulsar/log"

	"github.com/pullkit/broker/pulsar/pulsartest"
)

func Example() {
	srv, err := pulsartest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	client, err := pulsar.NewClient(pulsar.ClientOptions{
		URL:              srv.URL(),
		OperationTimeout: 10 * time.Second,
		Logger:           plog.DefaultNopLogger(),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	consumer, err := client.Subscribe(pulsar.ConsumerOptions{
		Topic:            "greetings",
		SubscriptionName: "example",
		Type:             pulsar.Shared,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer consumer.Close()

	producer, err := client.CreateProducer(pulsar.ProducerOptions{Topic: "greetings"})
	if err != nil {
		log.Fatal(err)
	}
	defer producer.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := producer.Send(ctx, &pulsar.ProducerMessage{Payload: []byte("hello, pulsar")}); err != nil {
		log.Fatal(err)
	}
	msg, err := consumer.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if err := consumer.Ack(msg); err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(msg.Payload()))
	// Output: hello, pulsar
}
