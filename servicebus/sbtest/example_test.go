package sbtest_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/pullkit/broker/servicebus/sbtest"
)

// Example starts a server, sends one message with the real azservicebus
// client, receives it in peek-lock mode and completes it.
func Example() {
	srv, err := sbtest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := srv.CreateQueue("orders", nil); err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := azservicebus.NewClientFromConnectionString(srv.ConnectionString(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)

	sender, err := client.NewSender("orders", nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := sender.SendMessage(ctx, &azservicebus.Message{Body: []byte("order #1")}, nil); err != nil {
		log.Fatal(err)
	}

	receiver, err := client.NewReceiverForQueue("orders", nil)
	if err != nil {
		log.Fatal(err)
	}
	msgs, err := receiver.ReceiveMessages(ctx, 1, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range msgs {
		fmt.Printf("%s (delivery %d)\n", m.Body, m.DeliveryCount)
		if err := receiver.CompleteMessage(ctx, m, nil); err != nil {
			log.Fatal(err)
		}
	}

	left, err := srv.Messages("orders")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("left in queue:", len(left))
	// Output:
	// order #1 (delivery 1)
	// left in queue: 0
}

// ExampleServer_DeadLetters tests poison handling the way a test of your
// own Service Bus code would: a queue with a short lock and a low max
// delivery count, a consumer that never settles, and the dead-letter
// queue inspected through the test API.
func ExampleServer_DeadLetters() {
	srv, err := sbtest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	err = srv.CreateQueue("jobs", &sbtest.QueueOptions{LockDuration: 100 * time.Millisecond, MaxDeliveryCount: 2})
	if err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := azservicebus.NewClientFromConnectionString(srv.ConnectionString(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)
	sender, err := client.NewSender("jobs", nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := sender.SendMessage(ctx, &azservicebus.Message{Body: []byte("job #7")}, nil); err != nil {
		log.Fatal(err)
	}
	receiver, err := client.NewReceiverForQueue("jobs", nil)
	if err != nil {
		log.Fatal(err)
	}
	// Receive it twice and let each lock expire, as a crashing worker would.
	for range 2 {
		msgs, err := receiver.ReceiveMessages(ctx, 1, nil)
		if err != nil {
			log.Fatal(err)
		}
		for _, m := range msgs {
			fmt.Printf("got %s, delivery %d; not settling it\n", m.Body, m.DeliveryCount)
		}
	}
	for {
		dead, err := srv.DeadLetters("jobs")
		if err != nil {
			log.Fatal(err)
		}
		if len(dead) > 0 {
			fmt.Printf("dead-lettered %s: %s\n", dead[0].Body, dead[0].DeadLetterReason)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Output:
	// got job #7, delivery 1; not settling it
	// got job #7, delivery 2; not settling it
	// dead-lettered job #7: MaxDeliveryCountExceeded
}
