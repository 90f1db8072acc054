package kafka_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pullkit/broker/brokertest"
	"github.com/pullkit/broker/kafka"
)

// A target is a cluster the tests run against: an in-process kfake cluster
// always, and the cluster KAFKA_BROKERS names when it is set.
type target struct {
	name string
	// cluster returns the cluster for one test (kfake: one per test, so
	// tests are isolated; a real cluster is shared).
	cluster func(tb testing.TB) *testCluster
}

// testCluster is one cluster as the tests see it.
type testCluster struct {
	fake *kfake.Cluster // nil on a real cluster
	cfg  kafka.Config
}

// fastGroups makes group membership changes visible in a fraction of a
// second rather than franz-go's 3 s heartbeats.
var fastGroups = []kgo.Opt{
	kgo.HeartbeatInterval(100 * time.Millisecond),
	kgo.FetchMaxWait(200 * time.Millisecond),
}

func targets() []target {
	ts := []target{{name: "kfake", cluster: perTest(startFake)}}
	if addrs := os.Getenv("KAFKA_BROKERS"); addrs != "" {
		shared := &testCluster{cfg: kafka.Config{Brokers: strings.Split(addrs, ","), Opts: fastGroups}}
		ts = append(ts, target{name: "real", cluster: func(testing.TB) *testCluster { return shared }})
	}
	return ts
}

// startFake starts a kfake cluster closed when tb ends.
func startFake(tb testing.TB, opts ...kfake.Opt) *testCluster {
	tb.Helper()
	opts = append([]kfake.Opt{
		kfake.NumBrokers(1),
		kfake.BrokerConfigs(map[string]string{
			"group.share.heartbeat.interval.ms":    "100",
			"group.consumer.heartbeat.interval.ms": "100",
			// Expired share locks are noticed within 100 ms, not 5 s.
			"share.record.lock.sweep.interval.ms": "100",
		}),
	}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		tb.Fatalf("kfake: %v", err)
	}
	tb.Cleanup(c.Close)
	return &testCluster{fake: c, cfg: kafka.Config{Brokers: c.ListenAddrs(), Opts: fastGroups}}
}

// perTest hands every test (every testing.TB) a cluster of its own.
func perTest(start func(testing.TB, ...kfake.Opt) *testCluster) func(testing.TB) *testCluster {
	var (
		mu sync.Mutex
		m  = map[testing.TB]*testCluster{}
	)
	return func(tb testing.TB) *testCluster {
		mu.Lock()
		defer mu.Unlock()
		if c, ok := m[tb]; ok {
			return c
		}
		c := start(tb)
		m[tb] = c
		tb.Cleanup(func() {
			mu.Lock()
			delete(m, tb)
			mu.Unlock()
		})
		return c
	}
}

var seq atomic.Int64

// unique returns a name unique within the process and across runs.
func unique(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e9, seq.Add(1))
}

// createTopic creates a topic through the Kafka admin API, so it works on
// kfake and on a real cluster alike.
func (tc *testCluster) createTopic(ctx context.Context, tb testing.TB, name string, partitions int, configs map[string]*string) error {
	cl, err := kgo.NewClient(tc.adminOpts()...)
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, int32(partitions), -1, configs, name)
	if err != nil {
		return err
	}
	if resp.Err == nil && tc.fake == nil {
		// A real cluster outlives the test: leave no topic behind.
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cl, err := kgo.NewClient(tc.adminOpts()...)
			if err != nil {
				return
			}
			defer cl.Close()
			_, _ = kadm.NewClient(cl).DeleteTopics(ctx, name)
		})
	}
	return resp.Err
}

// rawClient returns a plain franz-go client on the cluster, closed when tb ends.
func (tc *testCluster) rawClient(tb testing.TB, opts ...kgo.Opt) *kgo.Client {
	tb.Helper()
	cl, err := kgo.NewClient(append(tc.adminOpts(), opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	return cl
}

// emulateGroupConfig makes up for kfake reading the share lock duration and
// delivery limit from broker configs only (Kafka reads the group configs
// that kafka.QueueOptions writes): it sets them broker-wide on this test's
// own cluster. A real cluster needs nothing.
func (tc *testCluster) emulateGroupConfig(ctx context.Context, o brokertest.SubscribeOptions) error {
	if tc.fake == nil {
		return nil
	}
	set := map[string]string{}
	if o.AckDeadline > 0 {
		set["group.share.record.lock.duration.ms"] = strconv.FormatInt(o.AckDeadline.Milliseconds(), 10)
	}
	if o.MaxDeliveries > 0 {
		set["group.share.delivery.count.limit"] = strconv.Itoa(o.MaxDeliveries)
	}
	if len(set) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(tc.adminOpts()...)
	if err != nil {
		return err
	}
	defer cl.Close()
	var alter []kadm.AlterConfig
	for k, v := range set {
		alter = append(alter, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(v)})
	}
	resp, err := kadm.NewClient(cl).AlterBrokerConfigs(ctx, alter)
	if err != nil {
		return err
	}
	for _, r := range resp {
		if r.Err != nil {
			return fmt.Errorf("altering kfake broker configs %v: %w (%s)", set, r.Err, r.ErrMessage)
		}
	}
	return nil
}

// adminOpts are the options of a raw client on the cluster (TLS included).
func (tc *testCluster) adminOpts() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(tc.cfg.Brokers...)}
	if tc.cfg.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(tc.cfg.TLS.Clone()))
	}
	return opts
}
