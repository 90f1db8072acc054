package pulsartest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	plog "github.com/apache/pulsar-client-go/pulsar/log"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leakOptions()...)
}

// leakOptions ignores goroutines that pulsar-client-go itself leaves running
// after Client.Close; everything the server starts must be gone.
func leakOptions() []goleak.Option {
	return []goleak.Option{
		// Each partition producer runs a send-timeout timer loop that only
		// notices the producer was closed when its timer next fires, up to
		// SendTimeout (30 s by default) after Close.
		goleak.IgnoreTopFunction("github.com/apache/pulsar-client-go/pulsar.(*partitionProducer).failTimeoutMessages"),
		// A consumer that received a chunked message sleeps until the
		// incomplete-chunk expiry (a minute by default) before it checks
		// whether the message was completed, even after Close.
		goleak.IgnoreTopFunction("github.com/apache/pulsar-client-go/pulsar.(*chunkedMsgCtxMap).discardChunkIfExpire"),
		// A producer or consumer that lost its broker (the tests close the
		// server under live clients) retries its lookup until the client's
		// OperationTimeout, even after Close.
		goleak.IgnoreAnyFunction("github.com/apache/pulsar-client-go/pulsar.(*partitionProducer).reconnectToBroker"),
		goleak.IgnoreAnyFunction("github.com/apache/pulsar-client-go/pulsar.(*partitionConsumer).reconnectToBroker"),
	}
}

// newServer starts a server that is closed when the test ends.
func newServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s, err := NewServer(opts...)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// newClient connects the real client with short timeouts, so that failures
// show quickly instead of after the 30 s defaults.
func newClient(t *testing.T, s *Server) pulsar.Client {
	t.Helper()
	c, err := pulsar.NewClient(pulsar.ClientOptions{
		URL:               s.URL(),
		ConnectionTimeout: 5 * time.Second,
		OperationTimeout:  10 * time.Second,
		Logger:            plog.DefaultNopLogger(),
	})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

var topicSeq atomic.Int64

// topicName returns a topic name unique within the test binary.
func topicName(t *testing.T) string {
	return fmt.Sprintf("%s-%d", t.Name(), topicSeq.Add(1))
}

// waitFor polls cond until it is true or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitBacklog waits until the subscription's backlog is want.
func waitBacklog(t *testing.T, s *Server, topic, sub string, want int) {
	t.Helper()
	var got int
	var err error
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err = s.Backlog(topic, sub)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("backlog of %s/%s: got %d (err %v), want %d", topic, sub, got, err, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// receive receives one message with a deadline.
func receive(t *testing.T, c pulsar.Consumer) pulsar.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := c.Receive(ctx)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return m
}

// send sends one message synchronously.
func send(t *testing.T, p pulsar.Producer, msg *pulsar.ProducerMessage) pulsar.MessageID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := p.Send(ctx, msg)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	return id
}

// noMessage asserts that nothing arrives within d. It is a negative check,
// so it has to wait; keep d short.
func noMessage(t *testing.T, c pulsar.Consumer, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if m, err := c.Receive(ctx); err == nil {
		t.Fatalf("unexpected message %q (id %v)", m.Payload(), m.ID())
	}
}

// entryCount returns how many entries (batches or single messages) the
// server stored for a non-partitioned topic.
func entryCount(s *Server, topic string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.topics[fullTopicName(topic)]; t != nil {
		return len(t.entries)
	}
	return 0
}
