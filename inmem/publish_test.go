package inmem

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/pullkit/broker"
)

func TestPublishRefusesBadInput(t *testing.T) {
	b := newBroker(t, WithMaxMessageSize(8))
	pub := b.Publisher()
	tp, err := pub.Topic("t")
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	sub := subscribe(t, b, "t", "s", QueueConfig{})

	wantErr(t, tp.Publish(ctx, broker.OutboundMessage{Attributes: map[string]any{"k": nil}}), broker.ErrInvalidAttribute)
	wantErr(t, tp.Publish(ctx, broker.OutboundMessage{Attributes: map[string]any{"k": struct{}{}}}), broker.ErrInvalidAttribute)
	wantErr(t, tp.Publish(ctx, broker.OutboundMessage{Attributes: map[string]any{"": "v"}}), broker.ErrInvalidAttribute)
	wantErr(t, tp.Publish(ctx, broker.OutboundMessage{Data: []byte("123456789")}), broker.ErrMessageTooLarge)
	if err := tp.Publish(ctx, broker.OutboundMessage{Data: []byte("12345678")}); err != nil {
		t.Fatalf("message at the size limit: %v", err)
	}
	_, err = pub.Topic("")
	wantErr(t, err, broker.ErrInvalidTopic)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	wantErr(t, tp.Publish(canceled, broker.OutboundMessage{}), context.Canceled)

	if n := available(sub); n != 1 {
		t.Fatalf("%d messages published, want only the valid one", n)
	}
}

func TestBatchPublishSendsNoneIfOneIsInvalid(t *testing.T) {
	b := newBroker(t, WithMaxMessageSize(4))
	sub := subscribe(t, b, "t", "s", QueueConfig{})
	tp, _ := b.Publisher().Topic("t")
	ctx := testCtx(t)

	err := tp.BatchPublish(ctx, broker.OutboundMessage{Data: []byte("ok")}, broker.OutboundMessage{Attributes: map[string]any{"x": nil}})
	var be *broker.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("error %v, want *broker.BatchError", err)
	}
	wantErr(t, err, broker.ErrInvalidAttribute)
	if got := be.Indexes(broker.PublishFailed); len(got) != 2 {
		t.Fatalf("failed %v, want both", got)
	}

	err = tp.BatchPublish(ctx, broker.OutboundMessage{Data: []byte("ok")}, broker.OutboundMessage{Data: []byte("too big")})
	wantErr(t, err, broker.ErrMessageTooLarge)
	if n := available(sub); n != 0 {
		t.Fatalf("%d messages of invalid batches published", n)
	}

	if err := tp.BatchPublish(ctx, data("a", "b", "c")...); err != nil {
		t.Fatal(err)
	}
	if err := tp.BatchPublish(ctx); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	for _, want := range []string{"a", "b", "c"} {
		m := next(t, sub)
		if string(m.Data) != want {
			t.Fatalf("got %q, want %q", m.Data, want)
		}
		m.Ack()
	}
}

func TestPublishCopiesWhatTheCallerMayReuse(t *testing.T) {
	b := newBroker(t)
	sub := subscribe(t, b, "t", "s", QueueConfig{})
	buf := []byte("data")
	raw := []byte("raw")
	attrs := map[string]any{"s": "v", "b": raw, "n": 7, "d": time.Second}
	publish(t, b, "t", broker.OutboundMessage{Key: "k", Data: buf, Attributes: attrs})
	buf[0] = 'X'
	raw[0] = 'X'
	attrs["s"] = "changed"
	attrs["new"] = true

	m := next(t, sub)
	if string(m.Data) != "data" || m.Key != "k" {
		t.Fatalf("message %q key %q", m.Data, m.Key)
	}
	if m.Attributes["s"] != "v" || string(m.Attributes["b"].([]byte)) != "raw" || m.Attributes["n"] != 7 ||
		m.Attributes["d"] != time.Second || len(m.Attributes) != 4 {
		t.Fatalf("attributes %v", m.Attributes)
	}
	m.Ack()
}

