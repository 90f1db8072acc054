package brokertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/pullkit/broker"
)

// delivery is a message or a record reduced to what the publishing tests
// compare, so those tests are written once for queues and logs.
type delivery struct {
	key   string
	data  []byte
	attrs map[string]any
	ack   func()
}

// side is one semantics (queue or log) as the publishing tests see it.
type side struct {
	opts     Options
	typed    bool
	maxSize  int
	newTopic func(e *env) string
	// reader opens a fresh reader (a new subscription, a new group) on
	// topic that sees every message published after the call. It checks
	// the fields the shared tests do not compare (Message.ID, Record.Topic).
	reader func(e *env, topic string) func(context.Context) (delivery, error)
	pub    func(e *env) broker.Publisher
}

// topicOf opens topic on a fresh publisher.
func (s *side) topicOf(e *env, name string) broker.Topic {
	e.t.Helper()
	tp, err := s.pub(e).Topic(name)
	e.must(err, "Publisher.Topic(%q)", name)
	return tp
}

// runPublishTests runs the tests that only publish and read back.
func runPublishTests(r *runner, s *side) {
	run := r.run

	run("PublishedMessageArrivesWithKeyDataAndAttributes", func(e *env) {
		topic := s.newTopic(e)
		read := s.reader(e, topic)
		want := broker.OutboundMessage{Key: "key-1", Data: []byte("hello, broker"), Attributes: sampleAttributes()}
		e.must(s.topicOf(e, topic).Publish(e.ctx, want), "Publish")
		got := next(e, read, "the published message")
		if got.key != want.Key {
			e.t.Errorf("key: got %q, want %q", got.key, want.Key)
		}
		if !bytes.Equal(got.data, want.Data) {
			e.t.Errorf("data: got %q, want %q", got.data, want.Data)
		}
		compareAttributes(e.t, got.attrs, want.Attributes, s.typed)
		got.ack()
	})

	run("EmptyAndLargePayloadsArriveIntact", func(e *env) {
		topic := s.newTopic(e)
		read := s.reader(e, topic)
		large := make([]byte, largeSize(s.maxSize))
		for i := range large {
			large[i] = byte(rand.Uint32())
		}
		tp := s.topicOf(e, topic)
		e.must(tp.Publish(e.ctx, broker.OutboundMessage{Key: "empty"}), "Publish of an empty payload")
		e.must(tp.Publish(e.ctx, broker.OutboundMessage{Key: "large", Data: large}), "Publish of a %d-byte payload", len(large))
		seen := map[string]bool{}
		for range 2 {
			got := next(e, read, "the empty and the large message")
			seen[got.key] = true
			switch got.key {
			case "empty":
				if len(got.data) != 0 {
					e.t.Errorf("empty payload came back as %d bytes", len(got.data))
				}
			case "large":
				if !bytes.Equal(got.data, large) {
					e.t.Errorf("large payload: got %d bytes, want the %d bytes sent (equal length: %v)", len(got.data), len(large), len(got.data) == len(large))
				}
			default:
				e.t.Errorf("unexpected message with key %q", got.key)
			}
			got.ack()
		}
		if !seen["empty"] || !seen["large"] {
			e.t.Errorf("got keys %v, want both empty and large", seen)
		}
	})

	run("BatchPublishDeliversEveryMessage", func(e *env) {
		topic := s.newTopic(e)
		read := s.reader(e, topic)
		const n = 25
		msgs := make([]broker.OutboundMessage, n)
		for i := range msgs {
			msgs[i] = broker.OutboundMessage{Key: fmt.Sprint("k", i%3), Data: fmt.Appendf(nil, "m%d", i)}
		}
		e.must(s.topicOf(e, topic).BatchPublish(e.ctx, msgs...), "BatchPublish of %d valid messages", n)
		expectAll(e, read, n)
	})

	run("ConcurrentPublishesOnOneTopicAllArrive", func(e *env) {
		topic := s.newTopic(e)
		read := s.reader(e, topic)
		tp := s.topicOf(e, topic)
		const workers, each = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					errs <- tp.Publish(e.ctx, broker.OutboundMessage{Data: fmt.Appendf(nil, "m%d", w*each+i)})
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			e.must(err, "concurrent Publish")
		}
		expectAll(e, read, workers*each)
	})

	run("BatchWithAnInvalidMessageSendsNone", func(e *env) {
		topic := s.newTopic(e)
		read := s.reader(e, topic)
		tp := s.topicOf(e, topic)
		msgs := []broker.OutboundMessage{
			{Data: []byte("a")}, {Data: []byte("b")},
			{Data: []byte("bad"), Attributes: map[string]any{"nil": nil}},
			{Data: []byte("c")},
		}
		err := tp.BatchPublish(e.ctx, msgs...)
		checkBatchRefused(e, err, len(msgs), 2, broker.ErrInvalidAttribute)
		expectOnlyMarker(e, s, tp, read)
	})

	run("InvalidAttributesAreRefusedBeforeSending", func(e *env) {
		topic := s.newTopic(e)
		read := s.reader(e, topic)
		tp := s.topicOf(e, topic)
		for name, attrs := range map[string]map[string]any{
			"nil value":        {"k": nil},
			"struct value":     {"k": struct{}{}},
			"map value":        {"k": map[string]string{}},
			"empty key":        {"": "v"},
			"nil among values": {"a": "x", "b": nil, "c": 1},
		} {
			err := tp.Publish(e.ctx, broker.OutboundMessage{Data: []byte(name), Attributes: attrs})
			if !errors.Is(err, broker.ErrInvalidAttribute) {
				e.t.Errorf("Publish with %s: got %v, want an error matching broker.ErrInvalidAttribute", name, err)
			}
		}
		expectOnlyMarker(e, s, tp, read)
	})

	run("EmptyTopicNameIsRefused", func(e *env) {
		_, err := s.pub(e).Topic("")
		if !errors.Is(err, broker.ErrInvalidTopic) {
			e.t.Errorf(`Publisher.Topic(""): got %v, want an error matching broker.ErrInvalidTopic`, err)
		}
	})

	run("OversizePayloadIsRefusedBeforeSending", func(e *env) {
		if s.maxSize <= 0 {
			e.t.Skip("requires Features.MaxMessageSize")
		}
		topic := s.newTopic(e)
		read := s.reader(e, topic)
		tp := s.topicOf(e, topic)
		big := broker.OutboundMessage{Data: make([]byte, s.maxSize+1)}
		if err := tp.Publish(e.ctx, big); !errors.Is(err, broker.ErrMessageTooLarge) {
			e.t.Errorf("Publish of %d bytes (MaxMessageSize %d): got %v, want an error matching broker.ErrMessageTooLarge", s.maxSize+1, s.maxSize, err)
		}
		err := tp.BatchPublish(e.ctx, broker.OutboundMessage{Data: []byte("small")}, big)
		checkBatchRefused(e, err, 2, 1, broker.ErrMessageTooLarge)
		expectOnlyMarker(e, s, tp, read)
	})

	run("PublishWithAnEndedContextFails", func(e *env) {
		tp := s.topicOf(e, s.newTopic(e))
		ctx, cancel := context.WithCancel(e.ctx)
		cancel()
		if err := tp.Publish(ctx, broker.OutboundMessage{Data: []byte("x")}); !errors.Is(err, context.Canceled) {
			e.t.Errorf("Publish with a canceled context: got %v, want an error matching context.Canceled", err)
		}
		if err := tp.BatchPublish(ctx, broker.OutboundMessage{Data: []byte("x")}); !errors.Is(err, context.Canceled) {
			e.t.Errorf("BatchPublish with a canceled context: got %v, want an error matching context.Canceled", err)
		}
	})

	run("PublisherCloseIsIdempotentAndFinal", func(e *env) {
		topic := s.newTopic(e)
		p := s.pub(e)
		c, ok := p.(io.Closer)
		if !ok {
			e.t.Skip("requires the publisher to implement io.Closer")
		}
		tp, err := p.Topic(topic)
		e.must(err, "Publisher.Topic")
		e.must(c.Close(), "Publisher.Close")
		e.must(c.Close(), "second Publisher.Close")
		if err := tp.Publish(e.ctx, broker.OutboundMessage{Data: []byte("x")}); !errors.Is(err, broker.ErrClosed) {
			e.t.Errorf("Publish after Close: got %v, want an error matching broker.ErrClosed", err)
		}
		if err := tp.BatchPublish(e.ctx, broker.OutboundMessage{Data: []byte("x")}); !errors.Is(err, broker.ErrClosed) {
			e.t.Errorf("BatchPublish after Close: got %v, want an error matching broker.ErrClosed", err)
		}
		// Topic may refuse at once or hand out a handle that refuses to publish.
		if tp2, err := p.Topic(topic); err == nil {
			err = tp2.Publish(e.ctx, broker.OutboundMessage{Data: []byte("x")})
			if !errors.Is(err, broker.ErrClosed) {
				e.t.Errorf("Publish on a topic opened after Close: got %v, want an error matching broker.ErrClosed", err)
			}
		} else if !errors.Is(err, broker.ErrClosed) {
			e.t.Errorf("Topic after Close: got %v, want an error matching broker.ErrClosed", err)
		}
	})
}

