package adapters

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pullkit/broker"
)

var errAdapterClosed = fmt.Errorf("%w: adapter closed", broker.ErrClosed)

// iterCore is what the pull-shaped adapters share: the conversion is opened
// on the first call, with a ctx that lives until Close, so that goroutines
// it starts (a stream's, a receiver's) outlive single calls but not Close.
type iterCore[E any] struct {
	open      func(ctx context.Context, revs *revocations) pull[E]
	watch     func() *revocations
	ctx       context.Context
	cancel    context.CancelFunc
	mu        sync.Mutex // serialises next, and Close against next
	p         pull[E]
	revs      *revocations
	closed    atomic.Bool
	closeOnce sync.Once
}

func (c *iterCore[E]) init(open func(context.Context, *revocations) pull[E], watch func() *revocations) {
	c.open, c.watch = open, watch
	c.ctx, c.cancel = context.WithCancel(context.Background())
}

func (c *iterCore[E]) next(ctx context.Context) (v E, err error) {
	if c.open == nil {
		return v, errZero
	}
	c.mu.Lock()
	switch {
	case c.p != nil:
		v, err = c.p.next(ctx)
	case c.closed.Load():
		err = errAdapterClosed
	default:
		c.revs = c.watch()
		c.p = c.open(c.ctx, c.revs)
		v, err = c.p.next(ctx)
	}
	c.mu.Unlock()
	return v, err
}

// close: 1. refuse new calls; 2. cancel the conversion's ctx, which ends a
// call blocked on a stream or receiver source; 3. wait for a call in
// progress; 4. stop the conversion (its goroutines exit, what it buffered is
// released); 5. stop watching revocations.
//
// A concurrent Close waits for the first one: either returns only once the
// adapter stopped.
func (c *iterCore[E]) close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		if c.cancel == nil {
			return // a zero-value adapter
		}
		c.cancel()
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.p != nil {
			c.p.stop()
			c.p = nil
		}
		c.revs.close()
	})
	return nil
}

func singleOpener[T Item](src *source[T], cfg *config) func(context.Context, *revocations) pull[T] {
	return func(ctx context.Context, revs *revocations) pull[T] {
		return src.openSingle(ctx, &openOpts{cfg: cfg, revs: revs})
	}
}

func batchOpener[T Item](src *source[T], cfg *config) func(context.Context, *revocations) pull[[]T] {
	return func(ctx context.Context, revs *revocations) pull[[]T] {
		return src.openBatch(ctx, &openOpts{cfg: cfg, revs: revs})
	}
}

// MessageIterator is a broker.MessageIterator built on another shape.
//
// The conversion starts on the first NextMessage call and runs until Close:
// over a stream or a receiver it holds a goroutine and a channel of
// capacity WithBuffer; over a batched source it holds the rest of the
// current batch. NextMessage calls must not be concurrent. Close is
// idempotent: it nacks every message the adapter pulled and did not hand
// out, waits for its goroutines, and makes later calls return an error
// wrapping broker.ErrClosed. Close may run while NextMessage blocks on a
// stream or receiver source (it ends the call); over an iterator source it
// waits for the call, whose ctx bounds it. Close never closes the source:
// it stays the caller's.
type MessageIterator struct {
	c   iterCore[broker.Message]
	cfg config
}

func newMessageIterator(src *source[broker.Message], opts []Option) *MessageIterator {
	it := &MessageIterator{cfg: newConfig(opts)}
	it.c.init(singleOpener(src, &it.cfg), src.watch)
	return it
}

// NextMessage implements broker.MessageIterator.
func (it *MessageIterator) NextMessage(ctx context.Context) (broker.Message, error) {
	return it.c.next(ctx)
}

// Close stops the adapter; see MessageIterator.
func (it *MessageIterator) Close() error { return it.c.close() }

// RecordIterator is a broker.RecordIterator built on another shape. It
// follows MessageIterator's rules, except that records it pulled and did
// not hand out are simply dropped on Close (not committed, the log replays
// them). When the source is a broker.RevocationNotifier, the records the
// adapter buffered for a revoked partition are dropped too, and OnRevoke
// forwards registrations to the source, so adapters can be stacked.
type RecordIterator struct {
	c   iterCore[broker.Record]
	src *source[broker.Record]
	cfg config
}

func newRecordIterator(src *source[broker.Record], opts []Option) *RecordIterator {
	it := &RecordIterator{src: src, cfg: newConfig(opts)}
	it.c.init(singleOpener(src, &it.cfg), src.watch)
	return it
}

// NextRecord implements broker.RecordIterator.
func (it *RecordIterator) NextRecord(ctx context.Context) (broker.Record, error) {
	return it.c.next(ctx)
}

// Close stops the adapter; see RecordIterator.
func (it *RecordIterator) Close() error { return it.c.close() }

// OnRevoke implements broker.RevocationNotifier by forwarding to the source
// (a no-op when the source is not one).
func (it *RecordIterator) OnRevoke(f func([]broker.TopicPartition)) (unregister func()) {
	return it.src.onRevoke(f)
}

// BatchIterator is broker.BatchedMessageIterator (T = broker.Message) or
// broker.BatchedIterator (T = broker.Record) built on another shape. It
// follows MessageIterator's (or RecordIterator's) rules, and:
//
//   - NextBatch never returns an empty batch with a nil error; the batch is
//     the caller's to keep. Native batches of a batched source pass through
//     as they are.
//   - From a single-item source it builds batches of at most WithMaxBatch:
//     the first item is pulled with the caller's ctx, the rest with a
//     deadline WithMaxWait after the first one arrived.
//   - When ctx ends (or that deadline passes) while a batch fills, the
//     items pulled so far are returned with a nil error, and ctx's error
//     comes only from a call that pulled nothing: nothing pulled is lost or
//     held back. A source error after the first item also returns the
//     partial batch first and the error on the next call.
type BatchIterator[T Item] struct {
	c   iterCore[[]T]
	src *source[T]
	cfg config
}

func newBatchIterator[T Item](src *source[T], opts []Option) *BatchIterator[T] {
	it := &BatchIterator[T]{src: src, cfg: newConfig(opts)}
	it.c.init(batchOpener(src, &it.cfg), src.watch)
	return it
}

// NextBatch implements broker.BatchedMessageIterator and broker.BatchedIterator.
func (it *BatchIterator[T]) NextBatch(ctx context.Context) ([]T, error) { return it.c.next(ctx) }

// Close stops the adapter; see BatchIterator.
func (it *BatchIterator[T]) Close() error { return it.c.close() }

// OnRevoke forwards to the source, as RecordIterator.OnRevoke does.
func (it *BatchIterator[T]) OnRevoke(f func([]broker.TopicPartition)) (unregister func()) {
	return it.src.onRevoke(f)
}
