package servicebus

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/adapters"
)

// Queue consumes a Service Bus queue or topic subscription. It implements
// broker.BatchedMessageIterator natively on azservicebus ReceiveMessages,
// and broker.MessageIterator through package adapters; Receiver and
// BatchedReceiver return the callback shapes.
//
// NextBatch and NextMessage calls must not be concurrent with each other
// (a second call waits for the first, or for its ctx to end). Everything
// else (settling messages, Close) is safe from any goroutine.
type Queue struct {
	c      *Client
	cfg    QueueConfig
	rcv    *azservicebus.Receiver
	it     *adapters.MessageIterator
	entity string
	recvOp string

	closing  atomic.Bool
	closeCtx context.Context // ends at Close: in-flight receives and renewals stop
	closeFn  context.CancelFunc

	// recvSlot (capacity 1) serialises receives, as a lock that a
	// waiting NextBatch can give up on when its ctx ends; buf, guarded by
	// it, is what the last receive brought beyond MaxBatch (Prefetch),
	// not handed out yet.
	recvSlot chan struct{}
	buf      []*delivery

	// mu guards held and the renewal fields of its deliveries.
	mu   sync.Mutex
	held map[*delivery]struct{} // handed out, not settled (peek-lock only)

	wake      chan struct{} // nudges the renewer
	renewDone chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var (
	_ broker.BatchedMessageIterator = (*Queue)(nil)
	_ broker.MessageIterator        = (*Queue)(nil)
)

// NewQueue opens a consumer as cfg says and connects it: it opens the
// receiver's links (with a peek, which locks nothing), so a missing entity
// (broker.ErrNotFound) or refused credentials (broker.ErrUnauthenticated)
// show here, and so that NextBatch calls with very short deadlines do not
// each start, and abandon, the link set-up. ctx bounds the connection.
// In peek-lock mode it starts one goroutine, the lock renewer (which runs
// up to 16 short-lived renewal goroutines), and Close stops them all.
func (c *Client) NewQueue(ctx context.Context, cfg QueueConfig) (*Queue, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if c.isClosed() {
		return nil, fmt.Errorf("servicebus: open receiver for %s: %w", cfg.entity(), broker.ErrClosed)
	}
	var ro azservicebus.ReceiverOptions
	if cfg.ReceiverOptions != nil {
		ro = *cfg.ReceiverOptions
	}
	ro.ReceiveMode = azservicebus.ReceiveModePeekLock
	if cfg.ReceiveMode == ReceiveAndDelete {
		ro.ReceiveMode = azservicebus.ReceiveModeReceiveAndDelete
	}
	if cfg.DeadLetter {
		ro.SubQueue = azservicebus.SubQueueDeadLetter
	}
	var (
		rcv *azservicebus.Receiver
		err error
	)
	if cfg.Queue != "" {
		rcv, err = c.sb.NewReceiverForQueue(cfg.Queue, &ro)
	} else {
		rcv, err = c.sb.NewReceiverForSubscription(cfg.Topic, cfg.Subscription, &ro)
	}
	if err != nil {
		return nil, wrapErr("open receiver for "+cfg.entity(), err)
	}
	// An explicit FromSequenceNumber: a peek without one moves the
	// receiver's own peek cursor past the message it returns, and a
	// caller peeking through Native would then miss it.
	first := int64(0)
	if _, err := rcv.PeekMessages(ctx, 1, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &first}); err != nil {
		cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		_ = rcv.Close(cctx)
		return nil, wrapErr("open receiver for "+cfg.entity(), err)
	}
	q := &Queue{
		c: c, cfg: cfg, rcv: rcv,
		entity:    cfg.entity(),
		held:      map[*delivery]struct{}{},
		recvSlot:  make(chan struct{}, 1),
		wake:      make(chan struct{}, 1),
		renewDone: make(chan struct{}),
	}
	q.recvOp = "receive from " + q.entity
	q.closeCtx, q.closeFn = context.WithCancel(context.Background())
	q.it = adapters.BatchedMessageIteratorToMessageIterator(q)
	if err := c.track(q); err != nil {
		q.closeFn()
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		_ = rcv.Close(ctx)
		return nil, err
	}
	if cfg.ReceiveMode == PeekLock {
		go q.renewLoop()
	} else {
		close(q.renewDone)
	}
	return q, nil
}

