package adapters

import (
	"context"
	"errors"
	"fmt"

	"github.com/pullkit/broker"
)

// pull is the hub every conversion goes through: each of the six shapes can
// be opened as a pull of items or of batches, and each shape is built on a
// pull. E is an item (T) or a batch ([]T).
type pull[E any] interface {
	// next follows broker.MessageIterator's rules: it blocks until an
	// element, ctx's end or an error; a canceled call loses nothing. Calls
	// are never concurrent.
	next(ctx context.Context) (E, error)
	// stop ends the goroutines the pull started, waits for them and
	// releases every element it still holds. It never closes the source.
	stop()
}

// source is one of the six shapes, ready to be opened as a pull. Exactly
// one of single and batch is set: the shape's native granularity.
type source[T Item] struct {
	sem    *semantics[T]
	single func(ctx context.Context, o *openOpts) pull[T]
	batch  func(ctx context.Context, o *openOpts) pull[[]T]
	// receive and receiveBatch are set for receiver sources: a stream of
	// the same granularity is then fed by the handler directly, one
	// channel hand-off instead of two.
	receive      func(context.Context, func(context.Context, T)) error
	receiveBatch func(context.Context, func(context.Context, []T)) error
	// orig is what was wrapped (one value, or several for a merge); a
	// broker.RevocationNotifier among them is watched and forwarded to.
	orig []any
}

// openOpts is what a source needs to open: the adapter's options and the
// revocation watch of the adapter opening it (nil for messages).
type openOpts struct {
	cfg  *config
	revs *revocations
}

// openSingle opens s as a pull of items, unbatching a batched source.
func (s *source[T]) openSingle(ctx context.Context, o *openOpts) pull[T] {
	if s.single != nil {
		return s.single(ctx, o)
	}
	return newUnbatcher(s.batch(ctx, o), singleOps(s.sem, o.revs))
}

// openBatch opens s as a pull of batches, batching a single-item source by
// size and time; a native batch passes through as it is.
func (s *source[T]) openBatch(ctx context.Context, o *openOpts) pull[[]T] {
	if s.batch != nil {
		return s.batch(ctx, o)
	}
	return newBatcher(s.single(ctx, o), o.cfg, singleOps(s.sem, o.revs))
}

func (s *source[T]) watch() *revocations { return watchRevocations(s.sem, s.notifier()) }

func (s *source[T]) notifier() any {
	if len(s.orig) == 1 {
		return s.orig[0]
	}
	return multiNotifier(s.orig)
}

// multiNotifier is the sources of a merge, seen as one notifier.
type multiNotifier []any

func (m multiNotifier) OnRevoke(f func([]broker.TopicPartition)) func() {
	return forwardRevoke(f, m...)
}

func (s *source[T]) onRevoke(f func([]broker.TopicPartition)) func() {
	if s == nil { // a zero-value adapter
		return func() {}
	}
	return forwardRevoke(f, s.orig...)
}

// funcPull is a pull over an iterator's Next method: it holds nothing, so
// stop has nothing to do.
type funcPull[E any] func(ctx context.Context) (E, error)

func (f funcPull[E]) next(ctx context.Context) (E, error) { return f(ctx) }
func (f funcPull[E]) stop()                               {}

func iteratorSource[T Item](sem *semantics[T], next func(context.Context) (T, error), orig any) *source[T] {
	return &source[T]{sem: sem, orig: []any{orig},
		single: func(context.Context, *openOpts) pull[T] { return funcPull[T](next) }}
}

func batchedIteratorSource[T Item](sem *semantics[T], next func(context.Context) ([]T, error), orig any) *source[T] {
	return &source[T]{sem: sem, orig: []any{orig},
		batch: func(context.Context, *openOpts) pull[[]T] { return nonEmpty[T]{funcPull[[]T](next)} }}
}

// errClosed is what an adapter's pull returns once its source ended quietly
// or the adapter was closed.
var errClosed = fmt.Errorf("%w: adapter source ended", broker.ErrClosed)

// endedQuietly reports whether err ends a pull without being an error worth
// reporting: the source closed, or the pull's own ctx ended.
func endedQuietly(ctx context.Context, err error) bool {
	return errors.Is(err, broker.ErrClosed) || ctx.Err() != nil
}

func zero[E any]() (z E) { return z }

func errorsIsClosed(err error) bool { return errors.Is(err, broker.ErrClosed) }

// nonEmpty skips the empty batches a native batched source may return (a
// poll that timed out, say): a batch is never handed out empty.
type nonEmpty[T any] struct{ pull[[]T] }

func (n nonEmpty[T]) next(ctx context.Context) ([]T, error) {
	for {
		b, err := n.pull.next(ctx)
		if err != nil || len(b) > 0 {
			return b, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// skipEmpty is nonEmpty for a batched receiver: its handler never sees an
// empty batch.
func skipEmpty[T any](run func(context.Context, func(context.Context, []T)) error) func(context.Context, func(context.Context, []T)) error {
	return func(ctx context.Context, h func(context.Context, []T)) error {
		return run(ctx, func(ctx context.Context, b []T) {
			if len(b) > 0 {
				h(ctx, b)
			}
		})
	}
}
