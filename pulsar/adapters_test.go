package pulsar_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/adapters"
	"github.com/pullkit/broker/pulsar"
)

// A record receiver from package adapters over a LogConsumer: workers ack
// in any order, the receiver commits each partition's contiguous watermark
// (through sparse offsets), and a reopened group finds everything committed.
func TestRecordReceiverCommitsEveryRecordThroughTheWatermark(t *testing.T) {
	tg := targets(t)[0]
	c := tg.newClient(t)
	ctx := ctxFor(t)
	name := uniqueTopic("receiver")
	if err := tg.srv.CreateTopic(name, 3); err != nil {
		t.Fatal(err)
	}
	keys := []string{"a", "b", "c", "d", "e", "f"}
	const perKey = 40
	publishKeyed(t, ctx, c, pulsar.PublisherConfig{}, name, keys, perKey)

	lc, err := c.JoinGroup(ctx, name, "g", pulsar.LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	o := &orderChecker{t: t, next: map[string]int{}, part: map[string]int64{}}
	var mu sync.Mutex
	seen := 0
	rcv := adapters.RecordIteratorToRecordReceiver(lc, adapters.WithWorkers(4), adapters.WithKeyOrder())
	err = rcv.Receive(rctx, func(_ context.Context, r broker.Record) {
		o.see(r.Key, r.Value, r.Partition)
		r.Ack()
		mu.Lock()
		seen++
		if seen == len(keys)*perKey {
			cancel()
		}
		mu.Unlock()
	})
	if err != nil && rctx.Err() == nil {
		t.Fatalf("Receive: %v", err)
	}
	if err := lc.Close(); err != nil {
		t.Fatalf("consumer Close: %v", err)
	}
	if seen != len(keys)*perKey {
		t.Fatalf("handled %d of %d records", seen, len(keys)*perKey)
	}

	again, err := c.JoinGroup(ctx, name, "g", pulsar.LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	short, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	defer stop()
	if r, err := again.NextRecord(short); err == nil {
		t.Errorf("record %q (partition %d offset %d) read again after everything was committed", r.Value, r.Partition, r.Offset)
	}
}
