package jetstream_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/pullkit/broker/jetstream"
	"github.com/pullkit/broker/jetstream/jstest"
)

// shared is the embedded server most tests use: one per test binary,
// started by TestMain. Tests that stop or reconfigure a server start
// their own.
var shared *jstest.Server

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jetstream-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared, err = jstest.Start(jstest.Options{StoreDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var drop []func()
	for _, tg := range targets() {
		remove, err := anchorStream(tg.url)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", tg.name, err)
			os.Exit(1)
		}
		drop = append(drop, remove)
	}
	code := m.Run()
	for _, remove := range drop {
		remove()
	}
	shared.Shutdown()
	_ = os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(leakOptions()...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// anchorStream creates a stream that lives as long as the shared server.
// nats-server v2.15.2 removes an account's empty streams directory in a
// goroutine after deleting its last stream; a stream created at that
// moment fails with "error creating store for stream" (its MkdirAll loses
// the race). Tests delete their streams as they end, in parallel with
// others creating theirs, so one stream must always be there.
func anchorStream(url string) (remove func(), err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := jetstream.Connect(ctx, jetstream.Config{URLs: []string{url}})
	if err != nil {
		return nil, err
	}
	name := "ANCHOR_" + runID
	if _, err := c.JetStream().CreateStream(ctx, natsjs.StreamConfig{Name: name, Subjects: []string{"anchor." + runID}}); err != nil {
		_ = c.Close()
		return nil, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.JetStream().DeleteStream(ctx, name)
		_ = c.Close()
	}, nil
}

// leakOptions are the goroutines allowed to outlive a test: none. Every
// test closes its consumers and clients, and deletes its streams (whose
// server-side goroutines would otherwise live on in the shared server).
func leakOptions() []goleak.Option { return nil }

// target is one server the suites run against: the embedded one always,
// a real one when NATS_URL is set.
type target struct {
	name string
	url  string
}

func targets() []target {
	ts := []target{{name: "embedded", url: shared.URL()}}
	if u := os.Getenv("NATS_URL"); u != "" {
		ts = append(ts, target{name: "NATS_URL", url: u})
	}
	return ts
}

// runID keeps names unique across runs against a real server.
var runID = fmt.Sprintf("%04x", rand.Uint32()&0xffff)

var nameSeq atomic.Int64

// uniqueSubject returns a fresh subject and a stream name for it.
func uniqueSubject(prefix string) (subject, stream string) {
	n := nameSeq.Add(1)
	return fmt.Sprintf("%s.%s.%d", prefix, runID, n), fmt.Sprintf("%s_%s_%d", prefix, runID, n)
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// connect opens a client to url, closed when tb ends.
func connect(tb testing.TB, url string) *jetstream.Client {
	tb.Helper()
	c, err := jetstream.Connect(testCtx(tb), jetstream.Config{URLs: []string{url}})
	if err != nil {
		tb.Fatalf("Connect: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// createStream creates a stream capturing subject, deleted when tb ends.
func createStream(tb testing.TB, c *jetstream.Client, stream, subject string) {
	tb.Helper()
	_, err := c.JetStream().CreateStream(testCtx(tb), natsjs.StreamConfig{Name: stream, Subjects: []string{subject}})
	if err != nil {
		tb.Fatalf("CreateStream %s: %v", stream, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.JetStream().DeleteStream(ctx, stream)
	})
}

// clients hands every test its own client on one server: the suite passes
// the same testing.TB to every harness call of one test.
type clients struct {
	url string
	mu  sync.Mutex
	m   map[testing.TB]*jetstream.Client
}

func (cs *clients) of(tb testing.TB) (*jetstream.Client, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.m[tb]; ok {
		return c, nil
	}
	if cs.m == nil {
		cs.m = map[testing.TB]*jetstream.Client{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := jetstream.Connect(ctx, jetstream.Config{URLs: []string{cs.url}})
	if err != nil {
		return nil, err
	}
	cs.m[tb] = c
	// Registered at the test's first harness call, before the suite
	// tracks its consumers, so it runs after they are closed.
	tb.Cleanup(func() {
		cs.mu.Lock()
		delete(cs.m, tb)
		cs.mu.Unlock()
		_ = c.Close()
	})
	return c, nil
}