// expectAll reads n messages with distinct payloads and fails on duplicates.
func expectAll(e *env, read func(context.Context) (delivery, error), n int) {
	e.t.Helper()
	seen := map[string]bool{}
	for len(seen) < n {
		d := next(e, read, fmt.Sprintf("message %d of %d", len(seen)+1, n))
		if seen[string(d.data)] {
			e.t.Fatalf("message %q delivered twice", d.data)
		}
		seen[string(d.data)] = true
		d.ack()
	}
}

// checkBatchRefused checks that a BatchPublish with an invalid message at
// index bad returned a *broker.BatchError that marks every message failed.
func checkBatchRefused(e *env, err error, n, bad int, cause error) {
	e.t.Helper()
	var be *broker.BatchError
	if !errors.As(err, &be) {
		e.t.Errorf("BatchPublish with an invalid message: got %v (%T), want a *broker.BatchError", err, err)
		return
	}
	if !errors.Is(err, cause) {
		e.t.Errorf("BatchPublish error %v does not match %v", err, cause)
	}
	if len(be.Status) != n || len(be.Errs) != n {
		e.t.Errorf("BatchError has %d statuses and %d errors, want %d of each", len(be.Status), len(be.Errs), n)
		return
	}
	for i, st := range be.Status {
		if st != broker.PublishFailed || be.Errs[i] == nil {
			e.t.Errorf("message %d: status %v, error %v; want failed with an error, since the batch had an invalid message", i, st, be.Errs[i])
		}
	}
	if !errors.Is(be.Errs[bad], cause) {
		e.t.Errorf("the invalid message's error %v does not match %v", be.Errs[bad], cause)
	}
}

