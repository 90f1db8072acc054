package adapters

import (
	"context"
	"runtime/debug"
	"sync"

	"github.com/pullkit/broker"
)

// pool is the engine of every receiver: the goroutine that calls run is the
// only one that pulls (iterators do not allow concurrent Next calls); it
// routes each pulled element P to a lane as one or more elements E, and
// workers goroutines read the lanes and call the handler.
//
// A queue has one lane shared by every worker, so any worker takes any
// message. A log has one lane per worker, and route sends all records of a
// partition (or key) to the same lane, so they are handled one at a time,
// in order.
type pool[P, E any] struct {
	workers int
	lanes   int
	buf     int
	// route prepares a pulled element and appends it to out with its lane.
	// An error (only ctx's) stops the pool; route released v itself.
	route func(ctx context.Context, v P, out []routed[E]) ([]routed[E], error)
	// work hands an element to the handler; it runs on a worker.
	work func(ctx context.Context, v E)
	// release settles an element that was routed but never handed out.
	release func(E)
}

type routed[E any] struct {
	lane int
	v    E
}

// run returns when ctx ended or the pull failed, and only after every
// worker returned. Elements routed but not handed out when ctx ends are
// released; after a source error, what is already in the lanes is still
// handed out, since it was pulled successfully.
func (pl *pool[P, E]) run(ctx context.Context, p pull[P]) error {
	chans := make([]chan E, pl.lanes)
	for i := range chans {
		chans[i] = make(chan E, pl.buf)
	}
	var wg sync.WaitGroup
	done := ctx.Done()
	for i := range pl.workers {
		ch := chans[i%pl.lanes]
		wg.Go(func() {
			for v := range ch {
				select {
				case <-done:
					pl.release(v)
					continue
				default:
				}
				pl.work(ctx, v)
			}
		})
	}
	err := pl.dispatch(ctx, p, chans)
	for _, ch := range chans {
		close(ch)
	}
	wg.Wait()
	p.stop()
	if ctx.Err() != nil || errorsIsClosed(err) {
		return nil
	}
	return err
}

func (pl *pool[P, E]) dispatch(ctx context.Context, p pull[P], chans []chan E) error {
	var out []routed[E]
	done := ctx.Done()
	for {
		v, err := p.next(ctx)
		if err != nil {
			return err
		}
		if out, err = pl.route(ctx, v, out[:0]); err != nil {
			return err
		}
		for i := range out {
			ch := chans[out[i].lane]
			select {
			case ch <- out[i].v:
				continue
			default:
			}
			select {
			case ch <- out[i].v:
			case <-done:
				for _, r := range out[i:] {
					pl.release(r.v)
				}
				clear(out)
				return ctx.Err()
			}
		}
		clear(out) // drop references to handed-out items
	}
}

// protect calls h and turns a panic into a *broker.PanicError reported to
// report, after failed settled v (nack, or for records: nothing, so they are
// not committed). The worker goes on with the next element.
func protect[E any](ctx context.Context, h func(context.Context, E), v E, failed func(E), report func(error)) {
	defer func() {
		if r := recover(); r != nil {
			failed(v)
			report(&broker.PanicError{Value: r, Stack: debug.Stack()})
		}
	}()
	h(ctx, v)
}

func one[E any](_ context.Context, v E, out []routed[E]) ([]routed[E], error) {
	return append(out, routed[E]{v: v}), nil
}
