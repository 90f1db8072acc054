package servicebus

import (
	"context"
	"sync"
	"time"
)

// renewWorkers bounds the lock renewals in flight at once.
const renewWorkers = 16

// renewLoop is the queue's lock-renewal scheduler (peek-lock only). It
// renews the lock of every held message whose extendUntil (set by
// AutoRenew when it was handed out, or by Extend) lies beyond its current
// lock, when half the lock's span has passed: one round trip per message
// per half lock duration. Renewals run concurrently, at most renewWorkers
// at a time, each bounded by its lock's span (renewing a lock that ran out
// is pointless), so that one that gets no answer does not hold back the
// others. Settled messages leave q.held and are no longer renewed. It
// ends at Close, after the renewals in flight.
func (q *Queue) renewLoop() {
	defer close(q.renewDone)
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, renewWorkers)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due []*delivery
	for {
		now := time.Now()
		next := now.Add(time.Hour)
		due = due[:0]
		q.mu.Lock()
		for d := range q.held {
			if d.renewing || !d.extendUntil.After(d.lockedUntil) || !d.extendUntil.After(now) {
				continue
			}
			at := d.lockedUntil.Add(-d.lockSpan / 2)
			if d.retryAt.After(at) {
				at = d.retryAt
			}
			if !at.After(now) {
				d.renewing = true
				due = append(due, d)
			} else if at.Before(next) {
				next = at
			}
		}
		q.mu.Unlock()
		for _, d := range due {
			select {
			case slots <- struct{}{}:
			case <-q.closeCtx.Done():
				return
			}
			wg.Go(func() {
				defer func() { <-slots }()
				q.renewHeld(d)
			})
		}
		clear(due)
		timer.Reset(time.Until(next))
		select {
		case <-q.closeCtx.Done():
			return
		case <-q.wake: // handed out, extended, or a renewal ended
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-timer.C:
		}
	}
}

// renewHeld renews one held message's lock for renewLoop and records the
// outcome: after a failure it retries soon while the lock may still hold,
// and gives up once it ran out.
func (q *Queue) renewHeld(d *delivery) {
	q.mu.Lock()
	bound := max(d.lockSpan, time.Second)
	q.mu.Unlock()
	ctx, cancel := context.WithTimeout(q.closeCtx, bound)
	err := d.renew(ctx)
	cancel()
	q.mu.Lock()
	d.renewing = false
	if err != nil {
		if time.Now().After(d.lockedUntil) {
			d.extendUntil = time.Time{} // lost: nothing left to keep
		} else {
			d.retryAt = time.Now().Add(min(d.lockSpan/8, time.Second))
		}
	}
	q.mu.Unlock()
	q.nudge()
}
