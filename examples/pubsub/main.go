// Command pubsub shows the Google Cloud Pub/Sub backend of pullkit/broker
// against pstest, the client library's in-process fake, so it needs no
// project or emulator: it publishes a batch of orders with ordering keys,
// consumes them in batches with NextBatch (nacking one so it comes back
// and rejecting a poison one to a dead-letter topic), then drains the
// dead-letter topic with a Receiver.
//
//	go run ./examples/pubsub
//
// Against the emulator or a real project, replace the pstest options in
// pubsub.Config with nothing (and set PUBSUB_EMULATOR_HOST) or with
// credentials.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pubsub"
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
	srv := pstest.NewServer()
	defer srv.Close()
	c, err := pubsub.NewClient(ctx, pubsub.Config{
		ProjectID: "example",
		ClientOptions: []option.ClientOption{
			option.WithEndpoint(srv.Addr),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
			option.WithoutAuthentication(),
		},
	})
	if err != nil {
		return err
	}
	defer c.Close()

	// Admin: a topic, a dead-letter topic, and subscriptions. Ordering keeps
	// each customer's orders in publishing order.
	for _, t := range []string{"orders", "orders-dead"} {
		if err := c.EnsureTopic(ctx, t); err != nil {
			return err
		}
	}
	if err := c.EnsureSubscription(ctx, pubsub.SubscriptionConfig{Name: "billing", Topic: "orders", Ordering: true}); err != nil {
		return err
	}
	if err := c.EnsureSubscription(ctx, pubsub.SubscriptionConfig{Name: "poison-review", Topic: "orders-dead"}); err != nil {
		return err
	}

	// Publish: a batch, each message with its customer as ordering key.
	pub, err := c.Publisher(pubsub.PublishConfig{})
	if err != nil {
		return err
	}
	defer pub.Close()
	topic, err := pub.Topic("orders")
	if err != nil {
		return err
	}
	var batch []broker.OutboundMessage
	for i, customer := range []string{"alice", "bob", "alice", "carol", "bob", "alice"} {
		batch = append(batch, broker.OutboundMessage{
			Key:        customer,
			Data:       fmt.Appendf(nil, "order-%d", i+1),
			Attributes: map[string]any{"qty": i + 1, "express": i%2 == 0},
		})
	}
	batch[3].Data = []byte("order-4 POISON")
	if err := topic.BatchPublish(ctx, batch...); err != nil {
		return err
	}
	fmt.Fprintf(w, "published %d orders\n", len(batch))

	// Consume in batches. order-2 fails once and is nacked; the poison
	// order is rejected to the dead-letter topic; the rest are acked.
	cons, err := c.Subscribe(ctx, "billing", pubsub.ReceiveConfig{MaxBatch: 10, DeadLetterTopic: "orders-dead"})
	if err != nil {
		return err
	}
	defer cons.Close()
	perCustomer := map[string][]string{}
	failedOnce := false
	for done := 0; done < len(batch); {
		msgs, err := cons.NextBatch(ctx)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			switch {
			case strings.Contains(string(m.Data), "POISON"):
				if err := m.Settle(ctx, broker.Settlement{Kind: broker.SettleReject, Reason: "cannot parse"}); err != nil {
					return err
				}
				fmt.Fprintf(w, "reject %s\n", m.Data)
				done++
			case string(m.Data) == "order-2" && !failedOnce:
				failedOnce = true
				m.Nack()
				fmt.Fprintf(w, "nack   %s (will come back)\n", m.Data)
			default:
				if err := m.AckContext(ctx); err != nil {
					return err
				}
				perCustomer[m.Key] = append(perCustomer[m.Key], string(m.Data))
				done++
			}
		}
	}
	customers := make([]string, 0, len(perCustomer))
	for k := range perCustomer {
		customers = append(customers, k)
	}
	sort.Strings(customers)
	for _, k := range customers {
		fmt.Fprintf(w, "%s: %s\n", k, strings.Join(perCustomer[k], ", "))
	}

	// The dead-letter topic, with a Receiver: it runs the handler until
	// its ctx ends, then nacks whatever is still unsettled.
	r, err := c.Receiver(ctx, "poison-review", pubsub.ReceiveConfig{})
	if err != nil {
		return err
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	err = r.Receive(rctx, func(_ context.Context, m broker.Message) {
		fmt.Fprintf(w, "dead letter: %s (key %s, qty %s)\n", m.Data, m.Key, m.Attributes["qty"])
		m.Ack()
		stop()
	})
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}
