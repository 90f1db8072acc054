package servicebus_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus/admin"

	"github.com/pullkit/broker/servicebus"
	"github.com/pullkit/broker/servicebus/sbtest"
)

// entityAdmin creates the entities tests need: on sbtest through its test
// API, on a real namespace through the administration client.
type entityAdmin interface {
	createQueue(ctx context.Context, name string, o entityOptions) error
	updateQueue(ctx context.Context, name string, o entityOptions) error
	createTopic(ctx context.Context, name string) error
	createSubscription(ctx context.Context, topic, sub string, o entityOptions) error
}

// entityOptions: zero fields keep the defaults.
type entityOptions struct {
	lockDuration     time.Duration
	maxDeliveryCount int
}

// target is one place the tests run against.
type target struct {
	name    string
	connStr string
	admin   entityAdmin
	// fast: an in-process server, so retries can be short and lock
	// durations sub-second.
	fast bool
}

// targets lists sbtest always and the namespace in
// SERVICEBUS_CONNECTION_STRING when it is set.
func targets(tb testing.TB) []target {
	tb.Helper()
	srv, err := sbtest.NewServer()
	if err != nil {
		tb.Fatalf("sbtest.NewServer: %v", err)
	}
	tb.Cleanup(func() { _ = srv.Close() })
	out := []target{{name: "sbtest", connStr: srv.ConnectionString(), admin: sbtestAdmin{srv}, fast: true}}
	if cs := os.Getenv("SERVICEBUS_CONNECTION_STRING"); cs != "" {
		ac, err := admin.NewClientFromConnectionString(cs, nil)
		if err != nil {
			tb.Fatalf("admin client for SERVICEBUS_CONNECTION_STRING: %v", err)
		}
		out = append(out, target{name: "namespace", connStr: cs, admin: &realAdmin{c: ac, tb: tb}})
	}
	return out
}

// clientOptions keeps retries short against sbtest, so failure paths
// (wrong key, dropped connection) resolve quickly.
func (tg target) clientOptions() *azservicebus.ClientOptions {
	if !tg.fast {
		return nil
	}
	return &azservicebus.ClientOptions{RetryOptions: azservicebus.RetryOptions{
		MaxRetries: 3, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond,
	}}
}

// newClient returns a client on the target, closed when tb ends.
func (tg target) newClient(tb testing.TB) *servicebus.Client {
	tb.Helper()
	c, err := servicebus.NewClient(servicebus.Config{ConnectionString: tg.connStr, ClientOptions: tg.clientOptions()})
	if err != nil {
		tb.Fatalf("NewClient: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			tb.Errorf("Client.Close: %v", err)
		}
	})
	return c
}

var nameSeq atomic.Int64

// uniqueName is unique in this process and, with the time, across runs
// (entities on a real namespace outlive a run if cleanup fails).
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixMilli()%1e8, nameSeq.Add(1))
}

type sbtestAdmin struct{ srv *sbtest.Server }

func (a sbtestAdmin) createQueue(_ context.Context, name string, o entityOptions) error {
	return a.srv.CreateQueue(name, &sbtest.QueueOptions{LockDuration: o.lockDuration, MaxDeliveryCount: o.maxDeliveryCount})
}

func (a sbtestAdmin) updateQueue(_ context.Context, name string, o entityOptions) error {
	return a.srv.UpdateQueue(name, &sbtest.QueueOptions{LockDuration: o.lockDuration, MaxDeliveryCount: o.maxDeliveryCount})
}

func (a sbtestAdmin) createTopic(_ context.Context, name string) error {
	return a.srv.CreateTopic(name)
}

func (a sbtestAdmin) createSubscription(_ context.Context, topic, sub string, o entityOptions) error {
	err := a.srv.CreateSubscription(topic, sub, &sbtest.QueueOptions{LockDuration: o.lockDuration, MaxDeliveryCount: o.maxDeliveryCount})
	if errors.Is(err, sbtest.ErrExists) {
		return nil
	}
	return err
}

// realAdmin creates entities on a real namespace and deletes them when
// the test binary's top-level test ends.
type realAdmin struct {
	c  *admin.Client
	tb testing.TB

	mu   sync.Mutex
	subs map[string]bool
}

func isoDuration(d time.Duration) *string {
	if d <= 0 {
		return nil
	}
	return to.Ptr(fmt.Sprintf("PT%dS", int((d+time.Second-1)/time.Second)))
}

func maxDelivery(n int) *int32 {
	if n <= 0 {
		return nil
	}
	return to.Ptr(int32(n))
}

func (a *realAdmin) createQueue(ctx context.Context, name string, o entityOptions) error {
	_, err := a.c.CreateQueue(ctx, name, &admin.CreateQueueOptions{Properties: &admin.QueueProperties{
		LockDuration: isoDuration(o.lockDuration), MaxDeliveryCount: maxDelivery(o.maxDeliveryCount),
	}})
	if err == nil {
		a.tb.Cleanup(func() { _, _ = a.c.DeleteQueue(context.Background(), name, nil) })
	}
	return err
}

func (a *realAdmin) updateQueue(ctx context.Context, name string, o entityOptions) error {
	got, err := a.c.GetQueue(ctx, name, nil)
	if err != nil {
		return err
	}
	p := got.QueueProperties
	if v := isoDuration(o.lockDuration); v != nil {
		p.LockDuration = v
	}
	if v := maxDelivery(o.maxDeliveryCount); v != nil {
		p.MaxDeliveryCount = v
	}
	_, err = a.c.UpdateQueue(ctx, name, p, nil)
	return err
}

func (a *realAdmin) createTopic(ctx context.Context, name string) error {
	_, err := a.c.CreateTopic(ctx, name, nil)
	if err == nil {
		a.tb.Cleanup(func() { _, _ = a.c.DeleteTopic(context.Background(), name, nil) })
	}
	return err
}

func (a *realAdmin) createSubscription(ctx context.Context, topic, sub string, o entityOptions) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.subs[topic+"/"+sub] {
		return nil
	}
	_, err := a.c.CreateSubscription(ctx, topic, sub, &admin.CreateSubscriptionOptions{Properties: &admin.SubscriptionProperties{
		LockDuration: isoDuration(o.lockDuration), MaxDeliveryCount: maxDelivery(o.maxDeliveryCount),
	}})
	if err == nil {
		if a.subs == nil {
			a.subs = map[string]bool{}
		}
		a.subs[topic+"/"+sub] = true
	}
	return err
}
