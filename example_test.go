package broker_test

import (
	"context"
	"fmt"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/adapters"
	"github.com/pullkit/broker/inmem"
)

// A queue consumer loop: range over the messages of an iterator and settle
// each one on its own.
func ExampleMessages() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b := inmem.New()
	defer b.Close()
	sub, _ := b.Subscribe("jobs", "workers", inmem.QueueConfig{})
	defer sub.Close()
	topic, _ := b.Publisher().Topic("jobs")
	for _, job := range []string{"resize", "fail", "upload"} {
		_ = topic.Publish(ctx, broker.OutboundMessage{Data: []byte(job)})
	}

	done := 0
	for msg, err := range broker.Messages(ctx, sub) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		if string(msg.Data) == "fail" && msg.DeliveryCount == 1 {
			msg.Nack() // comes back with DeliveryCount 2
			continue
		}
		fmt.Printf("%s (delivery %d)\n", msg.Data, msg.DeliveryCount)
		msg.Ack()
		if done++; done == 3 {
			break
		}
	}
	// Output:
	// resize (delivery 1)
	// upload (delivery 1)
	// fail (delivery 2)
}

// A log consumer as a worker pool: the record receiver keeps each
// partition's records in order and commits only offsets below which every
// record was acked.
func ExampleRecords() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b := inmem.New()
	defer b.Close()
	_ = b.CreateTopic("events", 1)
	topic, _ := b.Publisher().Topic("events")
	for i := range 5 {
		_ = topic.Publish(ctx, broker.OutboundMessage{Key: "device-1", Data: fmt.Appendf(nil, "reading-%d", i)})
	}
	group, _ := b.JoinGroup("events", "dashboard", inmem.LogConfig{})
	defer group.Close()

	rctx, stop := context.WithCancel(ctx)
	seen := 0
	recv := adapters.RecordIteratorToRecordReceiver(group, adapters.WithWorkers(4))
	_ = recv.Receive(rctx, func(_ context.Context, r broker.Record) {
		fmt.Printf("%s at offset %d\n", r.Value, r.Offset)
		r.Ack()
		if seen++; seen == 5 { // one partition: one worker at a time
			stop()
		}
	})
	next, _ := b.Committed("events", "dashboard", 0)
	fmt.Println("next offset to read:", next)
	// Output:
	// reading-0 at offset 0
	// reading-1 at offset 1
	// reading-2 at offset 2
	// reading-3 at offset 3
	// reading-4 at offset 4
	// next offset to read: 5
}
