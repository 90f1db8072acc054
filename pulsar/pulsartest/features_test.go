package pulsartest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	plog "github.com/apache/pulsar-client-go/pulsar/log"
)

func TestKeepAlivePingsAreAnsweredSoTheClientStaysConnected(t *testing.T) {
	s := newServer(t)
	// The client drops a connection that received nothing for two keep-alive
	// intervals; with a 200 ms interval only the server's PONGs keep it up.
	// (Much shorter intervals make the client itself flaky under -race.)
	c, err := pulsar.NewClient(pulsar.ClientOptions{URL: s.URL(), KeepAliveInterval: 200 * time.Millisecond,
		OperationTimeout: 10 * time.Second, Logger: plog.DefaultNopLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	topic := topicName(t)
	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub"})
	counts := func() (accepted, pings int) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.accepted, s.pings
	}
	waitFor(t, "three PINGs", func() bool { _, pings := counts(); return pings >= 3 })
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic})
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("alive")})
	if m := receive(t, cons); string(m.Payload()) != "alive" {
		t.Fatalf("got %q", m.Payload())
	}
	if accepted, _ := counts(); accepted != 1 {
		t.Fatalf("the client opened %d connections, want 1 (it reconnected)", accepted)
	}
}

func TestCompressedBatchesAreDeliveredVerbatim(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	for _, ct := range []pulsar.CompressionType{pulsar.LZ4, pulsar.ZLib, pulsar.ZSTD} {
		topic := topicName(t)
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub"})
		p := produce(t, c, pulsar.ProducerOptions{Topic: topic, CompressionType: ct})
		sendBatch(t, p, payloads("compressed-", 10))
		for i := 0; i < 10; i++ {
			m := receive(t, cons)
			if !bytes.HasPrefix(m.Payload(), []byte("compressed-")) {
				t.Fatalf("compression %v: got %q", ct, m.Payload())
			}
			if err := cons.Ack(m); err != nil {
				t.Fatal(err)
			}
		}
		waitBacklog(t, s, topic, "sub", 0)
	}
}

func TestChunkedMessageIsReassembledByTheConsumer(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub"})
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true, EnableChunking: true,
		ChunkMaxMessageSize: 100})
	big := bytes.Repeat([]byte("0123456789"), 100)
	send(t, p, &pulsar.ProducerMessage{Payload: big})
	if n := entryCount(s, topic); n < 10 {
		t.Fatalf("stored %d entries, want one per chunk (at least 10)", n)
	}
	m := receive(t, cons)
	if !bytes.Equal(m.Payload(), big) {
		t.Fatalf("reassembled %d bytes, want %d", len(m.Payload()), len(big))
	}
	if err := cons.Ack(m); err != nil {
		t.Fatal(err)
	}
	waitBacklog(t, s, topic, "sub", 0)
}

func TestDeadLetterPolicyMovesAPoisonMessageAfterMaxDeliveries(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	dlq := topic + "-dlq"
	dead := subscribe(t, c, pulsar.ConsumerOptions{Topic: dlq, SubscriptionName: "dead"})
	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub", Type: pulsar.Shared,
		NackRedeliveryDelay: 50 * time.Millisecond,
		DLQ:                 &pulsar.DLQPolicy{MaxDeliveries: 2, DeadLetterTopic: dlq}})
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic})
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("poison")})

	for i := 0; i < 2; i++ {
		m := receive(t, cons)
		if m.RedeliveryCount() != uint32(i) {
			t.Fatalf("delivery %d: redelivery count %d", i, m.RedeliveryCount())
		}
		cons.Nack(m)
	}
	m := receive(t, dead)
	if string(m.Payload()) != "poison" {
		t.Fatalf("dead-letter topic got %q", m.Payload())
	}
	waitBacklog(t, s, topic, "sub", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if m, err := cons.Receive(ctx); err == nil {
		t.Fatalf("the dead-lettered message came back: %q", m.Payload())
	}
}

func TestDelayedDeliveryWaitsOnSharedSubscriptions(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub", Type: pulsar.Shared})
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic})
	const delay = 300 * time.Millisecond
	sent := time.Now()
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("later"), DeliverAfter: delay})
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("now")})

	if m := receive(t, cons); string(m.Payload()) != "now" {
		t.Fatalf("got %q first, want now", m.Payload())
	}
	m := receive(t, cons)
	if string(m.Payload()) != "later" {
		t.Fatalf("got %q, want later", m.Payload())
	}
	// Publish times have millisecond precision, hence the 1 ms slack.
	if waited := time.Since(sent); waited < delay-time.Millisecond {
		t.Fatalf("delayed message arrived after %v, before its %v delay", waited, delay)
	}
}
