package adapters

import (
	"context"
	"sync"
)

// mergeSource fans several iterators into one pull: a goroutine per
// source sends into one bounded channel, which is then read as a stream.
// Each source's own order is kept (so records of a partition stay in
// offset order, as long as each partition comes from one source).
func mergeSource[T Item](sem *semantics[T], nexts []func(context.Context) (T, error), origs []any) *source[T] {
	return &source[T]{sem: sem, orig: origs,
		single: func(ctx context.Context, o *openOpts) pull[T] {
			start := func(ctx context.Context) (<-chan T, <-chan error) {
				return fanIn(ctx, nexts, sem, o.cfg.buffer)
			}
			return openStream(ctx, start, sem.release)
		}}
}

// fanIn runs until ctx ends, every source ended with broker.ErrClosed, or
// one failed: the first failure stops the others, and comes after the items
// already in the channel.
func fanIn[T Item](ctx context.Context, nexts []func(context.Context) (T, error), sem *semantics[T], buf int) (<-chan T, <-chan error) {
	out := make(chan T, buf)
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
				select {
				case out <- v:
					continue
				default:
				}
				select {
				case out <- v:
				case <-done:
					sem.release(v)
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
