package adapters

import (
	"context"
	"time"
)

// batcher builds batches from a pull of items, by size and by time.
//
// The first item of a batch is pulled with the caller's ctx, so NextBatch
// blocks as long as the caller allows; the rest are pulled with a deadline
// of MaxWait after the first arrived, which is what bounds a batch's latency
// from its first item (a steady trickle cannot keep it open). A deadline
// or cancellation while the batch fills hands out the partial batch with a
// nil error: its items were pulled, and the contract says a canceled call
// loses nothing. The error comes on the next call, from the source.
type batcher[T Item] struct {
	src    pull[T]
	max    int
	wait   time.Duration
	ops    elemOps[T]
	err    error    // the source failed after a batch's first item; report it next
	stamps []uint64 // revocation epoch of each item of the batch being built
}

func newBatcher[T Item](src pull[T], cfg *config, ops elemOps[T]) *batcher[T] {
	return &batcher[T]{src: src, max: cfg.maxBatch, wait: cfg.maxWait, ops: ops}
}

func (b *batcher[T]) next(ctx context.Context) ([]T, error) {
	for {
		if err := b.err; err != nil {
			b.err = nil
			return nil, err
		}
		first, err := b.src.next(ctx)
		if err != nil {
			return nil, err
		}
		batch := b.fill(ctx, first)
		if b.ops.keep != nil {
			batch = b.dropRevoked(batch)
		}
		if len(batch) > 0 {
			return batch, nil
		}
		// Every record of the batch was revoked while it filled: never hand
		// out an empty batch, wait for the next one.
	}
}

func (b *batcher[T]) fill(ctx context.Context, first T) []T {
	batch := make([]T, 1, b.max)
	batch[0] = first
	if b.ops.keep != nil {
		b.stamps = append(b.stamps[:0], b.ops.stamp())
	}
	if b.max == 1 {
		return batch
	}
	dctx, cancel := context.WithDeadline(ctx, time.Now().Add(b.wait))
	defer cancel()
	for len(batch) < b.max {
		v, err := b.src.next(dctx)
		if err != nil {
			if dctx.Err() == nil {
				// The source ended or failed, not our deadline: hand out
				// what we have now and the error with the next call.
				b.err = err
			}
			return batch
		}
		batch = append(batch, v)
		if b.ops.keep != nil {
			b.stamps = append(b.stamps, b.ops.stamp())
		}
	}
	return batch
}

func (b *batcher[T]) dropRevoked(batch []T) []T {
	kept := batch[:0]
	for i := range batch {
		if _, ok := b.ops.keep(batch[i], b.stamps[i]); ok {
			kept = append(kept, batch[i])
		}
	}
	clear(batch[len(kept):])
	return kept
}

func (b *batcher[T]) stop() { b.src.stop() }

// unbatcher hands out a pull of batches one item at a time. It holds the
// rest of the current batch between calls: stop releases it, and for records
// a revocation drops the records of revoked partitions from it.
type unbatcher[T Item] struct {
	src   pull[[]T]
	ops   elemOps[T]
	buf   []T
	i     int
	stamp uint64 // revocation epoch when buf was pulled
}

func newUnbatcher[T Item](src pull[[]T], ops elemOps[T]) *unbatcher[T] {
	return &unbatcher[T]{src: src, ops: ops}
}

func (u *unbatcher[T]) next(ctx context.Context) (T, error) {
	for {
		for u.i < len(u.buf) {
			v := u.buf[u.i]
			u.i++
			if u.ops.keep != nil {
				if _, ok := u.ops.keep(v, u.stamp); !ok {
					continue // its partition was revoked while it waited here
				}
			}
			return v, nil
		}
		u.buf, u.i = nil, 0
		b, err := u.src.next(ctx)
		if err != nil {
			return zero[T](), err
		}
		u.buf, u.stamp = b, u.ops.stamp()
	}
}

func (u *unbatcher[T]) stop() {
	for ; u.i < len(u.buf); u.i++ {
		u.ops.release(u.buf[u.i])
	}
	u.buf, u.i = nil, 0
	u.src.stop()
}