// Native returns the azservicebus receiver underneath (for peeking,
// deferral and the like). Messages received through it directly are the
// caller's to settle; do not close it.
func (q *Queue) Native() *azservicebus.Receiver { return q.rcv }

func (q *Queue) errClosed() error {
	return fmt.Errorf("servicebus: %s: %w", q.recvOp, broker.ErrClosed)
}

// NextBatch returns the next 1 to MaxBatch messages: those left from the
// previous receive (Prefetch), or those one ReceiveMessages call brings,
// waiting for the first as long as ctx allows and then at most MaxWait
// for more. Messages past the poison policy's MaxDeliveries are
// dead-lettered (or completed, for PoisonTerminate) instead of returned.
// A call canceled by ctx loses nothing: messages that arrive for it are
// returned by the next call or released back to the entity.
func (q *Queue) NextBatch(ctx context.Context) ([]broker.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if q.closing.Load() {
		return nil, q.errClosed()
	}
	select {
	case q.recvSlot <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-q.closeCtx.Done():
		return nil, q.errClosed()
	}
	defer func() { <-q.recvSlot }()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(q.closeCtx, cancel)
	defer stop()
	for {
		if q.closing.Load() {
			return nil, q.errClosed()
		}
		if len(q.buf) > 0 {
			return q.handOut(), nil
		}
		rms, err := q.rcv.ReceiveMessages(rctx, q.cfg.Prefetch, &azservicebus.ReceiveMessagesOptions{TimeAfterFirstMessage: q.cfg.MaxWait})
		q.ingest(rctx, rms)
		switch {
		case len(q.buf) > 0 && !q.closing.Load():
			continue // hand them out; an error will show again on the next call
		case q.closing.Load():
			return nil, q.errClosed()
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			return nil, wrapErr(q.recvOp, err)
		}
		// No message and no error: the SDK was recovering its link. Go on.
	}
}

// NextMessage returns the next message, through
// adapters.BatchedMessageIteratorToMessageIterator over NextBatch: the
// rest of a batch waits in the adapter (locked and renewed, as handed-out
// messages are) until later calls.
func (q *Queue) NextMessage(ctx context.Context) (broker.Message, error) {
	return q.it.NextMessage(ctx)
}

// Receiver returns a broker.Receiver over the queue (adapters'
// BatchedMessageIteratorToReceiver, with opts such as
// adapters.WithWorkers). The queue renews the locks of the messages its
// handlers hold (QueueConfig.AutoRenew), so adapters.WithAutoExtend is not
// needed. Close the queue after Receive returned.
func (q *Queue) Receiver(opts ...adapters.Option) *adapters.Receiver[broker.Message] {
	return adapters.BatchedMessageIteratorToReceiver(q, opts...)
}

// BatchedReceiver is Receiver with a callback per batch.
func (q *Queue) BatchedReceiver(opts ...adapters.Option) *adapters.BatchReceiver[broker.Message] {
	return adapters.BatchedMessageIteratorToBatchedReceiver(q, opts...)
}

// ingest turns received messages into deliveries in q.buf, settling
// poison ones on the spot, within ctx (the receive's: the caller's ctx,
// ended by Close too).
func (q *Queue) ingest(ctx context.Context, rms []*azservicebus.ReceivedMessage) {
	now := time.Now()
	for _, rm := range rms {
		d := &delivery{q: q, rm: rm, received: now}
		d.Settler.Init(d)
		if rm.LockedUntil != nil {
			d.lockedUntil = *rm.LockedUntil
			d.lockSpan = max(rm.LockedUntil.Sub(now), minLockSpan)
		}
		if q.cfg.ReceiveMode == PeekLock && q.cfg.Poison.Exceeded(int(rm.DeliveryCount)) {
			// Its lock expired on its last allowed delivery. Settled
			// here, not handed out; if that fails, or ctx ends first
			// (NextBatch must return when its ctx ends, and Close waits
			// for it), the lock expires and the entity (or this check)
			// deals with it again.
			sctx, cancel := context.WithTimeout(ctx, q.cfg.SettleTimeout)
			_ = d.poison(sctx, reasonMaxDeliveries, q.maxDeliveriesDescription(rm.DeliveryCount))
			cancel()
			continue
		}
		q.buf = append(q.buf, d)
	}
}

