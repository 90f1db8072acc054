package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/jetstream"
	"github.com/pullkit/broker/jetstream/jstest"
)

// startServer starts a server of the test's own (for tests that stop it or
// configure it), shut down when the test ends.
func startServer(t *testing.T, opts jstest.Options) *jstest.Server {
	t.Helper()
	if opts.StoreDir == "" {
		opts.StoreDir = t.TempDir()
	}
	srv, err := jstest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// fastReconnect connects with a short reconnect wait, so tests that
// restart the server do not wait nats.go's default 2 s.
func fastReconnect(t *testing.T, url string) *jetstream.Client {
	t.Helper()
	c, err := jetstream.Connect(testCtx(t), jetstream.Config{URLs: []string{url}, ReconnectWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func publishN(t *testing.T, c *jetstream.Client, subject, prefix string, from, to int) {
	t.Helper()
	tp, err := c.Publisher(jetstream.PublisherConfig{}).Topic(subject)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []broker.OutboundMessage
	for i := from; i < to; i++ {
		msgs = append(msgs, broker.OutboundMessage{Data: fmt.Appendf(nil, "%s%d", prefix, i)})
	}
	if err := tp.BatchPublish(testCtx(t), msgs...); err != nil {
		t.Fatal(err)
	}
}

func TestQueueConsumerRidesOutAServerRestartWithoutLosingMessages(t *testing.T) {
	srv := startServer(t, jstest.Options{})
	c := fastReconnect(t, srv.URL())
	subject, stream := uniqueSubject("restart")
	createStream(t, c, stream, subject)
	ctx := testCtx(t)
	q, err := c.Subscribe(ctx, jetstream.QueueConfig{Subject: subject, Consumer: "workers", AckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	const n = 40
	publishN(t, c, subject, "m", 0, n)

	confirmed := map[string]bool{} // acks the server confirmed
	// Ack 15 with confirmation and hold 5 unsettled across the outage.
	var held []broker.Message
	for len(confirmed)+len(held) < 20 {
		m, err := q.NextMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(held) < 5 {
			held = append(held, m)
			continue
		}
		if err := m.AckContext(ctx); err != nil {
			t.Fatal(err)
		}
		confirmed[string(m.Data)] = true
	}

	srv.Shutdown()
	// During the outage a call waits (or returns what was prefetched)
	// and ends with its context; the consumer stays usable.
	for {
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		m, err := q.NextMessage(short)
		cancel()
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("NextMessage during the outage: got %v, want context.DeadlineExceeded", err)
			}
			break
		}
		// Prefetched before the shutdown: settle after the restart.
		held = append(held, m)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	publishN(t, c, subject, "m", n, 2*n)

	// Everything not confirmed arrives: the held ones after their ack
	// wait, the rest as published. Nothing confirmed comes back.
	seen := map[string]int{}
	for k := range confirmed {
		seen[k] = 1
	}
	for len(seen) < 2*n {
		m, err := q.NextMessage(ctx)
		if err != nil {
			t.Fatalf("NextMessage after the restart, %d of %d seen: %v", len(seen), 2*n, err)
		}
		if confirmed[string(m.Data)] {
			t.Errorf("message %q redelivered after its ack was confirmed", m.Data)
		}
		seen[string(m.Data)]++
		if err := m.AckContext(ctx); err != nil {
			t.Fatalf("AckContext after the restart: %v", err)
		}
		confirmed[string(m.Data)] = true
	}
	for i := range 2 * n {
		if seen[fmt.Sprint("m", i)] == 0 {
			t.Errorf("message m%d lost", i)
		}
	}
	// The held messages' deliveries expired; settling them now is harmless.
	for _, m := range held {
		m.Nack()
	}
}

func TestLogConsumerResumesAfterAServerRestartFromItsLastCommit(t *testing.T) {
	srv := startServer(t, jstest.Options{})
	c := fastReconnect(t, srv.URL())
	subject, stream := uniqueSubject("restartlog")
	createStream(t, c, stream, subject)
	ctx := testCtx(t)
	const n = 30
	publishN(t, c, subject, "r", 0, n)
	l, err := c.JoinLog(ctx, jetstream.LogConfig{Subject: subject, Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	var last int64
	for i := range 10 {
		r, err := l.NextRecord(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Value) != fmt.Sprint("r", i) || r.Offset <= last {
			t.Fatalf("record %d: got %q at offset %d after offset %d", i, r.Value, r.Offset, last)
		}
		last = r.Offset
		if i == 9 {
			if err := r.AckContext(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	srv.Shutdown()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	for {
		r, err := l.NextRecord(short)
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("NextRecord during the outage: got %v, want context.DeadlineExceeded", err)
			}
			break
		}
		// Prefetched before the shutdown: still in order.
		if r.Offset != last+1 {
			t.Fatalf("got offset %d after %d", r.Offset, last)
		}
		last = r.Offset
	}
	cancel()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// The same consumer goes on in order after the restart.
	for last < n {
		r, err := l.NextRecord(ctx)
		if err != nil {
			t.Fatalf("NextRecord after the restart at offset %d: %v", last, err)
		}
		if r.Offset != last+1 {
			t.Fatalf("after the restart: got offset %d after %d", r.Offset, last)
		}
		last = r.Offset
	}
	// Closing without committing more and rejoining replays from the
	// commit made before the outage.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := c.JoinLog(ctx, jetstream.LogConfig{Subject: subject, Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l2.Close() })
	r, err := l2.NextRecord(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Value) != "r10" {
		t.Errorf("rejoined group starts at %q, want r10 (right after the commit of r9)", r.Value)
	}
}
