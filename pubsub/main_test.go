package pubsub_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
	"go.uber.org/goleak"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/pubsub"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leakOptions...)
}

// leakOptions ignore goroutines that outlive Close by design.
var leakOptions = []goleak.Option{
	// OpenCensus's stats worker, started by the client library's package
	// initialisation and never stopped.
	goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	// The client library's stream keep-alive loop of each streaming pull
	// checks for the end of its Receive only between ticks of its 10 s
	// server-monitor ticker, so it outlives Receive by up to 10 s, then
	// exits by itself (cloud.google.com/go/pubsub/v2 iterator.go).
	goleak.IgnoreTopFunction("cloud.google.com/go/pubsub/v2.(*messageIterator).streamKeepAliveHandler"),
}

const project = "pullkit-test"

// runID keeps names unique across runs on a shared emulator.
var runID = fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff)

var seq atomic.Int64

// uniqueName returns a name unused in this process (and, with runID, on a
// shared emulator).
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%s-%d", prefix, runID, seq.Add(1))
}

// newServer starts pstest in process, closed when tb ends.
func newServer(tb testing.TB, opts ...pstest.ServerReactorOption) *pstest.Server {
	tb.Helper()
	srv := pstest.NewServer(opts...)
	tb.Cleanup(func() { _ = srv.Close() })
	return srv
}

// pstestOptions connect a client to srv over a real, insecure gRPC
// connection. The explicit endpoint wins over PUBSUB_EMULATOR_HOST.
func pstestOptions(srv *pstest.Server) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(srv.Addr),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithoutAuthentication(),
		option.WithTelemetryDisabled(),
	}
}

// newClient connects to srv, or to PUBSUB_EMULATOR_HOST when srv is nil.
func newClient(tb testing.TB, srv *pstest.Server) *pubsub.Client {
	tb.Helper()
	cfg := pubsub.Config{ProjectID: project}
	if srv != nil {
		cfg.ClientOptions = pstestOptions(srv)
	} else if p := os.Getenv("PUBSUB_PROJECT_ID"); p != "" {
		cfg.ProjectID = p
	}
	c, err := pubsub.NewClient(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// topicAndSub creates a topic and a subscription on it.
func topicAndSub(tb testing.TB, c *pubsub.Client, sc pubsub.SubscriptionConfig) (topic, sub string) {
	tb.Helper()
	ctx := testCtx(tb)
	topic, sub = uniqueName("t"), uniqueName("s")
	must(tb, c.EnsureTopic(ctx, topic))
	if sc.DeadLetterTopic != "" {
		must(tb, c.EnsureTopic(ctx, sc.DeadLetterTopic))
	}
	sc.Name, sc.Topic = sub, topic
	must(tb, c.EnsureSubscription(ctx, sc))
	return topic, sub
}

func publishAll(tb testing.TB, c *pubsub.Client, topic string, msgs ...broker.OutboundMessage) {
	tb.Helper()
	p, err := c.Publisher(pubsub.PublishConfig{})
	must(tb, err)
	defer p.Close()
	tp, err := p.Topic(topic)
	must(tb, err)
	must(tb, tp.BatchPublish(testCtx(tb), msgs...))
}
