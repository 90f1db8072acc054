// Command bridge forwards a Google Cloud Pub/Sub subscription to a Kafka
// topic, at least once, written only against this library's interfaces:
// the bridge itself (forward) reads a broker.BatchedMessageIterator and
// writes a broker.Topic, so the same function bridges any queue to any
// topic. It runs against pstest and kfake in process, so it needs no
// project and no cluster:
//
//	go run ./examples/bridge
//
// A Pub/Sub message is acked only once Kafka has confirmed its record, so a
// crash between the two sends it again (a duplicate), never loses it. The
// Pub/Sub ordering key becomes the Kafka key, so one customer's orders land
// in one partition, in order.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/kafka"
	"github.com/pullkit/broker/pubsub"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// publishTimeout bounds one batch's publish.
const publishTimeout = 30 * time.Second

// forward moves messages from src to dst until ctx ends or src is closed.
// Each batch is published as one BatchPublish; the messages Kafka confirmed
// are acked, the others nacked so Pub/Sub delivers them again. Ending ctx
// stops the wait for the next batch, not a publish in flight: cancelling a
// publish would leave its outcome unknown, and the nacked messages would be
// forwarded twice. It returns how many messages it forwarded.
func forward(ctx context.Context, src broker.BatchedMessageIterator, dst broker.Topic) (int, error) {
	forwarded := 0
	for {
		msgs, err := src.NextBatch(ctx)
		if err != nil {
			if errors.Is(err, broker.ErrClosed) || ctx.Err() != nil {
				return forwarded, nil
			}
			return forwarded, err
		}
		out := make([]broker.OutboundMessage, len(msgs))
		for i, m := range msgs {
			out[i] = broker.OutboundMessage{Key: m.Key, Data: m.Data, Attributes: m.Attributes}
		}
		pubCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
		err = dst.BatchPublish(pubCtx, out...)
		cancel()
		var be *broker.BatchError
		switch {
		case err == nil:
			for _, m := range msgs {
				m.Ack()
			}
			forwarded += len(msgs)
		case errors.As(err, &be):
			// Sent: confirmed by Kafka. Failed or Unknown: nack, so the
			// message comes back (an Unknown one may then be duplicated).
			for i, m := range msgs {
				if be.Status[i] == broker.PublishSent {
					m.Ack()
					forwarded++
				} else {
					m.Nack()
				}
			}
		default:
			for _, m := range msgs {
				m.Nack()
			}
			return forwarded, err
		}
	}
}

// run is the whole example; it writes what it does to w.
func run(ctx context.Context, w io.Writer) error {
	// Pub/Sub side: pstest, a topic with an ordered subscription.
	srv := pstest.NewServer()
	defer srv.Close()
	ps, err := pubsub.NewClient(ctx, pubsub.Config{
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
	defer ps.Close()
	if err := ps.EnsureTopic(ctx, "orders"); err != nil {
		return err
	}
	if err := ps.EnsureSubscription(ctx, pubsub.SubscriptionConfig{Name: "to-kafka", Topic: "orders", Ordering: true}); err != nil {
		return err
	}

	// Kafka side: an in-process cluster with a 3-partition topic.
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "orders"))
	if err != nil {
		return err
	}
	defer cluster.Close()
	kcfg := kafka.Config{Brokers: cluster.ListenAddrs()}

	// Orders arrive on Pub/Sub, each customer's with its ordering key.
	pspub, err := ps.Publisher(pubsub.PublishConfig{})
	if err != nil {
		return err
	}
	defer pspub.Close()
	in, err := pspub.Topic("orders")
	if err != nil {
		return err
	}
	customers := []string{"alice", "bob", "alice", "carol", "bob", "alice"}
	var orders []broker.OutboundMessage
	for i, c := range customers {
		orders = append(orders, broker.OutboundMessage{
			Key:        c,
			Data:       fmt.Appendf(nil, "order-%d", i+1),
			Attributes: map[string]any{"source": "pubsub"},
		})
	}
	if err := in.BatchPublish(ctx, orders...); err != nil {
		return err
	}
	fmt.Fprintf(w, "published %d orders to Pub/Sub\n", len(orders))

	// The bridge: a Pub/Sub consumer and a Kafka topic, joined by forward.
	src, err := ps.Subscribe(ctx, "to-kafka", pubsub.ReceiveConfig{MaxBatch: 100, MaxWait: 50 * time.Millisecond})
	if err != nil {
		return err
	}
	kpub, err := kafka.NewPublisher(ctx, kcfg)
	if err != nil {
		src.Close()
		return err
	}
	defer kpub.Close()
	dst, err := kpub.Topic("orders")
	if err != nil {
		src.Close()
		return err
	}
	bridgeCtx, stopBridge := context.WithCancel(ctx)
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := forward(bridgeCtx, src, dst)
		done <- result{n, err}
	}()

	// Read Kafka as a log until every order arrived: per partition (so per
	// customer) in publishing order.
	group, err := kafka.JoinGroup(ctx, kcfg, "shipping", []string{"orders"}, kafka.LogOptions{})
	if err != nil {
		stopBridge()
		<-done
		src.Close()
		return err
	}
	defer group.Close()
	perCustomer := map[string][]string{}
	for got := 0; got < len(orders); got++ {
		r, err := group.NextRecord(ctx)
		if err != nil {
			stopBridge()
			<-done
			src.Close()
			return err
		}
		perCustomer[r.Key] = append(perCustomer[r.Key], string(r.Value))
		r.Ack()
	}

	// Stop the bridge, then close its source: Close nacks anything it
	// still held, so nothing pulled is lost.
	stopBridge()
	res := <-done
	if err := src.Close(); err != nil {
		return err
	}
	if res.err != nil {
		return res.err
	}
	fmt.Fprintf(w, "bridge forwarded %d messages\n", res.n)
	for _, c := range []string{"alice", "bob", "carol"} {
		fmt.Fprintf(w, "kafka %-5s %v\n", c, perCustomer[c])
	}
	return nil
}