func TestPublishAfterCloseFails(t *testing.T) {
	b := newBroker(t)
	pub := b.Publisher()
	tp, _ := pub.Topic("t")
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pub.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := testCtx(t)
	wantErr(t, tp.Publish(ctx, broker.OutboundMessage{}), broker.ErrClosed)
	wantErr(t, tp.BatchPublish(ctx, data("a")...), broker.ErrClosed)
	_, err := pub.Topic("t")
	wantErr(t, err, broker.ErrClosed)

	pub2 := b.Publisher()
	tp2, _ := pub2.Topic("t")
	_ = b.Close()
	_ = b.Close()
	wantErr(t, tp2.Publish(ctx, broker.OutboundMessage{}), broker.ErrClosed)
	_, err = b.Publisher().Topic("t")
	wantErr(t, err, broker.ErrClosed)
}

func TestMessageIDsAreUniqueAndKeysPickPartitions(t *testing.T) {
	b := newBroker(t)
	if err := b.CreateTopic("t", 3); err != nil {
		t.Fatal(err)
	}
	sub := subscribe(t, b, "t", "s", QueueConfig{})
	for i := range 30 {
		publish(t, b, "t", broker.OutboundMessage{Key: []string{"a", "b", "c", ""}[i%4]})
	}
	ids := map[string]bool{}
	parts := map[string]string{}
	for range 30 {
		m := next(t, sub)
		if ids[m.ID] {
			t.Fatalf("duplicate id %s", m.ID)
		}
		ids[m.ID] = true
		p, _, _ := strings.Cut(m.ID, "-")
		if m.Key != "" {
			if prev, ok := parts[m.Key]; ok && prev != p {
				t.Fatalf("key %q in partitions %s and %s", m.Key, prev, p)
			}
			parts[m.Key] = p
		}
		m.Ack()
	}
	if want := fnv1a("a") % 3; parts["a"] != string(rune('0'+want)) {
		t.Fatalf("key a in partition %s, want FNV-1a %% 3 = %d", parts["a"], want)
	}
}

func TestCreateTopicValidates(t *testing.T) {
	b := newBroker(t)
	wantErr(t, b.CreateTopic("", 1), broker.ErrInvalidTopic)
	wantErr(t, b.CreateTopic("t", 0), broker.ErrInvalidOption)
	if err := b.CreateTopic("t", 2); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateTopic("t", 2); err != nil {
		t.Fatalf("same again: %v", err)
	}
	wantErr(t, b.CreateTopic("t", 3), broker.ErrInvalidOption)
	_ = b.Close()
	wantErr(t, b.CreateTopic("u", 1), broker.ErrClosed)
}

func TestFailNextPublishesFailsThatManyMessages(t *testing.T) {
	b := newBroker(t)
	sub := subscribe(t, b, "t", "s", QueueConfig{})
	tp, _ := b.Publisher().Topic("t")
	ctx := testCtx(t)
	boom := errors.New("boom")

	b.FailNextPublishes("t", 3, boom)
	wantErr(t, tp.Publish(ctx, broker.OutboundMessage{Data: []byte("x")}), boom)
	err := tp.BatchPublish(ctx, data("a", "b", "c", "d")...)
	var be *broker.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("error %v, want *broker.BatchError", err)
	}
	wantErr(t, err, boom)
	if f, s := be.Indexes(broker.PublishFailed), be.Indexes(broker.PublishSent); len(f) != 2 || len(s) != 2 || s[0] != 2 {
		t.Fatalf("failed %v sent %v", f, s)
	}
	if err := tp.Publish(ctx, broker.OutboundMessage{Data: []byte("e")}); err != nil {
		t.Fatalf("after the faults ran out: %v", err)
	}
	for _, want := range []string{"c", "d", "e"} {
		if m := next(t, sub); string(m.Data) != want {
			t.Fatalf("got %q, want %q", m.Data, want)
		}
	}
}

func TestHugePartitionCountsAreRefusedNotPanickedOn(t *testing.T) {
	b := newBroker(t)
	for _, n := range []int{MaxPartitions + 1, math.MaxInt32 + 1, math.MaxInt} {
		wantErr(t, b.CreateTopic(fmt.Sprint("t", n), n), broker.ErrInvalidOption)
	}
	if err := b.CreateTopic("max", MaxPartitions); err != nil {
		t.Fatal(err)
	}
	// New has no error to return, so a huge default is ignored like a
	// non-positive one, rather than panicking on the first publish.
	b2 := newBroker(t, WithDefaultPartitions(math.MaxInt))
	publish(t, b2, "t", data("x")...)
	if n := len(b2.lookup("t").parts); n != DefaultPartitions {
		t.Fatalf("%d partitions", n)
	}
}
