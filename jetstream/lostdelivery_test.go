package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/jetstream"
)

// proxy forwards TCP connections to a server. While blackholed it throws
// away what the server sends, so deliveries the server made never reach
// the client, as when a connection breaks with messages in flight; cut
// closes every connection, and the client reconnects through the proxy.
type proxy struct {
	ln        net.Listener
	target    string
	blackhole atomic.Bool
	wg        sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) url() string { return "nats://" + p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(server, client)
			_ = server.Close()
		}()
		go func() {
			defer p.wg.Done()
			buf := make([]byte, 32<<10)
			for {
				n, err := server.Read(buf)
				if n > 0 && !p.blackhole.Load() {
					if _, werr := client.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			_ = client.Close()
		}()
	}
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// Records the server delivered but the connection lost are redelivered
// only after AckWait, behind records delivered after the reconnect. The
// consumer must not hand out those later records first (a commit of one
// would cover the lost ones, which nobody read) nor drop the lost ones
// when they come back.
func TestLogDoesNotSkipRecordsLostInFlight(t *testing.T) {
	direct := connect(t, shared.URL())
	subject, stream := uniqueSubject("lost")
	createStream(t, direct, stream, subject)
	px := startProxy(t, strings.TrimPrefix(shared.URL(), "nats://"))
	c := fastReconnect(t, px.url())
	ctx := testCtx(t)

	publishN(t, direct, subject, "r", 0, 3)
	l, err := c.JoinLog(ctx, jetstream.LogConfig{Subject: subject, Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	for i := range 3 {
		r, err := l.NextRecord(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprint("r", i); string(r.Value) != want {
			t.Fatalf("got %q, want %q", r.Value, want)
		}
	}

	// r3..r5 are delivered into the void, then the connection breaks.
	px.blackhole.Store(true)
	publishN(t, direct, subject, "r", 3, 6)
	cons, err := direct.JetStream().Consumer(ctx, stream, "g")
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Delivered.Stream >= 6 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the server did not deliver r3..r5: %+v", info.Delivered)
		case <-time.After(10 * time.Millisecond):
		}
	}
	px.blackhole.Store(false)
	px.cut()
	// Publish once the client is back: records published while it is away
	// would be delivered into the broken connection too, and with none
	// after them only AckWait (30 s) brings them back.
	for c.Conn().Stats().Reconnects == 0 || !c.Conn().IsConnected() {
		select {
		case <-ctx.Done():
			t.Fatal("the client did not reconnect")
		case <-time.After(10 * time.Millisecond):
		}
	}
	publishN(t, direct, subject, "r", 6, 9)

	for i := 3; i < 9; i++ {
		r, err := l.NextRecord(ctx)
		if err != nil {
			t.Fatalf("waiting for r%d: %v", i, err)
		}
		if want := fmt.Sprint("r", i); string(r.Value) != want {
			t.Fatalf("got %q at offset %d, want %q: a record lost in flight was skipped", r.Value, r.Offset, want)
		}
		if i == 8 {
			if err := r.AckContext(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if r, err := l.NextRecord(short); err == nil {
		t.Errorf("record %q at offset %d handed out again after the commit of offset 9", r.Value, r.Offset)
	}
}

// After a resync (see above) the server numbers its deliveries afresh, and
// an AckAll carrying a delivery number above the current count makes it
// ignore the next acks below that number. A record held across the
// resync must therefore commit with its new delivery, or a later commit
// that AckContext confirms is never applied.
func TestLogCommitsAfterAResyncApply(t *testing.T) {
	direct := connect(t, shared.URL())
	subject, stream := uniqueSubject("resync")
	createStream(t, direct, stream, subject)
	px := startProxy(t, strings.TrimPrefix(shared.URL(), "nats://"))
	c := fastReconnect(t, px.url())
	ctx := testCtx(t)

	publishN(t, direct, subject, "r", 0, 5)
	l, err := c.JoinLog(ctx, jetstream.LogConfig{Subject: subject, Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	cons, err := direct.JetStream().Consumer(ctx, stream, "g")
	if err != nil {
		t.Fatal(err)
	}
	ackFloor := func() uint64 {
		t.Helper()
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.AckFloor.Stream
	}
	records := map[string]broker.Record{}
	read := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			r, err := l.NextRecord(ctx)
			if err != nil {
				t.Fatalf("waiting for r%d: %v", i, err)
			}
			if want := fmt.Sprint("r", i); string(r.Value) != want {
				t.Fatalf("got %q at offset %d, want %q", r.Value, r.Offset, want)
			}
			records[string(r.Value)] = r
		}
	}
	read(0, 5)
	r1 := records["r1"]
	if err := r1.AckContext(ctx); err != nil {
		t.Fatal(err)
	}

	px.blackhole.Store(true)
	publishN(t, direct, subject, "r", 5, 8)
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Delivered.Stream >= 8 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the server did not deliver r5..r7: %+v", info.Delivered)
		case <-time.After(10 * time.Millisecond):
		}
	}
	px.blackhole.Store(false)
	px.cut()
	for c.Conn().Stats().Reconnects == 0 || !c.Conn().IsConnected() {
		select {
		case <-ctx.Done():
			t.Fatal("the client did not reconnect")
		case <-time.After(10 * time.Millisecond):
		}
	}
	publishN(t, direct, subject, "r", 8, 11)
	read(5, 11)

	for _, name := range []string{"r4", "r6", "r9"} {
		r := records[name]
		if err := r.AckContext(ctx); err != nil {
			t.Fatalf("commit %s: %v", name, err)
		}
		if got := ackFloor(); got != uint64(r.Offset) {
			t.Fatalf("after the confirmed commit of %s at offset %d the group's ack floor is %d", name, r.Offset, got)
		}
	}
}

// A connection that breaks while BatchPublish waits for its PubAcks fails
// the pending acks with nats.ErrDisconnected; the messages were sent and
// may be stored (here they are), so they are PublishUnknown, never
// PublishFailed ("certainly not published"), which invites a blind retry.
func TestBatchPublishReportsUnconfirmedNotFailedWhenTheConnectionBreaks(t *testing.T) {
	direct := connect(t, shared.URL())
	subject, stream := uniqueSubject("pubcut")
	createStream(t, direct, stream, subject)
	px := startProxy(t, strings.TrimPrefix(shared.URL(), "nats://"))
	c := fastReconnect(t, px.url())
	ctx := testCtx(t)
	tp, err := c.Publisher(jetstream.PublisherConfig{}).Topic(subject)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3
	msgs := make([]broker.OutboundMessage, n)
	for i := range msgs {
		msgs[i] = broker.OutboundMessage{Data: fmt.Appendf(nil, "m%d", i)}
	}
	px.blackhole.Store(true) // the PubAcks never arrive
	done := make(chan error, 1)
	go func() { done <- tp.BatchPublish(ctx, msgs...) }()
	for {
		info, err := direct.JetStream().Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		if info.CachedInfo().State.Msgs == n {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the messages were not stored")
		case <-time.After(10 * time.Millisecond):
		}
	}
	px.blackhole.Store(false)
	px.cut()
	err = <-done
	var be *broker.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("BatchPublish: got %v, want a *broker.BatchError", err)
	}
	for i, st := range be.Status {
		if st == broker.PublishFailed {
			t.Errorf("message %d, stored, reported %v: %v", i, st, be.Errs[i])
		}
	}
}

// The same right after JoinLog: the reset consumer numbers its deliveries
// from 1, so a first delivery numbered higher shows the ones lost before.
func TestLogDoesNotSkipRecordsLostInFlightBeforeItsFirstDelivery(t *testing.T) {
	direct := connect(t, shared.URL())
	subject, stream := uniqueSubject("lostfirst")
	createStream(t, direct, stream, subject)
	px := startProxy(t, strings.TrimPrefix(shared.URL(), "nats://"))
	c := fastReconnect(t, px.url())
	ctx := testCtx(t)
	l, err := c.JoinLog(ctx, jetstream.LogConfig{Subject: subject, Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })

	px.blackhole.Store(true)
	publishN(t, direct, subject, "r", 0, 3)
	cons, err := direct.JetStream().Consumer(ctx, stream, "g")
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Delivered.Stream >= 3 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the server did not deliver r0..r2: %+v", info.Delivered)
		case <-time.After(10 * time.Millisecond):
		}
	}
	px.blackhole.Store(false)
	px.cut()
	for c.Conn().Stats().Reconnects == 0 || !c.Conn().IsConnected() {
		select {
		case <-ctx.Done():
			t.Fatal("the client did not reconnect")
		case <-time.After(10 * time.Millisecond):
		}
	}
	publishN(t, direct, subject, "r", 3, 6)
	for i := range 6 {
		r, err := l.NextRecord(ctx)
		if err != nil {
			t.Fatalf("waiting for r%d: %v", i, err)
		}
		if want := fmt.Sprint("r", i); string(r.Value) != want {
			t.Fatalf("got %q at offset %d, want %q: a record lost in flight was skipped", r.Value, r.Offset, want)
		}
	}
}

