package servicebus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/servicebus"
	"github.com/pullkit/broker/servicebus/sbtest"
)

// env is one sbtest server, one client on it and a queue, for the tests
// of specific behaviour.
type env struct {
	t     *testing.T
	ctx   context.Context
	srv   *sbtest.Server
	tg    target
	c     *servicebus.Client
	queue string
}

// newEnv starts a server with a queue created with opts.
func newEnv(t *testing.T, opts *sbtest.QueueOptions) *env {
	t.Helper()
	srv, err := sbtest.NewServer()
	if err != nil {
		t.Fatalf("sbtest.NewServer: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, srv: srv, queue: "orders"}
	e.tg = target{name: "sbtest", connStr: srv.ConnectionString(), admin: sbtestAdmin{srv}, fast: true}
	if err := srv.CreateQueue(e.queue, opts); err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	e.c = e.tg.newClient(t)
	return e
}

func (e *env) topic() broker.Topic {
	e.t.Helper()
	p, err := e.c.Publisher()
	if err != nil {
		e.t.Fatalf("Publisher: %v", err)
	}
	e.t.Cleanup(func() { _ = p.Close() })
	tp, err := p.Topic(e.queue)
	if err != nil {
		e.t.Fatalf("Topic: %v", err)
	}
	return tp
}

func (e *env) publish(datas ...string) {
	e.t.Helper()
	tp := e.topic()
	for _, d := range datas {
		if err := tp.Publish(e.ctx, broker.OutboundMessage{Data: []byte(d)}); err != nil {
			e.t.Fatalf("Publish(%q): %v", d, err)
		}
	}
}

func (e *env) consumer(cfg servicebus.QueueConfig) *servicebus.Queue {
	e.t.Helper()
	if cfg.Queue == "" && cfg.Topic == "" {
		cfg.Queue = e.queue
	}
	q, err := e.c.NewQueue(e.ctx, cfg)
	if err != nil {
		e.t.Fatalf("NewQueue: %v", err)
	}
	e.t.Cleanup(func() { _ = q.Close() })
	return q
}

// next receives one message within the env's deadline.
func (e *env) next(q *servicebus.Queue) broker.Message {
	e.t.Helper()
	m, err := q.NextMessage(e.ctx)
	if err != nil {
		e.t.Fatalf("NextMessage: %v", err)
	}
	return m
}

// waitFor polls cond every 10 ms until it holds or the env's ctx ends.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	for !cond() {
		select {
		case <-e.ctx.Done():
			e.t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// nothingWithin checks that no message arrives for d.
func (e *env) nothingWithin(q *servicebus.Queue, d time.Duration, why string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, d)
	defer cancel()
	if m, err := q.NextMessage(ctx); err == nil {
		e.t.Errorf("%s: got message %q (delivery %d)", why, m.Data, m.DeliveryCount)
	}
}

func datas(n int, prefix string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(prefix, i)
	}
	return out
}