// expectOnlyMarker publishes a valid marker message after refused ones and
// checks that the marker is the only thing that arrives: the refused ones
// must not have been half-sent.
func expectOnlyMarker(e *env, s *side, tp broker.Topic, read func(context.Context) (delivery, error)) {
	e.t.Helper()
	e.must(tp.Publish(e.ctx, broker.OutboundMessage{Key: "marker", Data: []byte("marker")}), "Publish of a valid marker")
	for {
		d := next(e, read, "the marker")
		d.ack()
		if d.key == "marker" {
			break
		}
		e.t.Errorf("a refused message was delivered: key %q, data %.40q", d.key, d.data)
	}
	if d, ok := nextWithin(e, read, s.opts.Absence); ok {
		e.t.Errorf("a refused message was delivered after the marker: key %q, data %.40q", d.key, d.data)
	}
}

// sampleAttributes has a value of every type broker.AttributeSupported accepts.
func sampleAttributes() map[string]any {
	return map[string]any{
		"string":   "text",
		"empty":    "",
		"unicode":  "héllo ✓",
		"bytes":    []byte{0, 1, 2, 255},
		"bool":     true,
		"int":      42,
		"int8":     int8(-8),
		"int16":    int16(-1600),
		"int32":    int32(-320000),
		"int64":    int64(-1) << 40,
		"uint":     uint(7),
		"uint8":    uint8(200),
		"uint16":   uint16(60000),
		"uint32":   uint32(1) << 31,
		"uint64":   uint64(1) << 63,
		"float32":  float32(1.5),
		"float64":  2.25,
		"time":     time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC),
		"duration": 1500 * time.Millisecond,
	}
}

// compareAttributes compares got with want: every string value exactly,
// the others by type and value when typed, else only by presence.
func compareAttributes(t testing.TB, got, want map[string]any, typed bool) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("attribute %q is missing", k)
			continue
		}
		if _, isString := w.(string); !isString && !typed {
			continue
		}
		if wt, ok := w.(time.Time); ok {
			if gt, ok := g.(time.Time); !ok || !gt.Equal(wt) {
				t.Errorf("attribute %q: got %#v (%T), want %v", k, g, g, wt)
			}
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("attribute %q: got %#v (%T), want %#v (%T)", k, g, g, w, w)
		}
	}
}
