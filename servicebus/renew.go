package servicebus

import (
	"time"
)

// renewLoop is the queue's one lock-renewal goroutine (peek-lock only). It
// renews the lock of every held message whose extendUntil (set by
// AutoRenew when it was handed out, or by Extend) lies beyond its current
// lock, when half the lock's span has passed: one round trip per message
// per half lock duration. Settled messages leave q.held and are no longer
// renewed. It ends at Close.
func (q *Queue) renewLoop() {
	defer close(q.renewDone)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due []*delivery
	for {
		now := time.Now()
		next := now.Add(time.Hour)
		due = due[:0]
		q.mu.Lock()
		for d := range q.held {
			if !d.extendUntil.After(d.lockedUntil) || !d.extendUntil.After(now) {
				continue
			}
			at := d.lockedUntil.Add(-d.lockSpan / 2)
			if d.retryAt.After(at) {
				at = d.retryAt
			}
			if !at.After(now) {
				due = append(due, d)
			} else if at.Before(next) {
				next = at
			}
		}
		q.mu.Unlock()
		for _, d := range due {
			if q.closeCtx.Err() != nil {
				return
			}
			if err := d.renew(q.closeCtx); err != nil {
				q.mu.Lock()
				if time.Now().After(d.lockedUntil) {
					d.extendUntil = time.Time{} // lost: nothing left to keep
				} else {
					d.retryAt = time.Now().Add(min(d.lockSpan/8, time.Second))
				}
				q.mu.Unlock()
			}
		}
		if len(due) > 0 {
			clear(due)
			continue // recompute at once: the renewals took time
		}
		timer.Reset(time.Until(next))
		select {
		case <-q.closeCtx.Done():
			return
		case <-q.wake:
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
