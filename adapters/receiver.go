package adapters

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/pullkit/broker"
)

// Receiver is broker.Receiver (T = broker.Message) or broker.RecordReceiver
// (T = broker.Record) built on another shape.
//
// Receive pulls from the source on the calling goroutine and runs handler
// on WithWorkers worker goroutines, through channels of capacity WithBuffer.
// It returns nil when ctx ends or the source ends with broker.ErrClosed, and
// the source's error otherwise; either way only after every goroutine it
// started has exited and every handler call has returned. Items pulled but
// not handed to a handler when ctx ends are released: messages nacked,
// records left uncommitted. After a source error, items already pulled are
// still handed out before Receive returns.
//
// With WithAutoExtend, the messages handlers work on are kept leased
// (Message.Extend) until the handler returns or the option's max passed.
//
// A handler that panics is recovered: its message is nacked (a record is
// left uncommitted, which also holds the partition's commits back from then
// on, as the log requires), the panic goes to the WithOnError callback as a
// *broker.PanicError, and the receiver goes on.
//
// Messages go to whichever worker is free. Records of one partition go to
// one worker, in offset order (of one key, with WithKeyOrder), and each is
// handed out with its own Settler: the receiver commits the source record
// only up to the highest offset below which every record it handed out was
// acked. Acks of a partition revoked since are refused with
// broker.ErrPartitionRevoked, and acks after Receive returned with
// broker.ErrClosed (the receiver no longer learns of revocations).
//
// One Receive call at a time: a concurrent call returns an error wrapping
// broker.ErrUnsupported at once; a nil handler, one wrapping
// broker.ErrInvalidOption, before anything is pulled. Receive never closes
// the source.
type Receiver[T Item] struct {
	src    *source[T]
	cfg    config
	busy   atomic.Bool
	engine func(ctx context.Context, src *source[T], cfg *config, revs *revocations, h func(context.Context, T)) error
}

// Receive implements broker.Receiver and broker.RecordReceiver.
func (r *Receiver[T]) Receive(ctx context.Context, handler func(context.Context, T)) error {
	return receive(ctx, r.src, &r.busy, handler == nil, func(revs *revocations) error {
		return r.engine(ctx, r.src, &r.cfg, revs, handler)
	})
}

// OnRevoke forwards to the source, as Stream.OnRevoke does.
func (r *Receiver[T]) OnRevoke(f func([]broker.TopicPartition)) (unregister func()) {
	return r.src.onRevoke(f)
}

// BatchReceiver is broker.BatchedReceiver or broker.BatchedRecordReceiver
// built on another shape. It follows Receiver's rules with a handler per
// non-empty batch of at most WithMaxBatch items, built by size and
// WithMaxWait (native batches of a batched source pass through). A handler
// that panics has every message of its batch that it did not settle nacked.
//
// For records, a batch holds the records that map to one worker: records of
// one partition (or key) are always in the same worker's batches, in offset
// order, one batch at a time; a batch may hold several partitions. Each
// record must be acked on its own: acking only the last record of a batch
// does not commit the earlier ones, because the watermark needs every one.
type BatchReceiver[T Item] struct {
	src    *source[T]
	cfg    config
	busy   atomic.Bool
	engine func(ctx context.Context, src *source[T], cfg *config, revs *revocations, h func(context.Context, []T)) error
}

// ReceiveBatch implements broker.BatchedReceiver and broker.BatchedRecordReceiver.
func (r *BatchReceiver[T]) ReceiveBatch(ctx context.Context, handler func(context.Context, []T)) error {
	return receive(ctx, r.src, &r.busy, handler == nil, func(revs *revocations) error {
		return r.engine(ctx, r.src, &r.cfg, revs, handler)
	})
}

// receive is what Receive and ReceiveBatch share around their engine: refuse
// a zero adapter, a nil handler and a concurrent call, return nil at once for
// a done ctx, and watch the source's revocations for the call's duration.
func receive[T Item](ctx context.Context, src *source[T], busy *atomic.Bool, nilHandler bool, run func(*revocations) error) error {
	if src == nil {
		return errZero
	}
	if nilHandler {
		return errNilHandler
	}
	if !busy.CompareAndSwap(false, true) {
		return errBusy
	}
	defer busy.Store(false)
	if ctx.Err() != nil {
		return nil
	}
	revs := src.watch()
	defer revs.close()
	return run(revs)
}

// OnRevoke forwards to the source, as Stream.OnRevoke does.
func (r *BatchReceiver[T]) OnRevoke(f func([]broker.TopicPartition)) (unregister func()) {
	return r.src.onRevoke(f)
}

// errNilHandler refuses a nil handler before anything is pulled: every
// item would otherwise be released as a handler panic.
var errNilHandler = fmt.Errorf("%w: nil handler", broker.ErrInvalidOption)

// receiveQueue is the queue engine: one lane shared by all workers.
func receiveQueue[T Item](ctx context.Context, src *source[T], cfg *config, revs *revocations, h func(context.Context, T)) error {
	p := src.openSingle(ctx, &openOpts{cfg: cfg, revs: revs})
	rel, report := src.sem.release, cfg.onError
	work := func(ctx context.Context, v T) { protect(ctx, h, v, rel, report) }
	if ls := startLeases(ctx, cfg); ls != nil {
		defer ls.close()
		work = func(ctx context.Context, v T) {
			m := any(v).(broker.Message) // queue engines only run on messages
			ls.hold(m)
			defer ls.release(m)
			protect(ctx, h, v, rel, report)
		}
	}
	pl := pool[T, T]{
		workers: cfg.workers, lanes: 1, buf: cfg.buffer,
		route:   one[T],
		release: rel,
		work:    work,
	}
	return pl.run(ctx, p)
}

func receiveQueueBatches[T Item](ctx context.Context, src *source[T], cfg *config, revs *revocations, h func(context.Context, []T)) error {
	p := src.openBatch(ctx, &openOpts{cfg: cfg, revs: revs})
	rel, report := src.sem.releaseAll, cfg.onError
	work := func(ctx context.Context, v []T) { protect(ctx, h, v, rel, report) }
	if ls := startLeases(ctx, cfg); ls != nil {
		defer ls.close()
		work = func(ctx context.Context, v []T) {
			ms := any(v).([]broker.Message) // queue engines only run on messages
			ls.hold(ms...)
			defer ls.release(ms...)
			protect(ctx, h, v, rel, report)
		}
	}
	pl := pool[[]T, []T]{
		workers: cfg.workers, lanes: 1, buf: cfg.buffer,
		route:   one[[]T],
		release: rel,
		work:    work,
	}
	return pl.run(ctx, p)
}
