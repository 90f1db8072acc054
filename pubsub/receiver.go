package pubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pullkit/broker"
)

// Receiver runs a callback for each message of a subscription, on the
// client library's streaming pull. It implements broker.Receiver.
type Receiver struct {
	c      *Client
	name   string
	native *gpubsub.Subscriber
	cfg    ReceiveConfig
	info   subscriptionInfo
	maxExt time.Duration // lease horizon the library keeps, 0: none

	mu      sync.Mutex
	running bool
}

var _ broker.Receiver = (*Receiver)(nil)

// Receiver opens a receiver of the named subscription (an ID, or a full
// "projects/…/subscriptions/…" name). It reads the subscription's settings
// (dead-letter policy, exactly-once delivery) once, so a missing
// subscription fails here with an error wrapping broker.ErrNotFound; an
// empty name fails with broker.ErrInvalidTopic, a bad cfg with
// broker.ErrInvalidOption.
func (c *Client) Receiver(ctx context.Context, subscription string, cfg ReceiveConfig) (*Receiver, error) {
	if subscription == "" {
		return nil, fmt.Errorf("%w: empty subscription name", broker.ErrInvalidTopic)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := c.usable(); err != nil {
		return nil, err
	}
	info, err := c.subscriptionInfo(ctx, subscription)
	if err != nil {
		return nil, err
	}
	native := c.c.Subscriber(c.subscriptionPath(subscription))
	native.ReceiveSettings = cfg.receiveSettings()
	return &Receiver{c: c, name: subscription, native: native, cfg: cfg, info: info, maxExt: maxExtension(native.ReceiveSettings)}, nil
}

// ExactlyOnce reports whether the subscription had exactly-once delivery
// when the Receiver was made: AckContext and Settle then return Pub/Sub's
// verdict (see the package doc).
func (r *Receiver) ExactlyOnce() bool { return r.info.exactlyOnce }

// CountsDeliveries reports whether the subscription had a dead-letter
// policy when the Receiver was made: only then does Pub/Sub count
// deliveries, so that Message.DeliveryCount is known.
func (r *Receiver) CountsDeliveries() bool { return r.info.deadLetter }

// Native returns the client library's subscriber. Its ReceiveSettings must
// not be changed while Receive runs.
func (r *Receiver) Native() *gpubsub.Subscriber { return r.native }

// Receive pulls messages and calls handler for each, from as many
// goroutines as the library runs (up to MaxOutstandingMessages at once),
// until ctx ends (it returns nil) or pulling fails for good (it returns
// the error, classified: broker.ErrNotFound for a deleted subscription,
// broker.ErrUnauthenticated, broker.ErrUnavailable). Only one Receive may
// run at a time on a Receiver; another fails with broker.ErrUnsupported.
//
// A handler that panics has its message nacked (unless it settled it
// first), the panic reported to ReceiveConfig.OnError as a
// *broker.PanicError, and Receive goes on.
//
// Shutdown, once ctx ends: 1. messages the library pulls from then on are
// nacked without reaching handler; 2. Receive waits for the handler calls
// in progress to return; 3. it nacks every message handed to handler and
// not settled yet (settling one later returns an error wrapping
// broker.ErrClosed), so it is redelivered at once instead of after its
// deadline; 4. the library sends the acks and nacks it batched, and
// Receive returns. No goroutine of the call outlives it, except the client
// library's stream keep-alive loop, which ends by itself within 10 s.
func (r *Receiver) Receive(ctx context.Context, handler func(context.Context, broker.Message)) error {
	if handler == nil {
		return fmt.Errorf("%w: nil handler", broker.ErrInvalidOption)
	}
	if ctx.Err() != nil {
		// broker.Receiver: nil once ctx ended. (A Consumer closed before
		// its Receive started would otherwise report ctx's error instead
		// of broker.ErrClosed.)
		return nil
	}
	if err := r.c.usable(); err != nil {
		return err
	}
	r.mu.Lock()
	if r.running {
		r.mu.Unlock()
		return fmt.Errorf("%w: pubsub: a Receive is already running on subscription %q", broker.ErrUnsupported, r.name)
	}
	r.running = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running = false
		r.mu.Unlock()
	}()

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := newReceiveState(r)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		<-rctx.Done()
		st.stop()
	}()
	defer st.closeDeadLetters()
	sweeping, swept := make(chan struct{}), make(chan struct{})
	go st.sweeper(sweeping, swept)
	err := r.native.Receive(rctx, func(hctx context.Context, m *gpubsub.Message) {
		st.handle(hctx, m, handler)
	})
	// Every handler call returned: nothing is deferred any more.
	close(sweeping)
	<-swept
	cancel()
	<-watched
	if err != nil && !(ctx.Err() != nil && canceled(err)) {
		return classify(err, fmt.Sprintf("receive from subscription %q", r.name))
	}
	return nil
}

