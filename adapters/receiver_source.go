package adapters

import (
	"context"
)

// recvPull is a receiver (or batched receiver) seen as a pull: one
// goroutine runs the source's Receive with a handler that puts each item
// on a bounded channel, and next takes them off.
//
// The handler returns as soon as its item is buffered, so the source's
// workers go on; when the buffer is full it blocks, which is the
// back-pressure a receiver expects from a slow handler.
type recvPull[E any] struct {
	cancel context.CancelFunc
	ch     chan stamped[E]
	done   chan struct{} // closed when Receive returned, after ch
	err    error         // Receive's result, read after done
	ended  error
	ops    elemOps[E]
}

// stamped is an element with the revocation epoch read when it arrived.
type stamped[E any] struct {
	v     E
	stamp uint64
}

func openReceiver[E any](ctx context.Context, run func(context.Context, func(context.Context, E)) error, ops elemOps[E], buf int) *recvPull[E] {
	ctx, cancel := context.WithCancel(ctx)
	p := &recvPull[E]{cancel: cancel, ch: make(chan stamped[E], buf), done: make(chan struct{}), ops: ops}
	go func() {
		defer close(p.done)
		p.err = run(ctx, p.handle(ctx))
		// Every handler call returned with Receive: nobody sends any more,
		// and closing ch tells next that the receiver is over.
		close(p.ch)
	}()
	return p
}

func (p *recvPull[E]) handle(ctx context.Context) func(context.Context, E) {
	done := ctx.Done()
	return func(_ context.Context, v E) {
		s := stamped[E]{v: v, stamp: p.ops.stamp()}
		select {
		case p.ch <- s:
			return
		default:
		}
		select {
		case p.ch <- s:
		case <-done:
			// We are stopping: the item was never handed out.
			p.ops.release(v)
		}
	}
}

func (p *recvPull[E]) next(ctx context.Context) (E, error) {
	if p.ended != nil {
		return zero[E](), p.ended
	}
	for {
		var s stamped[E]
		var ok bool
		select {
		case s, ok = <-p.ch: // the common case, without a two-way select
		default:
			select {
			case s, ok = <-p.ch:
			case <-ctx.Done():
				return zero[E](), ctx.Err()
			}
		}
		if !ok {
			// Receive returned, and every item it handed over was taken.
			<-p.done
			p.ended = errClosed
			if p.err != nil && !errorsIsClosed(p.err) {
				p.ended = p.err
			}
			return zero[E](), p.ended
		}
		if p.ops.keep == nil {
			return s.v, nil
		}
		if v, fresh := p.ops.keep(s.v, s.stamp); fresh {
			return v, nil
		}
	}
}

func (p *recvPull[E]) stop() {
	p.cancel()
	for s := range p.ch { // closed once Receive returned
		p.ops.release(s.v)
	}
	<-p.done
}

func receiverSource[T Item](sem *semantics[T], run func(context.Context, func(context.Context, T)) error, orig any) *source[T] {
	return &source[T]{sem: sem, orig: []any{orig}, receive: run,
		single: func(ctx context.Context, o *openOpts) pull[T] {
			return openReceiver(ctx, run, singleOps(sem, o.revs), o.cfg.buffer)
		}}
}

func batchedReceiverSource[T Item](sem *semantics[T], run func(context.Context, func(context.Context, []T)) error, orig any) *source[T] {
	run = skipEmpty(run)
	return &source[T]{sem: sem, orig: []any{orig}, receiveBatch: run,
		batch: func(ctx context.Context, o *openOpts) pull[[]T] {
			return openReceiver(ctx, run, batchOps(sem, o.revs), o.cfg.buffer)
		}}
}

// receiverStream is a stream fed straight by a receiver's handler: the
// receiver's own goroutines do the sending, so no pump sits in between.
// It follows pump's shutdown sequence.
func receiverStream[E any](ctx context.Context, run func(context.Context, func(context.Context, E)) error, ops elemOps[E], buf int, done func()) (<-chan E, <-chan error) {
	out := make(chan E, buf)
	errc := make(chan error, 1)
	ctxDone := ctx.Done()
	go func() {
		err := run(ctx, func(_ context.Context, v E) {
			select {
			case out <- v:
				return
			default:
			}
			select {
			case out <- v:
			case <-ctxDone:
				ops.release(v)
			}
		})
		// Receive returned, so every handler call did: nobody sends any more.
		if err != nil && !endedQuietly(ctx, err) {
			errc <- err
		}
		if ctx.Err() != nil {
			drain(out, ops.release)
		}
		done()
		close(out)
		close(errc)
	}()
	return out, errc
}
