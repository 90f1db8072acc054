package servicebus_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/servicebus"
	"github.com/pullkit/broker/servicebus/sbtest"
)

func TestBatchPublishPacksBatchesBySize(t *testing.T) {
	e := newEnv(t, nil)
	tp := e.topic()
	// 100 KiB each: at most two fit in a 256 KiB batch.
	msgs := make([]broker.OutboundMessage, 7)
	for i := range msgs {
		msgs[i] = broker.OutboundMessage{Key: fmt.Sprint("k", i), Data: bytes.Repeat([]byte{byte('a' + i)}, 100<<10)}
	}
	if err := tp.BatchPublish(e.ctx, msgs...); err != nil {
		t.Fatalf("BatchPublish: %v", err)
	}
	q := e.consumer(servicebus.QueueConfig{})
	for range msgs {
		m := e.next(q)
		i := int(m.Data[0] - 'a')
		if m.Key != msgs[i].Key || !bytes.Equal(m.Data, msgs[i].Data) {
			t.Errorf("message %d came back with key %q and %d bytes", i, m.Key, len(m.Data))
		}
		m.Ack()
	}
}

func TestBatchPublishReportsWhichMessagesWereSent(t *testing.T) {
	e := newEnv(t, nil)
	tp := e.topic()
	msgs := make([]broker.OutboundMessage, 5)
	for i := range msgs {
		msgs[i] = broker.OutboundMessage{Data: bytes.Repeat([]byte{byte('a' + i)}, 100<<10)} // two per batch
	}
	e.srv.RefuseSends(1, 1) // the first batch goes out, the second is refused
	err := tp.BatchPublish(e.ctx, msgs...)
	var be *broker.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("BatchPublish with a refused batch: %v, want a *broker.BatchError", err)
	}
	want := []broker.PublishStatus{broker.PublishSent, broker.PublishSent, broker.PublishFailed, broker.PublishFailed, broker.PublishFailed}
	for i, st := range be.Status {
		if st != want[i] {
			t.Errorf("message %d: status %v, want %v (%v)", i, st, want[i], be.Errs[i])
		}
	}
	msgsLeft, _ := e.srv.Messages(e.queue)
	if len(msgsLeft) != 2 {
		t.Errorf("%d messages in the queue, want the 2 reported sent", len(msgsLeft))
	}
}

func TestBadInputIsRefusedWithASentinel(t *testing.T) {
	e := newEnv(t, nil)
	tp := e.topic()
	for name, tc := range map[string]struct {
		msg  broker.OutboundMessage
		want error
	}{
		"over the size limit":       {broker.OutboundMessage{Data: make([]byte, sbtest.DefaultMaxMessageSize+1)}, broker.ErrMessageTooLarge},
		"nil attribute":             {broker.OutboundMessage{Attributes: map[string]any{"k": nil}}, broker.ErrInvalidAttribute},
		"unsupported property type": {broker.OutboundMessage{Attributes: map[string]any{"k": []string{"x"}}}, broker.ErrInvalidAttribute},
		"empty attribute key":       {broker.OutboundMessage{Attributes: map[string]any{"": "x"}}, broker.ErrInvalidAttribute},
		"key over 128 characters":   {broker.OutboundMessage{Key: strings.Repeat("k", 129)}, broker.ErrInvalidAttribute},
	} {
		if err := tp.Publish(e.ctx, tc.msg); !errors.Is(err, tc.want) {
			t.Errorf("Publish with %s: %v, want %v", name, err, tc.want)
		}
		err := tp.BatchPublish(e.ctx, broker.OutboundMessage{Data: []byte("fine")}, tc.msg)
		var be *broker.BatchError
		if !errors.As(err, &be) || !errors.Is(err, tc.want) || len(be.Indexes(broker.PublishFailed)) != 2 {
			t.Errorf("BatchPublish with %s: %v, want a BatchError failing both, matching %v", name, err, tc.want)
		}
	}
	if msgs, _ := e.srv.Messages(e.queue); len(msgs) != 0 {
		t.Errorf("%d messages sent by refused publishes", len(msgs))
	}
	p, _ := e.c.Publisher()
	if _, err := p.Topic(""); !errors.Is(err, broker.ErrInvalidTopic) {
		t.Errorf("Topic(\"\"): %v, want ErrInvalidTopic", err)
	}
	_ = p.Close()
}