// canceled reports whether err is only the end of a call's ctx, as a
// context error or a gRPC status.
func canceled(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch status.Code(err) {
	case codes.Canceled, codes.DeadlineExceeded:
		return true
	}
	return false
}

// receiveState tracks one Receive call's messages that were handed to the
// handler and are not settled, so that shutdown can nack them. They sit in
// intrusive lists (no allocation beyond the delivery), spread over shards
// so that the library's many handler goroutines rarely wait for each
// other's lock.
type receiveState struct {
	r      *Receiver
	shards [receiveShards]shard
	next   atomic.Uint32 // picks a delivery's shard, round-robin
	active atomic.Int64  // handler calls in progress

	// stopping is set once shutdown began; begin reads it under its
	// shard's lock, so after stop took every shard's lock no begin
	// registers a delivery any more.
	stopping atomic.Bool

	// dlq publishes rejected messages to ReceiveConfig.DeadLetterTopic;
	// made on the first Reject, closed when Receive returns.
	dlqOnce sync.Once
	dlq     *Publisher
	dlqErr  error
}

const receiveShards = 16

type shard struct {
	mu   sync.Mutex
	head delivery // sentinel of the shard's list of unsettled deliveries

	// deferred is the sentinel of the shard's list of deliveries whose
	// Ack or Nack was left to the end of their handler call (see
	// delivery.Settle); the sweeper settles those whose call goes on,
	// and drops those handle settled.
	deferred delivery
}

func newReceiveState(r *Receiver) *receiveState {
	st := &receiveState{r: r}
	for i := range st.shards {
		for _, h := range []*delivery{&st.shards[i].head, &st.shards[i].deferred} {
			h.next, h.prev = h, h
		}
	}
	return st
}

// sweepEvery is how often the sweeper looks at deferred settlements; one
// is passed to the library after one to two periods if its handler call
// still runs. The library itself sends acks every 100 ms.
const sweepEvery = 100 * time.Millisecond

// sweeper runs sweep until stop is closed, then closes done.
func (st *receiveState) sweeper(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	var due []settleLater
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			due = st.sweep(due[:0])
		}
	}
}

type settleLater struct {
	d    *delivery
	call uint32
}

// sweep passes to the library the deferred settlements it saw on its
// previous run whose handler call has not returned yet, so that an Ack
// made before long work reaches Pub/Sub while the work goes on (ack
// first, then work, is how a handler keeps a message it works on past
// the lease horizon from coming back). It unlinks the deliveries that
// handle settled meanwhile.
func (st *receiveState) sweep(due []settleLater) []settleLater {
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.Lock()
		for d := sh.deferred.next; d != &sh.deferred; {
			next := d.next
			switch call := d.call.Load(); {
			case call == ackAfterCall || call == nackAfterCall:
				if !d.seen {
					d.seen = true
					break
				}
				if d.call.CompareAndSwap(call, 0) {
					due = append(due, settleLater{d, call})
				}
				unlink(d)
			default: // handle settled it
				unlink(d)
			}
			d = next
		}
		sh.mu.Unlock()
	}
	for i, s := range due {
		if s.call == ackAfterCall {
			s.d.m.Ack()
		} else {
			s.d.m.Nack()
		}
		due[i] = settleLater{}
	}
	return due
}

