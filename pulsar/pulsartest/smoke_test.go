package pulsartest

import (
	"context"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"
)

func TestSmoke(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	cons, err := c.Subscribe(pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub", Type: pulsar.Shared})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	p, err := c.CreateProducer(pulsar.ProducerOptions{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("hello")})
	m := receive(t, cons)
	if string(m.Payload()) != "hello" {
		t.Fatalf("got %q", m.Payload())
	}
	if err := cons.Ack(m); err != nil {
		t.Fatal(err)
	}
	waitBacklog(t, s, topic, "sub", 0)
	_ = context.Background()
}
