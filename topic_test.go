package broker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullkit/broker"
)

// fakeTopic publishes into a slice; failing data makes Publish fail, and
// "block" waits for ctx, so a test can cancel mid-flight.
type fakeTopic struct {
	mu        sync.Mutex
	published []string
	inFlight  atomic.Int32
	maxFlight atomic.Int32
}

var errRefused = errors.New("refused by fake")

func (f *fakeTopic) Publish(ctx context.Context, m broker.OutboundMessage) error {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		old := f.maxFlight.Load()
		if n <= old || f.maxFlight.CompareAndSwap(old, n) {
			break
		}
	}
	switch string(m.Data) {
	case "fail":
		return errRefused
	case "block":
		<-ctx.Done()
		return ctx.Err()
	}
	time.Sleep(100 * time.Microsecond) // long enough for calls to overlap
	f.mu.Lock()
	f.published = append(f.published, string(m.Data))
	f.mu.Unlock()
	return nil
}

func (f *fakeTopic) BatchPublish(ctx context.Context, msgs ...broker.OutboundMessage) error {
	return broker.SimplePublisherParallelization(ctx, f, msgs...)
}

func msgs(data ...string) []broker.OutboundMessage {
	out := make([]broker.OutboundMessage, len(data))
	for i, d := range data {
		out[i] = broker.OutboundMessage{Data: []byte(d)}
	}
	return out
}

func TestSimplePublisherParallelizationIsBounded(t *testing.T) {
	var f fakeTopic
	batch := make([]string, 200)
	for i := range batch {
		batch[i] = fmt.Sprint(i)
	}
	if err := f.BatchPublish(context.Background(), msgs(batch...)...); err != nil {
		t.Fatal(err)
	}
	if len(f.published) != 200 {
		t.Fatalf("published %d of 200", len(f.published))
	}
	if m := f.maxFlight.Load(); m > 16 || m < 2 {
		t.Fatalf("max concurrent Publish calls = %d, want between 2 and 16", m)
	}
}

func TestBatchPublishReportsWhichMessagesFailed(t *testing.T) {
	var f fakeTopic
	err := f.BatchPublish(context.Background(), msgs("a", "fail", "b", "fail")...)
	var be *broker.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want *BatchError", err)
	}
	if got := fmt.Sprint(be.Indexes(broker.PublishFailed), be.Indexes(broker.PublishSent)); got != "[1 3] [0 2]" {
		t.Fatalf("failed, sent = %s", got)
	}
	if !errors.Is(err, errRefused) {
		t.Fatal("the BatchError does not unwrap to the cause")
	}
	if !strings.Contains(err.Error(), "2 of 4") || !strings.Contains(err.Error(), "message 1") {
		t.Fatalf("message %q does not say what failed", err)
	}
}

func TestBatchPublishWithAnInvalidMessageSendsNothing(t *testing.T) {
	var f fakeTopic
	batch := msgs("a", "b", "c")
	batch[1].Attributes = map[string]any{"k": nil}
	err := f.BatchPublish(context.Background(), batch...)
	var be *broker.BatchError
	if !errors.As(err, &be) || !errors.Is(err, broker.ErrInvalidAttribute) {
		t.Fatalf("err = %v, want a BatchError wrapping ErrInvalidAttribute", err)
	}
	if len(f.published) != 0 || len(be.Indexes(broker.PublishFailed)) != 3 {
		t.Fatalf("published %v; failed %v: a batch with an invalid message must send none", f.published, be.Indexes(broker.PublishFailed))
	}
}

func TestBatchPublishMarksInFlightMessagesUnknownOnCancel(t *testing.T) {
	var f fakeTopic
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for f.inFlight.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	err := f.BatchPublish(ctx, msgs("block")...)
	var be *broker.BatchError
	if !errors.As(err, &be) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if be.Status[0] != broker.PublishUnknown {
		t.Fatalf("status = %v, want unknown", be.Status[0])
	}
	// Nothing is attempted with a context that is already done.
	err = f.BatchPublish(ctx, msgs("x")...)
	if !errors.As(err, &be) || be.Status[0] != broker.PublishFailed || len(f.published) != 0 {
		t.Fatalf("err = %v, published %v", err, f.published)
	}
}

func TestValidateAttributes(t *testing.T) {
	good := map[string]any{"s": "x", "b": []byte("y"), "i": 1, "u8": uint8(2), "f": 1.5, "t": time.Now(), "d": time.Second, "ok": true}
	if err := broker.ValidateAttributes(good); err != nil {
		t.Fatal(err)
	}
	for name, attrs := range map[string]map[string]any{
		"nil value":   {"k": nil},
		"struct":      {"k": struct{}{}},
		"empty key":   {"": "v"},
		"nested map":  {"k": map[string]string{}},
		"nil pointer": {"k": (*int)(nil)},
	} {
		err := broker.ValidateAttributes(attrs)
		if !errors.Is(err, broker.ErrInvalidAttribute) {
			t.Errorf("%s: err = %v, want ErrInvalidAttribute", name, err)
		}
	}
	if err := broker.ValidateTopicName(""); !errors.Is(err, broker.ErrInvalidTopic) {
		t.Errorf("empty topic: %v", err)
	}
}

func TestPanicErrorUnwrapsAnErrorValue(t *testing.T) {
	err := &broker.PanicError{Value: errRefused}
	if !errors.Is(err, errRefused) || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("%v", err)
	}
}

func TestAttributeStringFormsEverySupportedType(t *testing.T) {
	at := time.Date(2026, 11, 23, 18, 4, 5, 6, time.FixedZone("CET", 3600))
	for _, c := range []struct {
		v    any
		want string
	}{
		{"plain", "plain"},
		{[]byte{0xff, 0x00, 'a'}, "/wBh"},
		{true, "true"},
		{int(-7), "-7"}, {int8(-8), "-8"}, {int16(16), "16"}, {int32(-32), "-32"}, {int64(1 << 62), "4611686018427387904"},
		{uint(7), "7"}, {uint8(255), "255"}, {uint16(16), "16"}, {uint32(32), "32"}, {uint64(1<<64 - 1), "18446744073709551615"},
		{float32(0.1), "0.1"}, {float64(1e21), "1e+21"},
		{at, "2026-11-23T17:04:05.000000006Z"},
		{90 * time.Second, "1m30s"},
	} {
		if !broker.AttributeSupported(c.v) {
			t.Errorf("%T is formatted but not AttributeSupported", c.v)
		}
		got, err := broker.AttributeString(c.v)
		if err != nil || got != c.want {
			t.Errorf("AttributeString(%T %v) = %q, %v; want %q", c.v, c.v, got, err, c.want)
		}
	}
	for _, v := range []any{nil, struct{}{}, []string{"a"}, map[string]any{}} {
		if _, err := broker.AttributeString(v); !errors.Is(err, broker.ErrInvalidAttribute) {
			t.Errorf("AttributeString(%T): got %v, want an error matching ErrInvalidAttribute", v, err)
		}
	}
}