func unlink(d *delivery) {
	d.prev.next = d.next
	d.next.prev = d.prev
	d.prev, d.next = nil, nil
}

func (st *receiveState) closeDeadLetters() {
	st.dlqOnce.Do(func() {})
	if st.dlq != nil {
		_ = st.dlq.Close()
	}
}

// begin registers m before it is handed out, or returns nil once shutdown began.
func (st *receiveState) begin(m *gpubsub.Message) *delivery {
	sh := &st.shards[st.next.Add(1)%receiveShards]
	d := &delivery{st: st, sh: sh, m: m, received: time.Now()}
	d.Settler.Init(d)
	sh.mu.Lock()
	if st.stopping.Load() {
		sh.mu.Unlock()
		return nil
	}
	st.active.Add(1)
	d.prev, d.next = sh.head.prev, &sh.head
	sh.head.prev.next = d
	sh.head.prev = d
	sh.mu.Unlock()
	return d
}

// handle hands m to handler. The library runs it on a fresh goroutine per
// message, whose stack starts small: the handler's own settlement calls
// the library from deep down this stack, so this path keeps its frames
// small (no defer, the slow paths out of line), or every message would pay
// for a stack copy. A panicking handler needs no defer either: the library
// does not recover it, so the process ends.
func (st *receiveState) handle(hctx context.Context, m *gpubsub.Message, handler func(context.Context, broker.Message)) {
	d := st.begin(m)
	if d == nil {
		m.Nack() // pulled after shutdown began: never handed out
		return
	}
	key, skip := m.OrderingKey, ""
	if ka := st.r.cfg.KeyAttribute; ka != "" && key == "" {
		if v, ok := m.Attributes[ka]; ok {
			key, skip = v, ka
		}
	}
	attrs := fromAttributes(m.Attributes, skip)
	d.call.Store(inHandler)
	callHandler(hctx, d, key, attrs, handler)
	switch d.call.Swap(0) {
	case ackAfterCall:
		m.Ack()
	case nackAfterCall:
		m.Nack()
	}
	st.end()
}

// callHandler builds the broker.Message in a frame of its own, so the
// allocations of handle happen higher up the stack.
//
//go:noinline
func callHandler(hctx context.Context, d *delivery, key string, attrs map[string]any, handler func(context.Context, broker.Message)) {
	defer func() {
		if v := recover(); v != nil {
			d.panicked(v)
		}
	}()
	m := d.m
	var count int
	if m.DeliveryAttempt != nil {
		count = *m.DeliveryAttempt
	}
	handler(hctx, broker.Message{
		ID:            m.ID,
		Key:           key,
		Data:          m.Data,
		Attributes:    attrs,
		PublishTime:   m.PublishTime,
		IngestionTime: d.received,
		DeliveryCount: count,
		Settler:       &d.Settler,
	})
}

// panicked nacks the message of a handler call that panicked (unless the
// handler settled it first) and reports the panic; Receive goes on.
func (d *delivery) panicked(v any) {
	err := &broker.PanicError{Value: v, Stack: debug.Stack()}
	msg := broker.Message{Settler: &d.Settler}
	msg.Nack()
	if f := d.st.r.cfg.OnError; f != nil {
		f(err)
		return
	}
	// Never the value itself: it may hold the payload.
	slog.Error("pubsub: receive handler panicked; message nacked", "subscription", d.st.r.name, "message_id", d.m.ID, "stack", string(err.Stack))
}

// delivery.call: whether the handler call that got the message is still
// running, and what Ack or Nack made during it left for handle to do.
const (
	inHandler uint32 = iota + 1
	ackAfterCall
	nackAfterCall
)

// end marks a handler call returned. During shutdown, the last one to
// return nacks what is still unsettled.
func (st *receiveState) end() {
	if st.active.Add(-1) == 0 && st.stopping.Load() {
		st.release()
	}
}

