package kafka_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/kafka"
)

// Broker errors injected with kfake's fault hooks: retried when Kafka says
// they may be, surfaced otherwise, never dropped silently.

func TestProduceErrorThatMayHaveAppendedIsRetriedWithoutDuplicates(t *testing.T) {
	tc := startFake(t)
	topic := tc.topic(t, 1, nil)
	p := tc.publisher(t)
	// REQUEST_TIMED_OUT after appending: the client retries, and
	// idempotence makes the broker drop the duplicate.
	h := tc.fake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: kerr.RequestTimedOut, Count: 1})
	publishN(t, p, topic, 3, "v")
	if h.Hits() == 0 {
		t.Fatal("the fault never fired")
	}
	c := tc.join(t, topic, unique("group"), kafka.LogOptions{})
	if got := values(readAll(t, c, 500*time.Millisecond)); !slices.Equal(got, []string{"v0", "v1", "v2"}) {
		t.Errorf("after a retried produce the topic holds %v, want [v0 v1 v2] once each", got)
	}
}

func TestProduceErrorThatIsFinalIsReportedPerMessage(t *testing.T) {
	tc := startFake(t)
	topic := tc.topic(t, 1, nil)
	tp, err := tc.publisher(t).Topic(topic)
	if err != nil {
		t.Fatal(err)
	}
	tc.fake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: kerr.InvalidRecord, Count: -1})
	err = tp.Publish(testCtx(t), broker.OutboundMessage{Data: []byte("x")})
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Errorf("Publish refused by the broker: got %v, want the broker's INVALID_RECORD", err)
	}
	err = tp.BatchPublish(testCtx(t), broker.OutboundMessage{Data: []byte("a")}, broker.OutboundMessage{Data: []byte("b")})
	var be *broker.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("BatchPublish refused by the broker: got %v, want a *broker.BatchError", err)
	}
	for i, st := range be.Status {
		if st != broker.PublishFailed || !errors.Is(be.Errs[i], kerr.InvalidRecord) {
			t.Errorf("message %d: status %v, error %v; want failed with INVALID_RECORD", i, st, be.Errs[i])
		}
	}
}

func TestCommitErrorIsSurfacedAndTheCommitRetried(t *testing.T) {
	tc := startFake(t)
	topic, group := tc.topic(t, 1, nil), unique("group")
	publishN(t, tc.publisher(t), topic, 4, "v")
	c := tc.join(t, topic, group, kafka.LogOptions{})
	recs := readAll(t, c, 500*time.Millisecond)
	if len(recs) != 4 {
		t.Fatalf("read %d records, want 4", len(recs))
	}

	// A confirmed ack reports the broker's refusal.
	h := tc.fake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Err: kerr.OffsetMetadataTooLarge, Count: 1})
	if err := recs[0].AckContext(testCtx(t)); !errors.Is(err, kerr.OffsetMetadataTooLarge) {
		t.Errorf("AckContext of a refused commit: got %v, want the broker's OFFSET_METADATA_TOO_LARGE", err)
	}
	if h.Hits() != 1 {
		t.Errorf("the commit fault answered %d requests, want 1", h.Hits())
	}
	// Every failure is also reported once on the next call.
	if _, err := c.NextRecord(testCtx(t)); !errors.Is(err, kerr.OffsetMetadataTooLarge) {
		t.Errorf("NextRecord after the failed commit: got %v, want OFFSET_METADATA_TOO_LARGE", err)
	}

	// A fire-and-forget ack's failure comes back on the next NextRecord.
	tc.fake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Err: kerr.OffsetMetadataTooLarge, Count: 1})
	recs[1].Ack()
	var surfaced error
	for surfaced == nil {
		ctx, cancel := context.WithTimeout(testCtx(t), 50*time.Millisecond)
		_, surfaced = c.NextRecord(ctx)
		cancel()
		if errors.Is(surfaced, context.DeadlineExceeded) {
			surfaced = nil
		}
	}
	if !errors.Is(surfaced, kerr.OffsetMetadataTooLarge) {
		t.Errorf("NextRecord after a failed commit: got %v, want the commit's OFFSET_METADATA_TOO_LARGE", surfaced)
	}

	// The committer retried: after Close the group resumes after record 1.
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	c2 := tc.join(t, topic, group, kafka.LogOptions{})
	if got := values(readAll(t, c2, 500*time.Millisecond)); !slices.Equal(got, []string{"v2", "v3"}) {
		t.Errorf("after the retried commit the group resumed with %v, want [v2 v3]", got)
	}
}

func TestCommitErrorGoesToTheCallbackWhenOneIsSet(t *testing.T) {
	tc := startFake(t)
	topic := tc.topic(t, 1, nil)
	publishN(t, tc.publisher(t), topic, 2, "v")
	var (
		mu   sync.Mutex
		errs []error
	)
	c := tc.join(t, topic, unique("group"), kafka.LogOptions{OnCommitError: func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}})
	recs := readAll(t, c, 500*time.Millisecond)
	tc.fake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Err: kerr.OffsetMetadataTooLarge, Count: 1})
	recs[0].Ack()
	if err := recs[1].AckContext(testCtx(t)); err != nil {
		// The first commit may have carried both acks.
		if !errors.Is(err, kerr.OffsetMetadataTooLarge) {
			t.Fatalf("AckContext: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) == 0 || !errors.Is(errs[0], kerr.OffsetMetadataTooLarge) {
		t.Errorf("OnCommitError got %v, want the commit's OFFSET_METADATA_TOO_LARGE", errs)
	}
}
