package kafka_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/adapters"
	"github.com/pullkit/broker/kafka"
)

// TestRecordReceiverOverAConsumerGroupCommitsEverything: the adapters'
// record receiver runs handlers on the group's records (per-partition
// order kept, acks turned into a contiguous watermark commit), and a
// reopened group finds everything committed.
func TestRecordReceiverOverAConsumerGroupCommitsEverything(t *testing.T) {
	tc := startFake(t)
	topic, group := tc.topic(t, 4, nil), unique("group")
	const n = 200
	publishN(t, tc.publisher(t), topic, n, "v")

	c := tc.join(t, topic, group, kafka.LogOptions{MaxBatch: 20})
	rr := adapters.BatchedIteratorToRecordReceiver(c, adapters.WithWorkers(4))
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		last = map[int64]int64{}
	)
	err := rr.Receive(ctx, func(_ context.Context, r broker.Record) {
		mu.Lock()
		defer mu.Unlock()
		if off, ok := last[r.Partition]; ok && r.Offset <= off {
			t.Errorf("partition %d: offset %d after %d", r.Partition, r.Offset, off)
		}
		last[r.Partition] = r.Offset
		seen[string(r.Value)] = true
		r.Ack()
		if len(seen) == n {
			cancel()
		}
	})
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if len(seen) != n {
		t.Fatalf("handled %d of %d records", len(seen), n)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	again := tc.join(t, topic, group, kafka.LogOptions{})
	if rs := readAll(t, again, 500*time.Millisecond); len(rs) > 0 {
		t.Errorf("reopened group replayed %d records, e.g. %s", len(rs), fmt.Sprint(values(rs[:1])))
	}
}