// stop starts shutdown; the unsettled messages are nacked once no handler
// call is in progress.
func (st *receiveState) stop() {
	st.stopping.Store(true)
	// A barrier: a begin that saw stopping unset has registered its
	// delivery and counted its handler call once we hold its shard's lock.
	for i := range st.shards {
		st.shards[i].mu.Lock()
		st.shards[i].mu.Unlock()
	}
	if st.active.Load() == 0 {
		st.release()
	}
}

// release nacks every unsettled delivery. It may run more than once (the
// last end and stop may both see no handler call in progress); a delivery
// is nacked once.
func (st *receiveState) release() {
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.Lock()
		for d := sh.head.next; d != &sh.head; {
			next := d.next
			d.prev, d.next = nil, nil
			d.released = true
			d.m.Nack()
			d = next
		}
		sh.head.next, sh.head.prev = &sh.head, &sh.head
		sh.mu.Unlock()
	}
}

// take removes d from the unsettled list; it reports false if shutdown
// already nacked d.
func (st *receiveState) take(d *delivery) bool {
	sh := d.sh
	sh.mu.Lock()
	if d.released {
		sh.mu.Unlock()
		return false
	}
	unlink(d)
	sh.mu.Unlock()
	return true
}

// Outcomes of deferSettle.
const (
	settleNow = iota // the handler call is over: settle d now
	deferred         // left to handle (or the sweeper)
	released         // shutdown already nacked d
)

// deferSettle removes d from the unsettled list and, if its handler call still
// runs, leaves the settlement after (ackAfterCall or nackAfterCall) to
// the end of that call, on the deferred list the sweeper watches.
func (st *receiveState) deferSettle(d *delivery, after uint32) int {
	sh := d.sh
	sh.mu.Lock()
	if d.released {
		sh.mu.Unlock()
		return released
	}
	unlink(d)
	if !d.call.CompareAndSwap(inHandler, after) {
		sh.mu.Unlock()
		return settleNow
	}
	d.seen = false
	d.prev, d.next = sh.deferred.prev, &sh.deferred
	sh.deferred.prev.next = d
	sh.deferred.prev = d
	sh.mu.Unlock()
	return deferred
}

// delivery is one message handed out: its broker.Settler, the library's
// message and its place in the unsettled list.
type delivery struct {
	broker.Settler
	st         *receiveState
	sh         *shard
	m          *gpubsub.Message
	received   time.Time
	prev, next *delivery
	released   bool // nacked by shutdown; guarded by sh.mu
	seen       bool // on the deferred list at the sweeper's last run; guarded by sh.mu
	call       atomic.Uint32
}

// Settle carries the message's one settlement to the library: see the
// package doc for what each kind means on Pub/Sub.
func (d *delivery) Settle(ctx context.Context, s broker.Settlement) error {
	if s.NoWait && s.Kind != broker.SettleReject {
		// Ack and Nack, the common case. Made while the handler call
		// that got the message runs, they are left to handle, which
		// passes them to the library when the call returns: the library's
		// ack path is deep, and from the bottom of the handler's fresh
		// goroutine stack it made every message pay for a stack copy. If
		// the call goes on, the sweeper passes them within 200 ms.
		after := nackAfterCall
		if s.Kind == broker.SettleAck {
			after = ackAfterCall
		}
		switch d.st.deferSettle(d, after) {
		case released:
			return d.closedErr()
		case deferred:
			return nil
		}
		if s.Kind == broker.SettleAck {
			d.m.Ack()
		} else {
			d.m.Nack()
		}
		return nil
	}
	return d.settle(ctx, s)
}

//go:noinline
func (d *delivery) closedErr() error {
	return fmt.Errorf("%w: pubsub: message %s was nacked when its Receive ended", broker.ErrClosed, d.m.ID)
}

// settle is Settle's slow path: waiting for the outcome, or Reject.
//
//go:noinline
func (d *delivery) settle(ctx context.Context, s broker.Settlement) error {
	if !d.st.take(d) {
		return d.closedErr()
	}
	switch s.Kind {
	case broker.SettleAck:
		if s.NoWait {
			d.m.Ack()
			return nil
		}
		return d.wait(ctx, d.m.AckWithResult(), "ack")
	case broker.SettleNack:
		if s.NoWait {
			d.m.Nack()
			return nil
		}
		return d.wait(ctx, d.m.NackWithResult(), "nack")
	default: // broker.SettleReject
		return d.reject(ctx, s)
	}
}

