package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/kafka"
)

// testCtx is a context for one test, ended when it ends or after 30 s.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (tc *testCluster) topic(t *testing.T, partitions int, configs map[string]*string) string {
	t.Helper()
	name := unique("t")
	if err := tc.createTopic(testCtx(t), t, name, partitions, configs); err != nil {
		t.Fatalf("creating topic %s: %v", name, err)
	}
	return name
}

func (tc *testCluster) publisher(t *testing.T) *kafka.Publisher {
	t.Helper()
	p, err := kafka.NewPublisher(testCtx(t), tc.cfg)
	if err != nil {
		t.Fatalf("NewPublisher: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func (tc *testCluster) join(t *testing.T, topic, group string, o kafka.LogOptions) *kafka.LogConsumer {
	t.Helper()
	c, err := kafka.JoinGroup(testCtx(t), tc.cfg, group, []string{topic}, o)
	if err != nil {
		t.Fatalf("JoinGroup: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// publishN publishes records "v0".."v<n-1>" with keys "k<i>" in one batch.
func publishN(t *testing.T, p broker.Publisher, topic string, n int, prefix string) {
	t.Helper()
	tp, err := p.Topic(topic)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]broker.OutboundMessage, n)
	for i := range msgs {
		msgs[i] = broker.OutboundMessage{Key: fmt.Sprint("k", i), Data: fmt.Appendf(nil, "%s%d", prefix, i)}
	}
	if err := tp.BatchPublish(testCtx(t), msgs...); err != nil {
		t.Fatalf("BatchPublish: %v", err)
	}
}

// readAll reads records until none arrives for quiet, acking none.
func readAll(t *testing.T, c *kafka.LogConsumer, quiet time.Duration) []broker.Record {
	t.Helper()
	var out []broker.Record
	for {
		ctx, cancel := context.WithTimeout(testCtx(t), quiet)
		r, err := c.NextRecord(ctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return out
			}
			t.Fatalf("NextRecord: %v", err)
		}
		out = append(out, r)
	}
}

func values(rs []broker.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Value)
	}
	return out
}
