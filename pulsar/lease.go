package pulsar

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pullkit/broker"
)

// leases is the client-side ack deadline (QueueConfig.AckDeadline):
// pulsar-client-go v0.19.0 has no ack timeout of its own. A message handed
// out and not settled before its deadline is nacked, so the broker
// redelivers it (after the nack delay) to any consumer of the subscription;
// settling it afterwards fails. Extend pushes the deadline back.
type leases struct {
	q        *QueueConsumer
	deadline time.Duration
	mu       sync.Mutex
	held     map[*delivery]time.Time // message → deadline
	done     chan struct{}           // closed when run returns
}

func newLeases(q *QueueConsumer, d time.Duration) *leases {
	return &leases{q: q, deadline: d, held: make(map[*delivery]time.Time), done: make(chan struct{})}
}

func (l *leases) add(d *delivery, now time.Time) {
	l.mu.Lock()
	l.held[d] = now.Add(l.deadline)
	l.mu.Unlock()
}

// release ends d's lease; false means it had expired (and d was nacked).
func (l *leases) release(d *delivery) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.held[d]; !ok {
		return false
	}
	delete(l.held, d)
	return true
}

// extend keeps d leased for at least dur from now; false if it expired.
func (l *leases) extend(d *delivery, dur time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.held[d]
	if !ok {
		return false
	}
	if want := time.Now().Add(dur); want.After(at) {
		l.held[d] = want
	}
	return true
}

// run checks the deadlines every fifth of AckDeadline (at most every
// 5 ms) until the consumer closes.
func (l *leases) run() {
	defer close(l.done)
	t := time.NewTicker(max(l.deadline/5, 5*time.Millisecond))
	defer t.Stop()
	var expired []*delivery
	for {
		select {
		case <-l.q.stop:
			return
		case now := <-t.C:
			expired = expired[:0]
			l.mu.Lock()
			for d, at := range l.held {
				if !now.Before(at) {
					expired = append(expired, d)
					delete(l.held, d)
				}
			}
			l.mu.Unlock()
			for _, d := range expired {
				d.kind = broker.SettleNack
				if err := l.q.enqueue(context.Background(), d); err != nil {
					return // closed: the broker redelivers what the consumer held
				}
			}
			clear(expired)
		}
	}
}

func expiredErr(d *delivery) error {
	return fmt.Errorf("%w: the ack deadline of message %s passed and it was redelivered",
		broker.ErrAlreadySettled, messageIDString(d.msg.ID()))
}
