package pulsar_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pulsar"
)

func TestFailoverRevokesOnlyPartitionsTheConsumerHad(t *testing.T) {
	tg := targets(t)[0]
	c := tg.newClient(t)
	ctx := ctxFor(t)
	name := uniqueTopic("revoke")
	if err := tg.srv.CreateTopic(name, 2); err != nil {
		t.Fatal(err)
	}
	publishKeyed(t, ctx, c, pulsar.PublisherConfig{}, name, []string{"a", "b", "c", "d"}, 5)

	var mu sync.Mutex
	revoked := map[int][]broker.TopicPartition{}
	join := func(i int, consumerName string) *pulsar.LogConsumer {
		lc, err := c.JoinGroup(ctx, name, "g", pulsar.LogConfig{ConsumerName: consumerName})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = lc.Close() })
		lc.OnRevoke(func(tps []broker.TopicPartition) {
			mu.Lock()
			revoked[i] = append(revoked[i], tps...)
			mu.Unlock()
		})
		return lc
	}
	first := join(1, "a-first")
	held := map[int64]broker.Record{}
	for len(held) < 2 { // one record of each partition, unacked
		r, err := first.NextRecord(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := held[r.Partition]; !ok {
			held[r.Partition] = r
		}
	}
	join(2, "b-second") // takes one partition over
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n1, n2 := len(revoked[1]), len(revoked[2])
		mu.Unlock()
		if n1 == 1 {
			if n2 != 0 {
				t.Errorf("the joining consumer was told it lost %d partitions it never had", n2)
			}
			break
		}
		if n1 > 1 || time.Now().After(deadline) {
			t.Fatalf("first consumer revoked %v, want one partition", revoked[1])
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	lost := revoked[1][0]
	mu.Unlock()
	if lost.Topic != name {
		t.Errorf("revoked %v, want a partition of %q", lost, name)
	}
	lostRec, keptRec := held[lost.Partition], held[1-lost.Partition]
	if err := lostRec.AckContext(ctx); !errors.Is(err, broker.ErrPartitionRevoked) {
		t.Errorf("ack of a record of the revoked partition: %v, want ErrPartitionRevoked", err)
	}
	if err := keptRec.AckContext(ctx); err != nil {
		t.Errorf("ack of a record of the kept partition: %v", err)
	}
}
