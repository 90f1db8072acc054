package pulsartest

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	plog "github.com/apache/pulsar-client-go/pulsar/log"
	"go.uber.org/goleak"
)

func TestDroppedConnectionsLoseNothingUnackedAndRedeliverNothingAcked(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub", Type: pulsar.Shared})
	// Batching stays on: with DisableBatching, pulsar-client-go v0.19.0
	// races (under -race) between its reconnection, which rewrites the
	// producer name, and its next non-batched send, which reads it.
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic})
	for _, m := range payloads("m", 10) {
		send(t, p, m)
	}
	for i := 0; i < 10; i++ {
		m := receive(t, cons)
		if i%2 == 0 {
			if err := cons.Ack(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Acks are grouped by the client: wait until the server has them all.
	waitBacklog(t, s, topic, "sub", 5)

	if n := s.DropConnections(); n == 0 {
		t.Fatal("DropConnections closed no connection")
	}
	var got []string
	for i := 0; i < 5; i++ {
		m := receive(t, cons)
		got = append(got, string(m.Payload()))
		if m.RedeliveryCount() != 1 {
			t.Errorf("%s: redelivery count %d, want 1", m.Payload(), m.RedeliveryCount())
		}
		if err := cons.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(got)
	if want := "m1 m3 m5 m7 m9"; strings.Join(got, " ") != want {
		t.Fatalf("after reconnecting got %v, want %s", got, want)
	}
	// The producer reconnected too; the next message is the new one, so
	// no acknowledged message came back.
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("after")})
	if m := receive(t, cons); string(m.Payload()) != "after" {
		t.Fatalf("got %q, want after", m.Payload())
	}
	waitBacklog(t, s, topic, "sub", 1)
}

func TestRejectedSendSurfacesAsSendError(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub"})
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic})
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("before")})
	if err := cons.Ack(receive(t, cons)); err != nil {
		t.Fatal(err)
	}
	// The rejection drops the client's connection, consumers included:
	// settle first so nothing is redelivered.
	waitBacklog(t, s, topic, "sub", 0)

	s.RejectSends(1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := p.Send(ctx, &pulsar.ProducerMessage{Payload: []byte("rejected")})
	if !errors.Is(err, pulsar.ErrProducerBlockedQuotaExceeded) {
		t.Fatalf("Send = %v, want an error wrapping ErrProducerBlockedQuotaExceeded", err)
	}
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("after")})

	if m := receive(t, cons); string(m.Payload()) != "after" {
		t.Fatalf("got %q, want after", m.Payload())
	}
	if n := s.MessageCount(topic); n != 2 {
		t.Fatalf("MessageCount = %d, want 2 (the rejected message must not be stored)", n)
	}
}

func TestCloseIsIdempotentAndClientsSeeTheBrokerGo(t *testing.T) {
	// Whatever runs now is not this test's business; everything started
	// from here on must be gone at the end, except the client goroutines
	// known to outlive Client.Close.
	defer goleak.VerifyNone(t, append(leakOptions(), goleak.IgnoreCurrent())...)
	s, err := NewServer(WithAckTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL(), "pulsar://127.0.0.1:") {
		t.Fatalf("URL = %q", s.URL())
	}
	c, err := pulsar.NewClient(pulsar.ClientOptions{URL: s.URL(), OperationTimeout: time.Second,
		Logger: plog.DefaultNopLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := c.CreateProducer(pulsar.ProducerOptions{Topic: topicName(t), SendTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("x")})
	raw := dialRaw(t, s)
	raw.connect()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.CreateTopic("t", 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("CreateTopic after Close = %v, want ErrClosed", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.Send(ctx, &pulsar.ProducerMessage{Payload: []byte("y")}); err == nil {
		t.Fatal("Send succeeded after the server closed")
	}
	raw.expectClosed()
}