// With PubAcks held back, a BatchPublish canceled midway reports the
// messages it sent as unknown and the rest, never sent, as failed; the
// stream then holds exactly the sent ones.
func TestBatchPublishCanceledMidwayReportsWhatItSent(t *testing.T) {
	direct := connect(t, shared.URL())
	subject, stream := uniqueSubject("pubcancel")
	createStream(t, direct, stream, subject)
	px := startProxy(t, strings.TrimPrefix(shared.URL(), "nats://"))
	c := fastReconnect(t, px.url())
	ctx := testCtx(t)
	const window, n = 4, 10
	tp, err := c.Publisher(jetstream.PublisherConfig{MaxInFlight: window}).Topic(subject)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]broker.OutboundMessage, n)
	for i := range msgs {
		msgs[i] = broker.OutboundMessage{Data: fmt.Appendf(nil, "m%d", i)}
	}
	px.blackhole.Store(true)
	pubCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- tp.BatchPublish(pubCtx, msgs...) }()
	for {
		info, err := direct.JetStream().Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		if info.CachedInfo().State.Msgs == window {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the first window was not stored")
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	err = <-done
	px.blackhole.Store(false)
	var be *broker.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("BatchPublish: got %v, want a *broker.BatchError", err)
	}
	for i, st := range be.Status {
		want := broker.PublishFailed
		if i < window {
			want = broker.PublishUnknown
		}
		if st != want {
			t.Errorf("message %d: %v (%v), want %v", i, st, be.Errs[i], want)
		}
	}
	info, err := direct.JetStream().Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.CachedInfo().State.Msgs; got != window {
		t.Errorf("the stream holds %d messages, want the %d sent", got, window)
	}
}
