package pulsartest

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"
)

func TestPartitionedTopicSpreadsKeysAndKeepsPerKeyOrder(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	if err := s.CreateTopic(topic, 3); err != nil {
		t.Fatal(err)
	}
	parts, err := c.TopicPartitions(topic)
	if err != nil || len(parts) != 3 {
		t.Fatalf("TopicPartitions = %v, %v; want 3 partitions", parts, err)
	}
	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub", Type: pulsar.Failover})
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic})

	const keys, perKey = 9, 10
	var msgs []*pulsar.ProducerMessage
	for i := 0; i < perKey; i++ {
		for k := 0; k < keys; k++ {
			msgs = append(msgs, &pulsar.ProducerMessage{Key: fmt.Sprintf("key-%d", k), Payload: []byte(strconv.Itoa(i))})
		}
	}
	sendBatch(t, p, msgs)

	used := 0
	for i := 0; i < 3; i++ {
		if s.MessageCount(partitionName(fullTopicName(topic), i)) > 0 {
			used++
		}
	}
	if used < 2 {
		t.Errorf("messages landed on %d partitions, want at least 2", used)
	}
	if n := s.MessageCount(topic); n != keys*perKey {
		t.Errorf("MessageCount = %d, want %d", n, keys*perKey)
	}

	next := map[string]int{}
	for _, r := range collect(t, []pulsar.Consumer{cons}, keys*perKey) {
		if want := strconv.Itoa(next[r.key]); r.payload != want {
			t.Errorf("key %s: got %s, want %s", r.key, r.payload, want)
		}
		next[r.key]++
	}
	waitBacklog(t, s, topic, "sub", 0)
}

func TestCreateTopicRejectsConflictingPartitionCounts(t *testing.T) {
	s := newServer(t)
	if err := s.CreateTopic("t", 2); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTopic("persistent://public/default/t", 2); err != nil {
		t.Fatalf("same topic, same partitions: %v", err)
	}
	if err := s.CreateTopic("t", 3); err == nil {
		t.Fatal("changing the partition count succeeded")
	}
	if err := s.CreateTopic("", 1); err == nil {
		t.Fatal("empty topic name accepted")
	}
}

func TestFailoverOnAPartitionedTopicSpreadsPartitionsOverConsumers(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	if err := s.CreateTopic(topic, 2); err != nil {
		t.Fatal(err)
	}
	opts := pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "fo", Type: pulsar.Failover}
	var consumers []pulsar.Consumer
	for _, name := range []string{"a", "b"} {
		opts.Name = name
		consumers = append(consumers, subscribe(t, c, opts))
	}
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true,
		MessageRouter: func(m *pulsar.ProducerMessage, _ pulsar.TopicMetadata) int { return int(m.Payload[0]-'0') % 2 }})
	for i := 0; i < 10; i++ {
		send(t, p, &pulsar.ProducerMessage{Payload: []byte(strconv.Itoa(i))})
	}

	parts := map[int]map[string]bool{}
	got := collect(t, consumers, 10)
	for _, r := range got {
		if parts[r.consumer] == nil {
			parts[r.consumer] = map[string]bool{}
		}
		parts[r.consumer][r.topic] = true
	}
	if len(parts) != 2 || len(parts[0]) != 1 || len(parts[1]) != 1 {
		t.Fatalf("partitions per consumer: %v, want one partition each", parts)
	}
}

func TestThousandsOfMessagesFlowThroughASharedPartitionedSubscription(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	if err := s.CreateTopic(topic, 2); err != nil {
		t.Fatal(err)
	}
	opts := pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub", Type: pulsar.Shared}
	consumers := []pulsar.Consumer{subscribe(t, c, opts), subscribe(t, c, opts)}
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic})
	const n = 3000
	sendBatch(t, p, payloads("m", n))
	got := collect(t, consumers, n)
	seen := map[string]bool{}
	for _, r := range got {
		if seen[r.payload] {
			t.Fatalf("%s delivered twice", r.payload)
		}
		seen[r.payload] = true
	}
	waitBacklog(t, s, topic, "sub", 0)
}
