package pulsar_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pulsar"
)

// publishKeyed publishes n messages for each of keys, interleaved, in
// batches, with payload "<key>:<i>".
func publishKeyed(t *testing.T, ctx context.Context, c *pulsar.Client, cfg pulsar.PublisherConfig, topic string, keys []string, n int) {
	t.Helper()
	pub, err := c.Publisher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	tp, err := pub.Topic(topic)
	if err != nil {
		t.Fatal(err)
	}
	var batch []broker.OutboundMessage
	for i := range n {
		for _, k := range keys {
			batch = append(batch, broker.OutboundMessage{Key: k, Data: fmt.Appendf(nil, "%s:%d", k, i)})
		}
		if len(batch) >= 50 {
			if err := tp.BatchPublish(ctx, batch...); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		if err := tp.BatchPublish(ctx, batch...); err != nil {
			t.Fatal(err)
		}
	}
}

// orderChecker records, per key, that payloads "<key>:<i>" arrive with i
// increasing by one.
type orderChecker struct {
	t    *testing.T
	mu   sync.Mutex
	next map[string]int
	part map[string]int64
	n    int
}

func (o *orderChecker) see(key string, data []byte, partition int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var k string
	var i int
	if _, err := fmt.Sscanf(string(data), "%1s:%d", &k, &i); err != nil || k != key {
		o.t.Errorf("payload %q with key %q", data, key)
		return
	}
	if i != o.next[key] {
		o.t.Errorf("key %q: got message %d, want %d", key, i, o.next[key])
	}
	o.next[key] = i + 1
	if p, ok := o.part[key]; ok && p != partition && partition >= 0 {
		o.t.Errorf("key %q in partitions %d and %d", key, p, partition)
	}
	if partition >= 0 {
		o.part[key] = partition
	}
	o.n++
}

func TestPartitionedTopicWithKeysKeepsPerKeyOrder(t *testing.T) {
	tg := targets(t)[0]
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	const perKey = 50

	t.Run("log", func(t *testing.T) {
		c := tg.newClient(t)
		ctx := ctxFor(t)
		name := uniqueTopic("keyed-log")
		if err := tg.srv.CreateTopic(name, 4); err != nil {
			t.Fatal(err)
		}
		publishKeyed(t, ctx, c, pulsar.PublisherConfig{}, name, keys, perKey)
		lc, err := c.JoinGroup(ctx, name, "g", pulsar.LogConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer lc.Close()
		o := &orderChecker{t: t, next: map[string]int{}, part: map[string]int64{}}
		parts := map[int64]bool{}
		for o.n < len(keys)*perKey {
			recs, err := lc.NextBatch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				o.see(r.Key, r.Value, r.Partition)
				parts[r.Partition] = true
			}
			recs[len(recs)-1].Ack()
		}
		if len(parts) < 2 {
			t.Errorf("8 keys all landed in partitions %v of 4", parts)
		}
	})

	t.Run("KeyShared queue", func(t *testing.T) {
		c := tg.newClient(t)
		ctx := ctxFor(t)
		name := uniqueTopic("keyed-queue")
		if err := tg.srv.CreateTopic(name, 4); err != nil {
			t.Fatal(err)
		}
		var subs []*pulsar.QueueConsumer
		for range 2 {
			q, err := c.Subscribe(ctx, name, "ks", pulsar.QueueConfig{KeyShared: true})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			subs = append(subs, q)
		}
		publishKeyed(t, ctx, c, pulsar.PublisherConfig{KeyBasedBatching: true}, name, keys, perKey)
		o := &orderChecker{t: t, next: map[string]int{}, part: map[string]int64{}}
		total := len(keys) * perKey
		rctx, cancel := context.WithCancel(ctx) // ends the receiving
		defer cancel()
		var wg sync.WaitGroup
		for _, q := range subs {
			wg.Go(func() {
				for {
					m, err := q.NextMessage(rctx)
					if err != nil {
						return
					}
					o.see(m.Key, m.Data, -1)
					if err := m.AckContext(ctx); err != nil {
						t.Errorf("AckContext: %v", err)
					}
					o.mu.Lock()
					done := o.n == total
					o.mu.Unlock()
					if done {
						cancel()
					}
				}
			})
		}
		wg.Wait()
		if o.n != total {
			t.Errorf("received %d of %d", o.n, total)
		}
	})
}
