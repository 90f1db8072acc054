package jetstream_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/jetstream"
)

func TestAttributesAndKeysThatAreNotPlainHeaderValuesRoundTrip(t *testing.T) {
	c, subject, q := queueFixture(t, jetstream.QueueConfig{})
	tp, err := c.Publisher(jetstream.PublisherConfig{}).Topic(subject)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	attrs := map[string]any{
		"leading-space": "  indented",
		"multi-line":    "a\r\nb\nc",
		"nul":           "a\x00b",
		"unicode":       "héllo ✓",
		"empty":         "",
		"max-uint":      ^uint64(0),
		"min-int":       int64(-1 << 63),
		"neg-duration":  -3 * time.Nanosecond,
		"zone":          time.Date(2026, 5, 6, 7, 8, 9, 10, time.FixedZone("X", 3600)),
		"empty-bytes":   []byte{},
	}
	key := "\tkey with\nnewline"
	if err := tp.Publish(ctx, broker.OutboundMessage{Key: key, Data: []byte("x"), Attributes: attrs}); err != nil {
		t.Fatal(err)
	}
	m, err := q.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Ack()
	if m.Key != key {
		t.Errorf("key %q came back as %q", key, m.Key)
	}
	for k, want := range attrs {
		got := m.Attributes[k]
		if wt, ok := want.(time.Time); ok {
			if gt, ok := got.(time.Time); !ok || !gt.Equal(wt) {
				t.Errorf("attribute %q: got %#v, want %v", k, got, wt)
			}
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("attribute %q: got %#v (%T), want %#v (%T)", k, got, got, want, want)
		}
	}
	for k := range m.Attributes {
		if _, ok := attrs[k]; !ok {
			t.Errorf("unexpected attribute %q", k)
		}
	}
}

func TestHeadersFromOtherClientsArriveAsStringAttributes(t *testing.T) {
	c, subject, q := queueFixture(t, jetstream.QueueConfig{})
	ctx := testCtx(t)
	// A plain nats.go publisher, unaware of this package's encoding.
	msg := nats.NewMsg(subject)
	msg.Header.Set("Trace-Id", "abc")
	msg.Header.Set("Count", "7")
	msg.Data = []byte("raw")
	if _, err := c.JetStream().PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	m, err := q.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Ack()
	if m.Attributes["Trace-Id"] != "abc" || m.Attributes["Count"] != "7" || m.Key != "" {
		t.Errorf("got key %q and attributes %v", m.Key, m.Attributes)
	}
}

func TestNatsMsgIdAttributeDeduplicates(t *testing.T) {
	c, subject, q := queueFixture(t, jetstream.QueueConfig{})
	tp, err := c.Publisher(jetstream.PublisherConfig{}).Topic(subject)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	withID := broker.OutboundMessage{Data: []byte("once"), Attributes: map[string]any{jetstream.MsgIDAttribute: "id-1"}}
	for range 3 {
		if err := tp.Publish(ctx, withID); err != nil {
			t.Fatal(err)
		}
	}
	if err := tp.BatchPublish(ctx, withID, withID); err != nil {
		t.Fatal(err)
	}
	m, err := q.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m.Ack()
	if m, ok := nextWithin(t, q, 300*time.Millisecond); ok {
		t.Errorf("duplicate %q with the same %s delivered", m.Data, jetstream.MsgIDAttribute)
	}
}

func TestBatchPublishLargerThanItsWindowConfirmsEveryMessage(t *testing.T) {
	c, subject, q := queueFixture(t, jetstream.QueueConfig{MaxBatch: 500})
	tp, err := c.Publisher(jetstream.PublisherConfig{MaxInFlight: 16}).Topic(subject)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	msgs := make([]broker.OutboundMessage, 1000)
	for i := range msgs {
		msgs[i] = broker.OutboundMessage{Data: []byte{byte(i), byte(i >> 8)}}
	}
	if err := tp.BatchPublish(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	seen := map[[2]byte]bool{}
	for len(seen) < len(msgs) {
		b, err := q.NextBatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range b {
			seen[[2]byte{m.Data[0], m.Data[1]}] = true
			m.Ack()
		}
	}
}

func TestBatchPublishWithAContextEndingMidwayReportsEachMessage(t *testing.T) {
	c, subject, _ := queueFixture(t, jetstream.QueueConfig{})
	tp, err := c.Publisher(jetstream.PublisherConfig{MaxInFlight: 4}).Topic(subject)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]broker.OutboundMessage, 2000)
	ctx, cancel := context.WithTimeout(testCtx(t), time.Millisecond)
	defer cancel()
	time.Sleep(2 * time.Millisecond)
	if err := tp.BatchPublish(ctx, msgs...); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("BatchPublish with an ended context: got %v", err)
	}
	// Cancel while the batch is in flight: every message has a status and
	// the confirmed ones have no error.
	ctx2, cancel2 := context.WithCancel(testCtx(t))
	go func() { time.Sleep(time.Millisecond); cancel2() }()
	err = tp.BatchPublish(ctx2, msgs...)
	var be *broker.BatchError
	if err == nil {
		return // the machine was fast enough to confirm all
	}
	if !errors.As(err, &be) || len(be.Status) != len(msgs) {
		t.Fatalf("got %v, want a *broker.BatchError for %d messages", err, len(msgs))
	}
	for i, st := range be.Status {
		if (st == broker.PublishSent) != (be.Errs[i] == nil) {
			t.Errorf("message %d: status %v with error %v", i, st, be.Errs[i])
		}
	}
	t.Logf("sent %d, failed %d, unknown %d", len(be.Indexes(broker.PublishSent)), len(be.Indexes(broker.PublishFailed)), len(be.Indexes(broker.PublishUnknown)))
}
