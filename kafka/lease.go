package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Share-group lock renewal: Kafka renews a record's acquisition lock by a
// fixed length, so Extend keeps renewing until the duration asked for.

// Extend keeps the message acquired for at least dur from now. Kafka
// renews a lock (Kafka 4.2+, KIP-1222) by the group's fixed lock duration,
// so the consumer renews it now and again whenever the lock nears its end,
// until dur has passed or the message is settled. It waits for the first
// renewal's answer.
func (d *shareDelivery) Extend(ctx context.Context, dur time.Duration) error {
	c := d.c
	c.mu.Lock()
	if d.expired || c.closed {
		c.mu.Unlock()
		return fmt.Errorf("kafka: extend of message %d-%d: the message was released", d.r.Partition, d.r.Offset)
	}
	if until := time.Now().Add(dur); until.After(d.until) {
		d.until = until
	}
	c.mu.Unlock()
	err := c.renew(ctx, []*shareDelivery{d})
	c.scheduleRenew()
	return err
}

// renew renews the locks of ds and waits for the broker's answer.
func (c *QueueConsumer) renew(ctx context.Context, ds []*shareDelivery) error {
	c.mu.Lock()
	seq := c.ackSeq
	c.mu.Unlock()
	start := time.Now()
	for _, d := range ds {
		d.r.Ack(kgo.AckRenew)
	}
	if err := c.cl.FlushAcks(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for _, d := range ds {
		if e, ok := c.ackErrs[tpKey{d.r.Topic, d.r.Partition}]; ok && e.seq > seq {
			if first == nil {
				first = classify(ctx, fmt.Sprintf("extend of message %d-%d", d.r.Partition, d.r.Offset), e.err)
			}
			continue
		}
		if _, held := c.held[d]; held && d.lock > 0 {
			d.deadline = start.Add(d.lock)
		}
	}
	return first
}

// scheduleRenew arms the renewal timer for the held message whose
// extended lock is nearest its end.
func (c *QueueConsumer) scheduleRenew() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	var next time.Time
	for d := range c.held {
		if d.lock <= 0 || !d.until.After(d.deadline) {
			continue
		}
		at := d.deadline.Add(-d.lock / 2)
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	if next.IsZero() {
		return
	}
	if c.renewTimer == nil {
		c.renewTimer = time.AfterFunc(time.Until(next), c.renewDue)
	} else {
		c.renewTimer.Reset(time.Until(next))
	}
}

// renewDue renews the extended locks that are past half their length.
// It runs on the renewal timer's goroutine; Close waits for it.
func (c *QueueConsumer) renewDue() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.renewing.Add(1)
	defer c.renewing.Done()
	now := time.Now()
	var due []*shareDelivery
	var lock time.Duration
	for d := range c.held {
		if d.lock > 0 && d.until.After(d.deadline) && !now.Before(d.deadline.Add(-d.lock/2)) {
			due = append(due, d)
			lock = max(lock, d.lock)
		}
	}
	c.mu.Unlock()
	if len(due) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), lock)
		_ = c.renew(ctx, due) // a failed renewal shows as a redelivery and a refused ack
		cancel()
	}
	c.scheduleRenew()
}