// wait returns the outcome of an ack or nack. Only exactly-once
// subscriptions report one; on others the library hands back a result that
// is successful at once, and the ack itself is best-effort.
func (d *delivery) wait(ctx context.Context, r *gpubsub.AckResult, what string) error {
	status, err := r.Get(ctx)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return err
		}
		return classify(err, fmt.Sprintf("%s of message %s", what, d.m.ID))
	}
	if status != gpubsub.AcknowledgeStatusSuccess {
		return fmt.Errorf("pubsub: %s of message %s: status %d", what, d.m.ID, status)
	}
	return nil
}

// reject publishes a copy of the message to ReceiveConfig.DeadLetterTopic
// (if set) and acks it. If the copy cannot be published the message is
// nacked instead, so it is not lost, and the error returned.
func (d *delivery) reject(ctx context.Context, s broker.Settlement) error {
	r := d.st.r
	if r.cfg.DeadLetterTopic == "" {
		if s.NoWait {
			d.m.Ack()
			return nil
		}
		return d.wait(ctx, d.m.AckWithResult(), "ack of a rejected message")
	}
	if s.NoWait {
		// Reject() does not return an error; bound its wait.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rejectTimeout)
		defer cancel()
	}
	err := d.st.forward(ctx, d.m)
	if err != nil {
		d.m.Nack()
		return err
	}
	if s.NoWait {
		d.m.Ack()
		return nil
	}
	return d.wait(ctx, d.m.AckWithResult(), "ack of a rejected message")
}

// rejectTimeout bounds Message.Reject's publish to the dead-letter topic.
const rejectTimeout = 30 * time.Second

// forward publishes a copy of m to the dead-letter topic.
func (st *receiveState) forward(ctx context.Context, m *gpubsub.Message) error {
	st.dlqOnce.Do(func() { st.dlq, st.dlqErr = st.r.c.Publisher(PublishConfig{}) })
	if st.dlqErr != nil {
		return st.dlqErr
	}
	t, err := st.dlq.topic(st.r.cfg.DeadLetterTopic)
	if err != nil {
		return err
	}
	cp := &gpubsub.Message{Data: m.Data, Attributes: m.Attributes, OrderingKey: m.OrderingKey}
	var res [1]*gpubsub.PublishResult
	var seq [1]uint64
	if err := t.send(ctx, []*gpubsub.Message{cp}, res[:], seq[:]); err != nil {
		return err
	}
	_, err = t.result(ctx, cp, res[0], seq[0])
	return err
}

// Extend keeps the message leased for at least dur from now. The client
// library extends every unsettled message's lease by itself, while Receive
// runs, up to ReceiveConfig.MaxExtension after receipt; it has no call to
// lease one message longer. So Extend succeeds when now+dur is within that
// horizon (there is nothing to do), and otherwise fails with an error
// wrapping broker.ErrUnsupported (also when extension is disabled).
func (d *delivery) Extend(ctx context.Context, dur time.Duration) error {
	if err := d.st.check(d); err != nil {
		return err
	}
	horizon := d.received.Add(d.st.r.maxExt)
	if d.st.r.maxExt > 0 && !time.Now().Add(dur).After(horizon) {
		return nil
	}
	return fmt.Errorf("%w: pubsub: the client library leases a message for at most MaxExtension (%v) after receipt, and %v from now is past that", broker.ErrUnsupported, d.st.r.maxExt, dur)
}

func (st *receiveState) check(d *delivery) error {
	d.sh.mu.Lock()
	defer d.sh.mu.Unlock()
	if d.released {
		return fmt.Errorf("%w: pubsub: message %s was nacked when its Receive ended", broker.ErrClosed, d.m.ID)
	}
	if st.stopping.Load() {
		// The library stops extending leases once Receive is shutting down.
		return fmt.Errorf("%w: pubsub: Receive is ending", broker.ErrClosed)
	}
	return nil
}
