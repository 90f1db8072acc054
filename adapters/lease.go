package adapters

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pullkit/broker"
)

// leases keeps the messages that a queue receiver's handlers are working on
// leased (WithAutoExtend): every `every` it calls Extend on each of them,
// asking for 3×every, so a lease survives two late ticks; a message held
// longer than max is left to expire, so a stuck handler cannot keep a
// message from the rest of the subscription forever.
//
// One goroutine per Receive call, not one timer per message: handing a
// message out costs a map insert and a delete under a mutex.
type leases struct {
	every, max  time.Duration
	report      func(error)
	unsupported sync.Once

	mu   sync.Mutex
	held map[*broker.Settler]time.Time // when the handler got it

	stop context.CancelFunc
	done chan struct{}
}

func startLeases(ctx context.Context, cfg *config) *leases {
	if cfg.extendEvery <= 0 {
		return nil
	}
	l := &leases{
		every: cfg.extendEvery, max: cfg.extendMax, report: cfg.onError,
		held: make(map[*broker.Settler]time.Time),
		done: make(chan struct{}),
	}
	// Not ctx itself: when it ends, Receive still waits for the handlers at
	// work, and their messages must stay leased until they return. close
	// ends the goroutine (and an Extend in flight) once they did.
	ctx, l.stop = context.WithCancel(context.WithoutCancel(ctx))
	go l.run(ctx)
	return l
}

// hold registers the messages a handler is about to get; release removes
// them once it returned. Both are no-ops on a nil *leases (auto-extension off).
func (l *leases) hold(ms ...broker.Message) {
	if l == nil {
		return
	}
	now := time.Now()
	l.mu.Lock()
	for i := range ms {
		if s := ms[i].Settler; s != nil {
			l.held[s] = now
		}
	}
	l.mu.Unlock()
}

func (l *leases) release(ms ...broker.Message) {
	if l == nil {
		return
	}
	l.mu.Lock()
	for i := range ms {
		delete(l.held, ms[i].Settler)
	}
	l.mu.Unlock()
}

func (l *leases) run(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.every)
	defer t.Stop()
	var due []*broker.Settler
	for {
		select {
		case <-t.C:
		case <-ctx.Done(): // close
			return
		}
		now := time.Now()
		due = due[:0]
		l.mu.Lock()
		for s, since := range l.held {
			switch {
			case s.Settled():
				delete(l.held, s)
			case now.Sub(since) >= l.max:
				delete(l.held, s) // past WithAutoExtend's max: let it expire
			default:
				due = append(due, s)
			}
		}
		l.mu.Unlock()
		// Extend outside the lock: it may be a round trip to the broker.
		for _, s := range due {
			err := s.Extend(ctx, 3*l.every)
			switch {
			case err == nil, errors.Is(err, broker.ErrAlreadySettled), ctx.Err() != nil:
			case errors.Is(err, broker.ErrUnsupported):
				// Nothing to extend: say so once, not on every tick.
				l.mu.Lock()
				delete(l.held, s)
				l.mu.Unlock()
				l.unsupported.Do(func() { l.report(fmt.Errorf("adapters: WithAutoExtend: %w", err)) })
			default:
				l.report(fmt.Errorf("adapters: extending a message's lease: %w", err))
			}
		}
		clear(due)
	}
}

// close stops the goroutine and waits for it; safe on nil.
func (l *leases) close() {
	if l == nil {
		return
	}
	l.stop()
	<-l.done
}
