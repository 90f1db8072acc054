package pulsar_test

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"
	plog "github.com/apache/pulsar-client-go/pulsar/log"
	"go.uber.org/goleak"

	"github.com/pullkit/broker/pulsar"
	"github.com/pullkit/broker/pulsar/pulsartest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leakOptions()...)
}

// leakOptions ignores goroutines pulsar-client-go leaves running after
// Client.Close by design; everything this package starts must be gone.
func leakOptions() []goleak.Option {
	return []goleak.Option{
		// Each partition producer runs a send-timeout timer loop that only
		// notices the producer was closed when its timer next fires, up to
		// SendTimeout after Close.
		goleak.IgnoreTopFunction("github.com/apache/pulsar-client-go/pulsar.(*partitionProducer).failTimeoutMessages"),
		// A producer or consumer that lost its broker retries its lookup
		// until the client's OperationTimeout, even after Close.
		goleak.IgnoreAnyFunction("github.com/apache/pulsar-client-go/pulsar.(*partitionProducer).reconnectToBroker"),
		goleak.IgnoreAnyFunction("github.com/apache/pulsar-client-go/pulsar.(*partitionConsumer).reconnectToBroker"),
		// A consumer that reconnected (the dropped-connection tests) tells
		// its dispatcher so from a goroutine that blocks forever if the
		// consumer closes before the dispatcher took the notice.
		goleak.IgnoreTopFunction("github.com/apache/pulsar-client-go/pulsar.(*partitionConsumer).grabConn.func1"),
	}
}

// target is a Pulsar service to test against: the in-process pulsartest
// broker, or the cluster PULSAR_URL names.
type target struct {
	name string
	url  string
	srv  *pulsartest.Server // nil for a real cluster
}

// targets returns pulsartest always, plus PULSAR_URL when set. The
// pulsartest server is closed when t ends.
func targets(t testing.TB) []target {
	t.Helper()
	srv, err := pulsartest.NewServer()
	if err != nil {
		t.Fatalf("pulsartest.NewServer: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ts := []target{{name: "pulsartest", url: srv.URL(), srv: srv}}
	if u := os.Getenv("PULSAR_URL"); u != "" {
		ts = append(ts, target{name: "PULSAR_URL", url: u})
	}
	return ts
}

// config is the backend configuration for tests: short timeouts, so a
// failure shows quickly, and a silent client logger.
func (tg target) config() pulsar.Config {
	return pulsar.Config{
		URL:               tg.url,
		OperationTimeout:  10 * time.Second,
		ConnectionTimeout: 5 * time.Second,
		ClientOptions: func(o *pc.ClientOptions) {
			o.Logger = plog.DefaultNopLogger()
		},
	}
}

// newClient returns a client closed when tb ends.
func (tg target) newClient(tb testing.TB) *pulsar.Client {
	tb.Helper()
	c, err := pulsar.NewClient(tg.config())
	if err != nil {
		tb.Fatalf("NewClient: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("Client.Close: %v", err)
		}
	})
	return c
}

// clients hands every test (every testing.TB) a client of its own, closed
// when it ends.
type clients struct {
	tg target
	mu sync.Mutex
	m  map[testing.TB]*pulsar.Client
}

func (cs *clients) of(tb testing.TB) *pulsar.Client {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.m[tb]; ok {
		return c
	}
	if cs.m == nil {
		cs.m = make(map[testing.TB]*pulsar.Client)
	}
	c, err := pulsar.NewClient(cs.tg.config())
	if err != nil {
		tb.Fatalf("NewClient: %v", err)
	}
	cs.m[tb] = c
	tb.Cleanup(func() {
		cs.mu.Lock()
		delete(cs.m, tb)
		cs.mu.Unlock()
		if err := c.Close(); err != nil {
			tb.Errorf("Client.Close: %v", err)
		}
	})
	return c
}

var seq atomic.Int64

// uniqueTopic returns a topic name unique across runs (real clusters keep
// topics), as persistent://public/default/<prefix>-<time>-<n>.
func uniqueTopic(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), seq.Add(1))
}
