package pulsartest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
)

func TestReaderFromEarliestReadsEverythingAndHasNextStops(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)

	empty, err := c.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatal(err)
	}
	if empty.HasNext() {
		t.Error("HasNext on an empty topic = true")
	}
	empty.Close()

	p := produce(t, c, pulsar.ProducerOptions{Topic: topic})
	sendBatch(t, p, payloads("b", 5)) // one batch entry of 5
	single := produce(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	for _, m := range payloads("s", 2) {
		send(t, single, m)
	}

	r, err := c.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []string
	for r.HasNext() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		m, err := r.Next(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(m.Payload()))
	}
	if want := "[b0 b1 b2 b3 b4 s0 s1]"; fmt.Sprint(got) != want {
		t.Fatalf("reader read %v, want %s", got, want)
	}
	// The reader's subscription is non-durable: it goes away with the reader.
	r.Close()
	waitFor(t, "reader subscription removal", func() bool { return len(s.Subscriptions(topic)) == 0 })
}

func TestReaderStartingAtMessageIDInclusive(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	var ids []pulsar.MessageID
	for _, m := range payloads("m", 4) {
		ids = append(ids, send(t, p, m))
	}
	for _, inclusive := range []bool{false, true} {
		r, err := c.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: ids[1], StartMessageIDInclusive: inclusive})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		m, err := r.Next(ctx)
		cancel()
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := "m2"
		if inclusive {
			want = "m1"
		}
		if string(m.Payload()) != want {
			t.Errorf("inclusive=%v: first message %q, want %s", inclusive, m.Payload(), want)
		}
	}
}

func TestGetLastMessageIDNamesTheLastMessageOfTheLastBatch(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub"})
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic})
	sendBatch(t, p, payloads("m", 3))
	var last pulsar.MessageID
	for i := 0; i < 3; i++ {
		last = receive(t, cons).ID()
	}
	ids, err := cons.GetLastMessageIDs()
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 {
		t.Fatalf("GetLastMessageIDs returned %d ids", len(ids))
	}
	got := ids[0]
	if got.LedgerID() != last.LedgerID() || got.EntryID() != last.EntryID() || got.BatchIdx() != last.BatchIdx() {
		t.Fatalf("last id %v, want %v", got, last)
	}
}

func TestSeekRewindsASubscription(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub", Type: pulsar.Exclusive})
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	var ids []pulsar.MessageID
	for _, m := range payloads("m", 4) {
		ids = append(ids, send(t, p, m))
	}
	for i := 0; i < 4; i++ {
		if err := cons.Ack(receive(t, cons)); err != nil {
			t.Fatal(err)
		}
	}
	waitBacklog(t, s, topic, "sub", 0)

	// The server rewinds to the sought message itself; pulsar-client-go
	// then drops (and acknowledges) that message unless the consumer is
	// inclusive, as it does against a real broker.
	if err := cons.Seek(ids[0]); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 4; i++ {
		if m := receive(t, cons); string(m.Payload()) != fmt.Sprintf("m%d", i) {
			t.Fatalf("after seek to m0 got %q, want m%d", m.Payload(), i)
		}
	}
	waitBacklog(t, s, topic, "sub", 3)

	if err := cons.Seek(ids[2]); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, cons); string(m.Payload()) != "m3" {
		t.Fatalf("after seek to m2 got %q, want m3", m.Payload())
	}
	waitBacklog(t, s, topic, "sub", 1)
}

func TestSeekByTimeOnAReader(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("before")})
	first := time.Now()
	// Publish times have millisecond precision: make sure the cut lies
	// strictly between the two messages.
	waitFor(t, "a new millisecond", func() bool { return time.Now().UnixMilli() > first.UnixMilli() })
	cut := time.Now()
	waitFor(t, "a new millisecond", func() bool { return time.Since(cut) > 2*time.Millisecond })
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("after")})

	r, err := c.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.SeekByTime(cut); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Payload()) != "after" {
		t.Fatalf("after SeekByTime got %q, want after", m.Payload())
	}
}

func TestReaderAtLatestInclusiveReadsTheLastMessage(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic})
	sendBatch(t, p, payloads("m", 3))
	// The client asks for the last message id, then seeks to it.
	r, err := c.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.LatestMessageID(),
		StartMessageIDInclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Payload()) != "m2" {
		t.Fatalf("got %q, want the last message m2", m.Payload())
	}
}
