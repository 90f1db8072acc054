package kafka_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/kafka"
)

// TestRebalanceWithRecordsInFlightLosesAndReplaysNothingCommitted: a first
// member holds a batch of unacked records when a second member joins, acks
// them after the rebalance took some of their partitions, then leaves. Every
// record is processed, acks of revoked partitions are refused, and no record
// whose commit was confirmed is ever read again, by either member or by a
// third one joining afterwards.
func TestRebalanceWithRecordsInFlightLosesAndReplaysNothingCommitted(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			tc := tg.cluster(t)
			topic, group := tc.topic(t, 4, nil), unique("group")
			const n = 400
			publishN(t, tc.publisher(t), topic, n, "v")

			var (
				mu        sync.Mutex
				processed = map[string]int{}
				committed = map[int64]int64{} // partition → one past the highest confirmed commit
			)
			// see checks a record against the confirmed commits and counts it.
			see := func(who string, r broker.Record) {
				mu.Lock()
				defer mu.Unlock()
				if r.Offset < committed[r.Partition] {
					t.Errorf("%s read %q at partition %d offset %d below the confirmed commit %d", who, r.Value, r.Partition, r.Offset, committed[r.Partition])
				}
				processed[string(r.Value)]++
			}
			ack := func(who string, r broker.Record) error {
				err := r.AckContext(testCtx(t))
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					committed[r.Partition] = max(committed[r.Partition], r.Offset+1)
				}
				return err
			}

			c1 := tc.join(t, topic, group, kafka.LogOptions{MaxBatch: 50})
			revoked := make(chan []broker.TopicPartition, 8)
			unregister := c1.OnRevoke(func(tps []broker.TopicPartition) { revoked <- tps })
			defer unregister()

			// c1 takes a batch and holds it while c2 joins.
			held, err := c1.NextBatch(testCtx(t))
			if err != nil {
				t.Fatalf("first NextBatch: %v", err)
			}
			for _, r := range held {
				see("c1", r)
			}
			c2 := tc.join(t, topic, group, kafka.LogOptions{MaxBatch: 50})
			var lost []broker.TopicPartition
			for lost == nil {
				select {
				case lost = <-revoked:
				default:
					// c1 lets the rebalance proceed on its next poll.
					ctx, cancel := context.WithTimeout(testCtx(t), 50*time.Millisecond)
					rs, err := c1.NextBatch(ctx)
					cancel()
					if err != nil && ctx.Err() == nil {
						t.Fatalf("c1 NextBatch during the rebalance: %v", err)
					}
					for _, r := range rs {
						see("c1", r)
						held = append(held, r)
					}
				}
			}
			isLost := map[int64]bool{}
			for _, tp := range lost {
				isLost[tp.Partition] = true
			}
			refused := 0
			for _, r := range held {
				err := ack("c1", r)
				switch {
				case isLost[r.Partition] && !errors.Is(err, broker.ErrPartitionRevoked):
					t.Errorf("ack of %q of revoked partition %d: got %v, want ErrPartitionRevoked", r.Value, r.Partition, err)
				case !isLost[r.Partition] && err != nil && !errors.Is(err, broker.ErrPartitionRevoked):
					t.Errorf("ack of %q: %v", r.Value, err)
				case err != nil:
					refused++
				}
			}
			t.Logf("c1 held %d records, lost partitions %v, %d acks refused", len(held), lost, refused)

			// Both consume; c1 leaves after a while, handing everything to c2.
			ctx, cancel := context.WithCancel(testCtx(t))
			defer cancel()
			consume := func(who string, c *kafka.LogConsumer, quota int) {
				for i := 0; quota == 0 || i < quota; i++ {
					batch, err := c.NextBatch(ctx)
					if err != nil {
						if ctx.Err() == nil {
							t.Errorf("%s NextBatch: %v", who, err)
						}
						return
					}
					for _, r := range batch {
						see(who, r)
						if err := ack(who, r); err != nil && !errors.Is(err, broker.ErrPartitionRevoked) && ctx.Err() == nil {
							t.Errorf("%s ack of %q: %v", who, r.Value, err)
						}
					}
					mu.Lock()
					done := len(processed) == n
					mu.Unlock()
					if done {
						cancel()
					}
				}
			}
			var wg sync.WaitGroup
			wg.Go(func() {
				consume("c1", c1, 2)
				if err := c1.Close(); err != nil {
					t.Errorf("c1 Close: %v", err)
				}
			})
			wg.Go(func() { consume("c2", c2, 0) })
			wg.Wait()
			if len(processed) != n {
				t.Fatalf("%d of %d records processed: lost in the rebalance", len(processed), n)
			}
			if err := c2.Close(); err != nil {
				t.Fatalf("c2 Close: %v", err)
			}
			// Everything was acked: a new member reads nothing again.
			c3 := tc.join(t, topic, group, kafka.LogOptions{})
			for _, r := range readAll(t, c3, 500*time.Millisecond) {
				see("c3", r)
			}
		})
	}
}