func TestAttributesMapToApplicationProperties(t *testing.T) {
	e := newEnv(t, nil)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	attrs := map[string]any{
		"s": "text", "b": []byte{1, 2}, "t": true,
		"i": 42, "i8": int8(-8), "i16": int16(-16), "i32": int32(-32), "i64": int64(-64),
		"u": uint(7), "u8": uint8(8), "u16": uint16(16), "u32": uint32(32), "u64": uint64(64),
		"f32": float32(1.5), "f64": 2.25, "time": at, "dur": 1500 * time.Millisecond,
	}
	if err := e.topic().Publish(e.ctx, broker.OutboundMessage{Key: "key", Data: []byte("x"), Attributes: attrs}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	m := e.next(e.consumer(servicebus.QueueConfig{}))
	want := map[string]any{
		"s": "text", "b": []byte{1, 2}, "t": true,
		"i": int64(42), "i8": int8(-8), "i16": int16(-16), "i32": int32(-32), "i64": int64(-64),
		"u": uint64(7), "u8": uint8(8), "u16": uint16(16), "u32": uint32(32), "u64": uint64(64),
		"f32": float32(1.5), "f64": 2.25, "time": at, "dur": int64(1500 * time.Millisecond),
	}
	for k, w := range want {
		g := m.Attributes[k]
		if fmt.Sprintf("%T %v", g, g) != fmt.Sprintf("%T %v", w, w) {
			t.Errorf("attribute %q: got %T %v, want %T %v", k, g, g, w, w)
		}
	}
	if m.Key != "key" {
		t.Errorf("Key %q, want %q (from PartitionKey)", m.Key, "key")
	}
}

func TestWrongKeyIsRefusedWithoutShowingIt(t *testing.T) {
	e := newEnv(t, nil)
	const key = "c2VjcmV0LWtleS10aGF0LW11c3Qtbm90LWxlYWs="
	tg := e.tg
	tg.connStr = e.srv.ConnectionStringWithKey(sbtest.DefaultKeyName, key)
	c := tg.newClient(t)
	p, err := c.Publisher()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tp, _ := p.Topic(e.queue)
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, broker.ErrUnauthenticated) {
			t.Errorf("%s with a wrong key: %v, want an error matching ErrUnauthenticated", what, err)
		}
		if err != nil && strings.Contains(err.Error(), key) {
			t.Errorf("%s: the error shows the key: %v", what, err)
		}
	}
	perr := tp.Publish(e.ctx, broker.OutboundMessage{Data: []byte("x")})
	t.Logf("Publish: %v", perr)
	check("Publish", perr)
	_, err = c.NewQueue(e.ctx, servicebus.QueueConfig{Queue: e.queue})
	check("NewQueue", err)
}

func TestConfigIsValidated(t *testing.T) {
	for name, cfg := range map[string]servicebus.Config{
		"empty":     {},
		"namespace": {Namespace: "x.servicebus.windows.net"},
		"malformed": {ConnectionString: "Endpoint=nonsense"},
	} {
		if _, err := servicebus.NewClient(cfg); !errors.Is(err, broker.ErrInvalidOption) {
			t.Errorf("%s: NewClient: %v, want ErrInvalidOption", name, err)
		}
	}
}

// Close lets publishes in progress finish: a BatchPublish that had sent
// some of its batches when Close came sends the rest. Close used to close
// the sender under it, so the later batches were reported unsent.
func TestPublisherCloseLetsABatchInProgressFinish(t *testing.T) {
	e := newEnv(t, nil)
	p, err := e.c.Publisher()
	if err != nil {
		t.Fatal(err)
	}
	tp, _ := p.Topic(e.queue)
	msgs := make([]broker.OutboundMessage, 60) // two per batch: 30 batches
	for i := range msgs {
		msgs[i] = broker.OutboundMessage{Data: bytes.Repeat([]byte{'x'}, 100<<10)}
	}
	done := make(chan error, 1)
	go func() { done <- tp.BatchPublish(e.ctx, msgs...) }()
	e.waitFor("the first batch to arrive", func() bool {
		got, _ := e.srv.Messages(e.queue)
		return len(got) > 0
	})
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("BatchPublish during Close: %v", err)
	}
	if got, _ := e.srv.Messages(e.queue); len(got) != len(msgs) {
		t.Errorf("%d messages in the queue, want %d", len(got), len(msgs))
	}
}
