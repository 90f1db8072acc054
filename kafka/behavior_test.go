package kafka_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/kafka"
)

// TestShareConsumerDoesNotPollPastHeldMessages: franz-go would accept the
// held messages of a poll on the next poll, so NextMessage waits (honouring
// its ctx) until they are settled, and nothing held is lost meanwhile.
func TestShareConsumerDoesNotPollPastHeldMessages(t *testing.T) {
	tc := startFake(t)
	topic := tc.topic(t, 1, nil)
	q, err := kafka.JoinShareGroup(testCtx(t), shareConfig(tc.cfg), unique("share"), []string{topic}, kafka.QueueOptions{StartOffset: kafka.StartEarliest, MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	p := tc.publisher(t)
	publishN(t, p, topic, 1, "first")
	held, err := q.NextMessage(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, p, topic, 1, "second")
	ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
	_, err = q.NextMessage(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("NextMessage while the previous poll's message is held: got %v, want to wait until ctx ends", err)
	}
	// Nacking the held message lets the consumer poll: both come.
	held.Nack()
	seen := map[string]int{}
	for len(seen) < 2 {
		m, err := q.NextMessage(testCtx(t))
		if err != nil {
			t.Fatalf("NextMessage after settling: %v (seen %v)", err, seen)
		}
		seen[string(m.Data)] = m.DeliveryCount
		if err := m.AckContext(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	if seen["first0"] != 2 || seen["second0"] != 1 {
		t.Errorf("delivery counts %v, want first0 redelivered (2) and second0 once (1)", seen)
	}
}

// TestBatchPublishReturnsPromptlyWithUnknownStatusesWhenCtxEnds: a broker
// that holds the produce response does not hold BatchPublish past its ctx;
// the messages it handed over are reported unknown, not failed.
func TestBatchPublishReturnsPromptlyWithUnknownStatusesWhenCtxEnds(t *testing.T) {
	tc := startFake(t)
	topic := tc.topic(t, 1, nil)
	tp, err := tc.publisher(t).Topic(topic)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer close(release)
	tc.fake.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		tc.fake.KeepControl()
		tc.fake.SleepControl(func() { <-release })
		return nil, nil, false
	})
	ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = tp.BatchPublish(ctx, broker.OutboundMessage{Data: []byte("a")}, broker.OutboundMessage{Data: []byte("b")})
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("BatchPublish returned %v after its ctx ended", waited)
	}
	var be *broker.BatchError
	if !errors.As(err, &be) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("BatchPublish with a held produce: got %v, want a *broker.BatchError matching context.DeadlineExceeded", err)
	}
	for i, st := range be.Status {
		if st != broker.PublishUnknown {
			t.Errorf("message %d: %v, want unknown (it may have been written)", i, st)
		}
	}
}

// TestHeadersFromOtherProducersAreStringAttributes: headers without a type
// header come back as strings; type headers are hidden.
func TestHeadersFromOtherProducersAreStringAttributes(t *testing.T) {
	tc := startFake(t)
	topic := tc.topic(t, 1, nil)
	raw := tc.rawClient(t)
	if err := raw.ProduceSync(testCtx(t), &kgo.Record{Topic: topic, Value: []byte("x"), Headers: []kgo.RecordHeader{
		{Key: "trace", Value: []byte("abc")},
		{Key: "n", Value: []byte("7")},
		{Key: "pullkit.type.n", Value: []byte("int64")},
		{Key: "bad", Value: []byte("not-a-number")},
		{Key: "pullkit.type.bad", Value: []byte("int64")},
	}}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	c := tc.join(t, topic, unique("group"), kafka.LogOptions{})
	r, err := c.NextRecord(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"trace": "abc", "n": int64(7), "bad": "not-a-number"}
	if len(r.Attributes) != len(want) {
		t.Errorf("attributes %v, want %v", r.Attributes, want)
	}
	for k, v := range want {
		if r.Attributes[k] != v {
			t.Errorf("attribute %q: got %#v, want %#v", k, r.Attributes[k], v)
		}
	}
}
