// Command servicebus shows the Azure Service Bus backend of
// pullkit/broker against sbtest, the in-process Service Bus server, through
// the real azservicebus client: it publishes orders to a queue in a batch,
// handles them with a receiver whose handlers ack, nack (the order comes
// back with a higher delivery count) and reject (it lands in the
// dead-letter queue with its reason), then reads the dead-letter queue.
//
// Point it at a real namespace by building the client from a connection
// string instead of srv.ConnectionString(): nothing else changes.
//
//	go run ./examples/servicebus
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/adapters"
	"github.com/pullkit/broker/servicebus"
	"github.com/pullkit/broker/servicebus/sbtest"
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
	// The server and the queue. A real namespace would have the queue
	// created by its administrator, with the same settings.
	srv, err := sbtest.NewServer()
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := srv.CreateQueue("orders", &sbtest.QueueOptions{MaxDeliveryCount: 5}); err != nil {
		return err
	}

	client, err := servicebus.NewClient(servicebus.Config{ConnectionString: srv.ConnectionString()})
	if err != nil {
		return err
	}
	defer client.Close(context.WithoutCancel(ctx))

	// Publish: one batch, packed into as few Service Bus message batches
	// as the size limit allows. Attributes become application properties.
	pub, err := client.Publisher()
	if err != nil {
		return err
	}
	orders, err := pub.Topic("orders")
	if err != nil {
		return err
	}
	var msgs []broker.OutboundMessage
	for i, item := range []string{"book", "lamp", "broken-widget", "pen"} {
		msgs = append(msgs, broker.OutboundMessage{
			Key:        fmt.Sprint("customer-", i%2),
			Data:       []byte(item),
			Attributes: map[string]any{"quantity": int32(i + 1)},
		})
	}
	if err := orders.BatchPublish(ctx, msgs...); err != nil {
		return err
	}
	fmt.Fprintf(w, "published %d orders\n", len(msgs))

	// Receive with two workers. The queue renews the lock of every message
	// a handler holds, so slow handlers keep their messages.
	queue, err := client.NewQueue(ctx, servicebus.QueueConfig{Queue: "orders"})
	if err != nil {
		return err
	}
	defer queue.Close()
	var (
		mu    sync.Mutex
		lines []string
		done  = map[string]bool{}
	)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	handler := func(ctx context.Context, m broker.Message) {
		item := string(m.Data)
		var line string
		switch {
		case item == "broken-widget":
			m.Reject("cannot be shipped")
			line = fmt.Sprintf("reject %s", item)
		case item == "lamp" && m.DeliveryCount == 1:
			m.Nack() // out of stock for a moment: comes back
			line = fmt.Sprintf("nack   %s (delivery %d)", item, m.DeliveryCount)
		default:
			if err := m.AckContext(ctx); err != nil {
				line = fmt.Sprintf("ack of %s failed: %v", item, err)
				break
			}
			line = fmt.Sprintf("ack    %s x%v (delivery %d)", item, m.Attributes["quantity"], m.DeliveryCount)
		}
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, line)
		if !strings.HasPrefix(line, "nack") {
			done[item] = true
		}
		if len(done) == len(msgs) {
			stop()
		}
	}
	if err := queue.Receiver(adapters.WithWorkers(2)).Receive(rctx, handler); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	sort.Strings(lines) // the workers run concurrently
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}

	// The dead-letter queue holds the rejected order, with its reason.
	dlq, err := client.NewQueue(ctx, servicebus.QueueConfig{Queue: "orders", DeadLetter: true})
	if err != nil {
		return err
	}
	defer dlq.Close()
	m, err := dlq.NextMessage(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "dead-lettered: %s (%v)\n", m.Data, m.Attributes["DeadLetterReason"])
	return m.AckContext(ctx)
}
