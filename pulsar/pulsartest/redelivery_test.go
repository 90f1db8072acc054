package pulsartest

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
)

func TestNackRedeliversWithIncrementedRedeliveryCount(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub", Type: pulsar.Shared,
		NackRedeliveryDelay: 50 * time.Millisecond})
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic})
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("x")})

	for want := uint32(0); want < 3; want++ {
		m := receive(t, cons)
		if string(m.Payload()) != "x" || m.RedeliveryCount() != want {
			t.Fatalf("got %q with redelivery count %d, want x with %d", m.Payload(), m.RedeliveryCount(), want)
		}
		if want < 2 {
			cons.Nack(m)
		} else if err := cons.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
	waitBacklog(t, s, topic, "sub", 0)
}

func TestAckTimeoutRedeliversUnackedMessage(t *testing.T) {
	s := newServer(t, WithAckTimeout(100*time.Millisecond))
	c := newClient(t, s)
	topic := topicName(t)
	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub", Type: pulsar.Shared})
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic})
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("slow")})
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("fast")})

	first := receive(t, cons)
	second := receive(t, cons)
	if string(first.Payload()) != "slow" || string(second.Payload()) != "fast" {
		t.Fatalf("got %q, %q", first.Payload(), second.Payload())
	}
	if err := cons.Ack(second); err != nil {
		t.Fatal(err)
	}
	// "slow" is never acknowledged: the server hands it out again.
	again := receive(t, cons)
	if string(again.Payload()) != "slow" || again.RedeliveryCount() != 1 {
		t.Fatalf("redelivered %q with count %d, want slow with 1", again.Payload(), again.RedeliveryCount())
	}
	if err := cons.Ack(again); err != nil {
		t.Fatal(err)
	}
	waitBacklog(t, s, topic, "sub", 0)
}

func TestConsumerCloseRedeliversUnackedToAnotherConsumer(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	opts := pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub", Type: pulsar.Shared}
	first, err := c.Subscribe(opts)
	if err != nil {
		t.Fatal(err)
	}
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic})
	sendBatch(t, p, payloads("m", 3))
	single := produce(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	for _, m := range payloads("s", 3) {
		send(t, single, m)
	}
	for i := 0; i < 6; i++ {
		m := receive(t, first)
		if strings.HasPrefix(string(m.Payload()), "s") && m.Payload()[1] == '0' {
			if err := first.Ack(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitBacklog(t, s, topic, "sub", 5)
	first.Close()

	second := subscribe(t, c, opts)
	var got []string
	for i := 0; i < 5; i++ {
		m := receive(t, second)
		if m.RedeliveryCount() != 1 {
			t.Errorf("%s: redelivery count %d, want 1", m.Payload(), m.RedeliveryCount())
		}
		got = append(got, string(m.Payload()))
		if err := second.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(got)
	if want := "m0 m1 m2 s1 s2"; strings.Join(got, " ") != want {
		t.Fatalf("second consumer got %v, want %s", got, want)
	}
	waitBacklog(t, s, topic, "sub", 0)
}

func TestBatchIndexAckRedeliversOnlyUnackedMessagesOfABatch(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub", Type: pulsar.Shared,
		EnableBatchIndexAcknowledgment: true, NackRedeliveryDelay: 50 * time.Millisecond})
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic})
	sendBatch(t, p, payloads("m", 4))
	if n, e := s.MessageCount(topic), entryCount(s, topic); n != 4 || e != 1 {
		t.Fatalf("stored %d messages in %d entries, want 4 in 1 batch", n, e)
	}

	var odd []pulsar.Message
	for i := 0; i < 4; i++ {
		m := receive(t, cons)
		if want := fmt.Sprintf("m%d", i); string(m.Payload()) != want {
			t.Fatalf("got %q, want %s", m.Payload(), want)
		}
		if i%2 == 0 {
			if err := cons.Ack(m); err != nil {
				t.Fatal(err)
			}
		} else {
			odd = append(odd, m)
		}
	}
	// The server applies the partial acks to the batch...
	waitBacklog(t, s, topic, "sub", 2)
	for _, m := range odd {
		cons.Nack(m)
	}
	// ...and redelivers the whole entry with an ack_set; the client drops
	// the acknowledged messages.
	for _, want := range []string{"m1", "m3"} {
		m := receive(t, cons)
		if string(m.Payload()) != want || m.RedeliveryCount() != 1 {
			t.Fatalf("got %q (count %d), want %s (count 1)", m.Payload(), m.RedeliveryCount(), want)
		}
		if err := cons.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
	waitBacklog(t, s, topic, "sub", 0)
}
