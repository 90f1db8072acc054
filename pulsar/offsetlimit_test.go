package pulsar_test

import (
	"context"
	"errors"
	"testing"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pulsar"
)

// A record whose message id does not fit an offset (here batch index 4096,
// from a producer batching more than 4096 messages per entry) stops the log
// consumer, as the package doc says: the records before it are handed out,
// then every call fails with ErrUnsupported, and none of the later records
// is handed out (their commits would cover the one skipped).
func TestLogConsumerStopsAtAnIDOutsideTheOffsetPacking(t *testing.T) {
	tg := targets(t)[0] // pulsartest: a real cluster may refuse such batches
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := tg.newClient(t)
	topic := uniqueTopic("offset-limit")
	const n = 4100
	p, err := c.Native().CreateProducer(pc.ProducerOptions{
		Topic: topic, BatchingMaxMessages: n, BatchingMaxSize: 1 << 20, BatchingMaxPublishDelay: time.Minute, MaxPendingMessages: 2 * n,
	})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, n)
	for range n {
		p.SendAsync(ctx, &pc.ProducerMessage{Payload: []byte("x")}, func(_ pc.MessageID, _ *pc.ProducerMessage, err error) { errs <- err })
	}
	if err := p.FlushWithCtx(ctx); err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	p.Close()

	lc, err := c.JoinGroup(ctx, topic, "g", pulsar.LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	got := 0
	var stop error
	for stop == nil {
		rs, err := lc.NextBatch(ctx)
		if err != nil {
			stop = err
			break
		}
		got += len(rs)
		rs[len(rs)-1].Ack()
	}
	if !errors.Is(stop, broker.ErrUnsupported) {
		t.Fatalf("NextBatch after %d records: %v, want ErrUnsupported", got, stop)
	}
	if got != 4096 {
		t.Errorf("handed out %d records before stopping, want 4096 (batch indexes 0-4095)", got)
	}
	if _, err := lc.NextRecord(ctx); !errors.Is(err, broker.ErrUnsupported) {
		t.Errorf("NextRecord after the stop: %v, want ErrUnsupported", err)
	}
}
