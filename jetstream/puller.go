package jetstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/pullkit/broker"
)

// puller runs nats.go's Consume on a pull consumer: Consume keeps pull
// requests of up to prefetch messages open (re-pulling at half, re-issuing
// them after a reconnect) and hands each message to handle, which puts it
// in a bounded channel that Next calls read. It starts the goroutines of
// nats.go's Consume; stop ends them.
type puller struct {
	nc   *nats.Conn
	cc   natsjs.ConsumeContext
	buf  chan natsjs.Msg
	done chan struct{} // closed when stop begins

	mu       sync.Mutex
	late     []natsjs.Msg // delivered after stop began, in order
	lateDone bool         // stop collected late; handle naks from now on
	discard  bool         // abandoned: handle drops what still arrives

	fatalOnce sync.Once
	fatal     chan struct{} // closed on an error that ends consuming
	fatalErr  error
}

func startPuller(nc *nats.Conn, cons natsjs.Consumer, prefetch int, opts []natsjs.PullConsumeOpt) (*puller, error) {
	p := &puller{
		nc:    nc,
		buf:   make(chan natsjs.Msg, prefetch),
		done:  make(chan struct{}),
		fatal: make(chan struct{}),
	}
	all := append([]natsjs.PullConsumeOpt{
		natsjs.PullMaxMessages(prefetch),
		natsjs.ConsumeErrHandler(p.onErr),
	}, opts...)
	cc, err := cons.Consume(p.handle, all...)
	if err != nil {
		return nil, mapErr(err)
	}
	p.cc = cc
	return p, nil
}

// handle runs on nats.go's delivery goroutine, one message at a time, in
// delivery order. Blocking here while the buffer is full is the back
// pressure: Consume pulls no more until it returns.
func (p *puller) handle(m natsjs.Msg) {
	select {
	case <-p.done:
	default:
		select {
		case p.buf <- m:
			return
		case <-p.done:
		}
	}
	p.mu.Lock()
	if p.discard {
		p.mu.Unlock()
		return
	}
	if !p.lateDone {
		p.late = append(p.late, m)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	_ = m.Nak()
}

// onErr keeps the errors that end consuming (the consumer was deleted);
// the others (disconnects, missed heartbeats, pull timeouts) nats.go rides
// out by re-pulling, and so do we.
func (p *puller) onErr(_ natsjs.ConsumeContext, err error) {
	if errors.Is(err, natsjs.ErrConsumerDeleted) || errors.Is(err, natsjs.ErrConsumerNotFound) ||
		errors.Is(err, natsjs.ErrBadRequest) {
		p.fatalOnce.Do(func() {
			p.fatalErr = fmt.Errorf("jetstream: consuming stopped: %w", mapErr(err))
			close(p.fatal)
		})
	}
}

var errStopped = errors.New("puller stopped")

// next waits for one message, ctx's end, stop (errStopped) or a fatal error.
func (p *puller) next(ctx context.Context) (natsjs.Msg, error) {
	select {
	case m := <-p.buf:
		return m, nil
	default:
	}
	select {
	case m := <-p.buf:
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.done:
		return nil, errStopped
	case <-p.fatal:
		return nil, p.fatalErr
	}
}

// tryNext returns a buffered message without waiting.
func (p *puller) tryNext() (natsjs.Msg, bool) {
	select {
	case m := <-p.buf:
		return m, true
	default:
		return nil, false
	}
}

// stop ends consuming and returns, in delivery order, every message
// delivered but never taken by next: the buffer, then what arrived while
// nats.go drained the subscription. The caller nacks them. Draining waits
// up to timeout (the server may be down), then gives up on the rest: the
// server redelivers those after their ack wait. Without a connection it
// does not drain: nothing can arrive, and nats.go would keep the
// subscription's goroutines waiting out its DrainTimeout after we return
// (a drained subscription cannot be stopped).
func (p *puller) stop(timeout time.Duration) []natsjs.Msg {
	close(p.done)
	if p.nc.IsConnected() {
		p.cc.Drain()
	} else {
		p.cc.Stop()
	}
	t := time.NewTimer(timeout)
	select {
	case <-p.cc.Closed():
	case <-t.C:
		p.cc.Stop()
	}
	t.Stop()
	var out []natsjs.Msg
	for {
		m, ok := p.tryNext()
		if !ok {
			break
		}
		out = append(out, m)
	}
	p.mu.Lock()
	p.lateDone = true
	out = append(out, p.late...)
	p.late = nil
	p.mu.Unlock()
	return out
}

// abandon ends consuming and drops, without nacking, every message
// delivered but never taken: the caller resets the consumer, which forgets
// them and delivers them again (a nack would reach the reset consumer as a
// stray redelivery request). It waits up to timeout for nats.go's
// goroutines to end.
func (p *puller) abandon(timeout time.Duration) {
	p.mu.Lock()
	p.discard = true
	p.mu.Unlock()
	close(p.done)
	p.cc.Stop()
	t := time.NewTimer(timeout)
	select {
	case <-p.cc.Closed():
	case <-t.C:
	}
	t.Stop()
	for {
		if _, ok := p.tryNext(); !ok {
			break
		}
	}
}

// closedError is the error of calls on a closed consumer.
func closedError(what string) error {
	return fmt.Errorf("%w: jetstream %s", broker.ErrClosed, what)
}
