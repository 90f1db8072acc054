package kafka_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/kafka"
)

func TestRecordOverTheTopicsMaxMessageSizeIsErrMessageTooLarge(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			tc := tg.cluster(t)
			limit := "1000"
			topic := tc.topic(t, 1, map[string]*string{"max.message.bytes": &limit})
			tp, err := tc.publisher(t).Topic(topic)
			if err != nil {
				t.Fatal(err)
			}
			// Under the client's limit, over the topic's: the broker refuses.
			data := make([]byte, 2000)
			rand.Read(data) // incompressible: franz-go compresses batches
			big := broker.OutboundMessage{Data: data}
			if err := tp.Publish(testCtx(t), big); !errors.Is(err, broker.ErrMessageTooLarge) {
				t.Errorf("Publish of 2000 bytes to a topic taking 1000: got %v, want ErrMessageTooLarge", err)
			}
			err = tp.BatchPublish(testCtx(t), broker.OutboundMessage{Data: []byte("small")}, big)
			var be *broker.BatchError
			if !errors.As(err, &be) || be.Status[1] != broker.PublishFailed || !errors.Is(be.Errs[1], broker.ErrMessageTooLarge) {
				t.Errorf("BatchPublish with one record too large for the topic: got %v, want message 1 failed with ErrMessageTooLarge", err)
			}
			// Over the client's limit: refused before sending.
			huge := broker.OutboundMessage{Data: make([]byte, kafka.DefaultMaxMessageBytes+1)}
			if err := tp.Publish(testCtx(t), huge); !errors.Is(err, broker.ErrMessageTooLarge) {
				t.Errorf("Publish over Config.MaxMessageBytes: got %v, want ErrMessageTooLarge", err)
			}
		})
	}
}

func TestNilAndReservedAttributesAreErrInvalidAttribute(t *testing.T) {
	tc := startFake(t)
	tp, err := tc.publisher(t).Topic(tc.topic(t, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	for name, attrs := range map[string]map[string]any{
		"nil value":    {"k": nil},
		"reserved key": {"pullkit.type.k": "x"},
	} {
		if err := tp.Publish(testCtx(t), broker.OutboundMessage{Attributes: attrs}); !errors.Is(err, broker.ErrInvalidAttribute) {
			t.Errorf("%s: got %v, want ErrInvalidAttribute", name, err)
		}
	}
}

func TestUnknownTopicIsErrNotFound(t *testing.T) {
	// kfake creates no topic on first use unless asked to (AllowAutoTopicCreation).
	tc := startFake(t)
	tp, err := tc.publisher(t).Topic("no-such-topic")
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Publish(testCtx(t), broker.OutboundMessage{Data: []byte("x")}); !errors.Is(err, broker.ErrNotFound) {
		t.Errorf("Publish to an unknown topic: got %v, want ErrNotFound", err)
	}
	if _, err := tc.publisher(t).Topic("bad/name"); !errors.Is(err, broker.ErrInvalidTopic) {
		t.Errorf("Topic(\"bad/name\"): got %v, want ErrInvalidTopic", err)
	}
}

func TestUnreachableBrokersAreErrUnavailable(t *testing.T) {
	// A port that refuses connections: listen, note the address, close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := kafka.Config{Brokers: []string{addr}, DialTimeout: 200 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	check := func(what string, err error) {
		t.Helper()
		t.Logf("%s after %v: %v", what, time.Since(start), err)
		if !errors.Is(err, broker.ErrUnavailable) {
			t.Errorf("%s with no broker listening: got %v, want ErrUnavailable", what, err)
		}
	}
	_, err = kafka.NewPublisher(ctx, cfg)
	check("NewPublisher", err)
	_, err = kafka.JoinGroup(ctx, cfg, "g", []string{"t"}, kafka.LogOptions{})
	check("JoinGroup", err)
	_, err = kafka.JoinShareGroup(ctx, cfg, "g", []string{"t"}, kafka.QueueOptions{})
	check("JoinShareGroup", err)

	// A blackhole (accepts, never answers) with a short deadline: the
	// error matches both ErrUnavailable and the deadline.
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	go func() {
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	_, err = kafka.NewPublisher(ctx2, kafka.Config{Brokers: []string{hole.Addr().String()}})
	check("NewPublisher to a silent broker", err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("NewPublisher to a silent broker: got %v, want it to match context.DeadlineExceeded too", err)
	}
}

func TestConfigErrorsAreErrInvalidOption(t *testing.T) {
	ctx := testCtx(t)
	for name, cfg := range map[string]kafka.Config{
		"no brokers":   {},
		"bad SASL":     {Brokers: []string{"x:1"}, SASL: &kafka.SASL{Mechanism: "MD5"}},
		"negative max": {Brokers: []string{"x:1"}, MaxMessageBytes: -1},
	} {
		if _, err := kafka.NewPublisher(ctx, cfg); !errors.Is(err, broker.ErrInvalidOption) {
			t.Errorf("%s: got %v, want ErrInvalidOption", name, err)
		}
	}
}
