package adapters

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/pullkit/broker"
)

// errBusy refuses a second concurrent Stream, BatchStream or Receive on one
// adapter: they would pull the source from two goroutines, which iterators
// do not allow.
var errBusy = fmt.Errorf("%w: adapter is already running a Stream, BatchStream or Receive call", broker.ErrUnsupported)

// errZero is what every call on an adapter's zero value returns: only the
// conversion functions build a usable one.
var errZero = fmt.Errorf("%w: zero-value adapter; build it with a conversion function", broker.ErrInvalidOption)

// Stream is broker.MessageStream (T = broker.Message) or broker.RecordStream
// (T = broker.Record) built on another shape.
//
// Stream starts one goroutine that pulls from the source with ctx and sends
// on a channel of capacity WithBuffer (over a receiver, it runs the
// source's Receive, whose handler sends). It ends when ctx ends or the
// source fails; the source ending with broker.ErrClosed closes the channel
// with no error. On ctx's end the goroutine releases the item it holds and
// every item still buffered in the channel (nack for messages, nothing for
// records: they are not committed), stops whatever the source conversion
// started, and only then closes the channel; the error channel gets at most
// one error, before the item channel is closed, and is closed too. Once the
// item channel is closed, the call's work is over: its last goroutine only
// returns.
//
// One Stream call at a time: a concurrent call gets a closed item channel
// and an error wrapping broker.ErrUnsupported. The source stays the
// caller's: Stream never closes it.
//
// For records, a revocation drops the records the conversion buffered
// upstream of the channel; records already in the channel are delivered, and
// refusing their acks is the source's job.
type Stream[T Item] struct {
	src  *source[T]
	cfg  config
	busy atomic.Bool
}

// Stream implements broker.MessageStream and broker.RecordStream.
func (s *Stream[T]) Stream(ctx context.Context) (<-chan T, <-chan error) {
	if s.src == nil {
		return refused[T](errZero)
	}
	if !s.busy.CompareAndSwap(false, true) {
		return refused[T](errBusy)
	}
	revs := s.src.watch()
	done := func() {
		revs.close()
		s.busy.Store(false)
	}
	if s.src.receive != nil {
		return receiverStream(ctx, s.src.receive, singleOps(s.src.sem, revs), s.cfg.buffer, done)
	}
	p := s.src.openSingle(ctx, &openOpts{cfg: &s.cfg, revs: revs})
	return pump(ctx, p, singleOps(s.src.sem, revs), s.cfg.buffer, done)
}

// OnRevoke forwards to the source when it is a broker.RevocationNotifier
// (and does nothing otherwise), so that adapters can be stacked.
func (s *Stream[T]) OnRevoke(f func([]broker.TopicPartition)) (unregister func()) {
	return s.src.onRevoke(f)
}

// BatchStream is broker.BatchedMessageStream or broker.BatchedRecordStream
// built on another shape. It follows Stream's rules, delivers non-empty
// batches of at most WithMaxBatch items (native batches of a batched source
// pass through as they are), and hands out a batch when it is full or
// WithMaxWait after its first item.
type BatchStream[T Item] struct {
	src  *source[T]
	cfg  config
	busy atomic.Bool
}

// BatchStream implements broker.BatchedMessageStream and broker.BatchedRecordStream.
func (s *BatchStream[T]) BatchStream(ctx context.Context) (<-chan []T, <-chan error) {
	if s.src == nil {
		return refused[[]T](errZero)
	}
	if !s.busy.CompareAndSwap(false, true) {
		return refused[[]T](errBusy)
	}
	revs := s.src.watch()
	done := func() {
		revs.close()
		s.busy.Store(false)
	}
	if s.src.receiveBatch != nil {
		return receiverStream(ctx, s.src.receiveBatch, batchOps(s.src.sem, revs), s.cfg.buffer, done)
	}
	p := s.src.openBatch(ctx, &openOpts{cfg: &s.cfg, revs: revs})
	return pump(ctx, p, batchOps(s.src.sem, revs), s.cfg.buffer, done)
}

// OnRevoke forwards to the source, as Stream.OnRevoke does.
func (s *BatchStream[T]) OnRevoke(f func([]broker.TopicPartition)) (unregister func()) {
	return s.src.onRevoke(f)
}