// minLockSpan keeps the renewer from spinning on a lock that looks
// already expired (a clock skewed against the namespace's).
const minLockSpan = 100 * time.Millisecond

// handOut returns up to MaxBatch messages from q.buf, registering them as
// held (renewed until settled, up to AutoRenew).
func (q *Queue) handOut() []broker.Message {
	n := min(len(q.buf), q.cfg.MaxBatch)
	out := make([]broker.Message, n)
	now := time.Now()
	peekLock := q.cfg.ReceiveMode == PeekLock
	if peekLock {
		q.mu.Lock()
	}
	for i, d := range q.buf[:n] {
		out[i] = d.message(now)
		if peekLock {
			q.held[d] = struct{}{}
			if q.cfg.AutoRenew > 0 {
				d.extendUntil = now.Add(q.cfg.AutoRenew)
			}
		}
	}
	if peekLock {
		q.mu.Unlock()
		if q.cfg.AutoRenew > 0 {
			q.nudge()
		}
	}
	clear(q.buf[:n])
	q.buf = q.buf[n:]
	if len(q.buf) == 0 {
		q.buf = nil
	}
	return out
}

// Close stops the consumer:
//  1. later calls fail with broker.ErrClosed, and a NextBatch or
//     NextMessage in progress returns it;
//  2. the NextMessage adapter abandons the rest of its batch;
//  3. the lock renewer stops;
//  4. every message fetched and not handed out, and every message handed
//     out and not settled yet, is abandoned (best-effort, in parallel; one
//     whose abandon fails is redelivered when its lock expires), so the
//     next consumer gets them at once, one delivery higher (Service Bus
//     counts an abandon as a delivery); settling them afterwards fails
//     with broker.ErrClosed;
//  5. the receiver link closes.
//
// Close is idempotent; concurrent calls wait for the first.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		q.closing.Store(true)
		q.closeFn()
		_ = q.it.Close()
		q.recvSlot <- struct{}{} // a NextBatch in progress returns: closeCtx ended
		buf := q.buf
		q.buf = nil
		<-q.recvSlot
		<-q.renewDone

		// Take the held messages back: their holders' settlements now
		// fail with ErrClosed (see delivery.Settle), not ErrAlreadySettled,
		// since nobody settled them.
		q.mu.Lock()
		pending := buf
		for d := range q.held {
			d.givenBack = true
			pending = append(pending, d)
		}
		clear(q.held)
		q.mu.Unlock()

		if q.cfg.ReceiveMode == PeekLock && len(pending) > 0 {
			// Bounded apart from the link's close: after a dropped
			// connection azservicebus retries settlements with its
			// default 4 s backoff (not ClientOptions.RetryOptions), and
			// they cannot succeed on a new link anyway.
			actx, cancel := context.WithTimeout(context.Background(), abandonTimeout)
			abandonAll(actx, pending)
			cancel()
		}
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := q.rcv.Close(ctx); err != nil {
			q.closeErr = wrapErr("close receiver for "+q.entity, err)
		}
		q.c.untrack(q)
	})
	return q.closeErr
}

// abandonTimeout bounds the abandons of Close.
const abandonTimeout = 3 * time.Second

// abandonAll abandons deliveries that Close took back, 16 at a time.
func abandonAll(ctx context.Context, ds []*delivery) {
	var wg sync.WaitGroup
	work := make(chan *delivery)
	for range min(16, len(ds)) {
		wg.Go(func() {
			for d := range work {
				_ = d.q.rcv.AbandonMessage(ctx, d.rm, nil)
			}
		})
	}
	for _, d := range ds {
		work <- d
	}
	close(work)
	wg.Wait()
}

func (q *Queue) maxDeliveriesDescription(count uint32) string {
	return "delivered " + strconv.FormatUint(uint64(count), 10) + " times; PoisonPolicy.MaxDeliveries is " + strconv.Itoa(q.cfg.Poison.MaxDeliveries)
}

// nudge wakes the renewer without blocking.
func (q *Queue) nudge() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}
