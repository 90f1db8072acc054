package adapters

import (
	"context"
	"sync"
)

// mergeSource fans several iterators into one pull: a goroutine per
// source sends into one bounded channel, which is then read as a stream.
// Each source's own order is kept (so records of a partition stay in
// offset order, as long as each partition comes from one source). Each
// item carries the revocation epoch read when it was pulled, so that the
// records the channel buffered for a revoked partition are dropped, as
// every other conversion does.
func mergeSource[T Item](sem *semantics[T], nexts []func(context.Context) (T, error), origs []any) *source[T] {
	return &source[T]{sem: sem, orig: origs,
		single: func(ctx context.Context, o *openOpts) pull[T] {
			ops := singleOps(sem, o.revs)
			start := func(ctx context.Context) (<-chan stamped[T], <-chan error) {
				return fanIn(ctx, nexts, &ops, o.cfg.buffer)
			}
			return &freshPull[T]{p: openStream(ctx, start, func(s stamped[T]) { ops.release(s.v) }), ops: ops}
		}}
}

// freshPull hands out the stamped items of p that were not revoked since
// they were pulled.
type freshPull[E any] struct {
	p   pull[stamped[E]]
	ops elemOps[E]
}

func (f *freshPull[E]) next(ctx context.Context) (E, error) {
	for {
		s, err := f.p.next(ctx)
		if err != nil {
			return zero[E](), err
		}
		if v, ok := f.ops.fresh(s.v, s.stamp); ok {
			return v, nil
		}
	}
}

func (f *freshPull[E]) stop() { f.p.stop() }

// fanIn runs until ctx ends, every source ended with broker.ErrClosed, or
// one failed: the first failure stops the others, and comes after the items
// already in the channel.
func fanIn[T Item](ctx context.Context, nexts []func(context.Context) (T, error), ops *elemOps[T], buf int) (<-chan stamped[T], <-chan error) {
	out := make(chan stamped[T], buf)
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, next := range nexts {
		wg.Go(func() {
			done := ctx.Done()
			for {
				v, err := next(ctx)
				if err != nil {
					if !endedQuietly(ctx, err) {
						select {
						case errc <- err:
						default: // another source failed first
						}
						cancel()
					}
					return
				}
				s := stamped[T]{v: v, stamp: ops.stamp()}
				select {
				case out <- s:
					continue
				default:
				}
				select {
				case out <- s:
				case <-done:
					ops.release(v)
					return
				}
			}
		})
	}
	go func() {
		wg.Wait()
		cancel()
		close(out)
		close(errc)
	}()
	return out, errc
}