func refused[E any](err error) (<-chan E, <-chan error) {
	ch, errc := make(chan E), make(chan error, 1)
	errc <- err
	close(ch)
	close(errc)
	return ch, errc
}

// pump turns a pull into a stream: the goroutine it starts is the only one
// that calls p.next, and it owns out. done runs just before the channels
// are closed.
func pump[E any](ctx context.Context, p pull[E], o elemOps[E], buf int, done func()) (<-chan E, <-chan error) {
	out := make(chan E, buf)
	errc := make(chan error, 1)
	go func() {
		defer func() {
			// Numbered, because the order matters:
			// 1. stop the source conversion: its goroutines end and it
			//    releases what it buffered;
			p.stop()
			// 2. on ctx's end, release what nobody will read from our own
			//    channel (a reader racing with us gets some of it; each item
			//    goes to exactly one of us);
			if ctx.Err() != nil {
				drain(out, o.release)
			}
			// 3. tell the owner (it stops watching revocations), then close
			//    the channels: the error, if any, is already in errc.
			done()
			close(out)
			close(errc)
		}()
		ctxDone := ctx.Done()
		for {
			v, err := p.next(ctx)
			if err != nil {
				if !endedQuietly(ctx, err) {
					errc <- err
				}
				return
			}
			// Try the send without select first: with room in the buffer it
			// is the common case and costs a third of a two-way select.
			select {
			case out <- v:
				select {
				case <-ctxDone:
					return
				default:
				}
				continue
			default:
			}
			select {
			case out <- v:
			case <-ctxDone:
				o.release(v)
				return
			}
		}
	}()
	return out, errc
}

// drain releases whatever is buffered in ch without waiting for more.
func drain[E any](ch chan E, release func(E)) {
	for {
		select {
		case v := <-ch:
			release(v)
		default:
			return
		}
	}
}

// streamPull is the other direction: a stream seen as a pull. It owns the
// ctx it started the stream with.
type streamPull[E any] struct {
	cancel  context.CancelFunc
	ch      <-chan E
	errc    <-chan error
	ended   error // sticky: the stream is over
	release func(E)
}

func openStream[E any](ctx context.Context, start func(context.Context) (<-chan E, <-chan error), release func(E)) *streamPull[E] {
	ctx, cancel := context.WithCancel(ctx)
	ch, errc := start(ctx)
	return &streamPull[E]{cancel: cancel, ch: ch, errc: errc, release: release}
}

func (p *streamPull[E]) next(ctx context.Context) (E, error) {
	if p.ended != nil {
		return zero[E](), p.ended
	}
	select {
	case v, ok := <-p.ch:
		if ok {
			return v, nil
		}
		return zero[E](), p.finish(ctx)
	default:
	}
	// The error channel is read only once the item channel is closed, which
	// a stream does after sending its error: so the error comes after every
	// buffered item, and the wait is a two-way select.
	select {
	case v, ok := <-p.ch:
		if ok {
			return v, nil
		}
		return zero[E](), p.finish(ctx)
	case <-ctx.Done():
		return zero[E](), ctx.Err()
	}
}

// finish runs when the item channel closed: the stream's error, if it sent
// one, is in errc by now.
func (p *streamPull[E]) finish(ctx context.Context) error {
	var err error
	select {
	case err = <-p.errc: // nil once closed without an error
	case <-ctx.Done():
		return ctx.Err()
	}
	p.ended = errClosed
	if err != nil && !errorsIsClosed(err) {
		p.ended = err
	}
	return p.ended
}

func (p *streamPull[E]) stop() {
	p.cancel()
	for v := range p.ch {
		p.release(v)
	}
}

func streamSource[T Item](sem *semantics[T], start func(context.Context) (<-chan T, <-chan error), orig any) *source[T] {
	return &source[T]{sem: sem, orig: []any{orig},
		single: func(ctx context.Context, _ *openOpts) pull[T] { return openStream(ctx, start, sem.release) }}
}

func batchedStreamSource[T Item](sem *semantics[T], start func(context.Context) (<-chan []T, <-chan error), orig any) *source[T] {
	return &source[T]{sem: sem, orig: []any{orig},
		batch: func(ctx context.Context, _ *openOpts) pull[[]T] {
			return nonEmpty[T]{openStream(ctx, start, sem.releaseAll)}
		}}
}
