package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/pullkit/broker"
)

// commitRetry is how long the committer waits before retrying a failed
// commit of offsets that are still acked and uncommitted.
const commitRetry = 200 * time.Millisecond

// pendingCommit is one partition's offset in a commit request.
type pendingCommit struct {
	p      *partition
	offset int64
	epoch  int32
}

// ack records that d's record was processed: its partition's commit
// position moves to just past it, never backwards (a commit covers every
// earlier record of the partition, as broker.Record.Ack says). The
// committer sends the position later, together with every other ack that
// arrived meanwhile. With wait, ack returns once the position is committed.
func (c *LogConsumer) ack(ctx context.Context, d *logDelivery, wait bool) error {
	p, off := d.p, d.offset+1
	c.mu.Lock()
	switch {
	case p.revoked:
		c.mu.Unlock()
		return fmt.Errorf("kafka: ack of %v offset %d: %w", p.tp, d.offset, broker.ErrPartitionRevoked)
	case c.closed:
		c.mu.Unlock()
		return fmt.Errorf("kafka: ack of %v offset %d: %w", p.tp, d.offset, broker.ErrClosed)
	}
	if off > p.acked {
		p.acked, p.epoch = off, d.epoch
	}
	c.mu.Unlock()
	kick := c.kick
	if wait {
		kick = c.urgent
	}
	select {
	case kick <- struct{}{}:
	default: // a commit is already due: it will take this offset too
	}
	if !wait {
		return nil
	}
	return c.waitCommitted(ctx, p, off)
}

// waitCommitted waits until p's commit reaches off, the attempt covering it
// fails, p is revoked or the consumer closed first, or ctx ends.
func (c *LogConsumer) waitCommitted(ctx context.Context, p *partition, off int64) error {
	for {
		c.mu.Lock()
		var err error
		done := true
		switch {
		case p.committed >= off:
		case p.failErr != nil && p.failOff >= off:
			err = p.failErr
		case p.revoked && p.flushed:
			err = fmt.Errorf("kafka: commit of %v offset %d: %w before the commit was made", p.tp, off-1, broker.ErrPartitionRevoked)
		case c.finalDone:
			err = fmt.Errorf("kafka: commit of %v offset %d: %w before the commit was made", p.tp, off-1, broker.ErrClosed)
		default:
			done = false
		}
		ch := c.changed
		c.mu.Unlock()
		if done {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Flush commits every offset acked so far and waits for the broker's
// answer: nil once all are committed, else the first failure (a partition
// revoked meanwhile fails with broker.ErrPartitionRevoked). Acks that arrive
// during Flush may or may not be included.
func (c *LogConsumer) Flush(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("kafka: flush: %w", broker.ErrClosed)
	}
	var due []pendingCommit
	for _, p := range c.parts {
		if p.acked > p.committed {
			due = append(due, pendingCommit{p, p.acked, p.epoch})
		}
	}
	c.mu.Unlock()
	if len(due) == 0 {
		return nil
	}
	select {
	case c.urgent <- struct{}{}:
	default:
	}
	var first error
	for _, d := range due {
		if err := c.waitCommitted(ctx, d.p, d.offset); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// broadcastLocked wakes every AckContext waiting for commit state to change.
func (c *LogConsumer) broadcastLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// commitLoop is the committer: one commit in flight at a time, carrying
// every partition's latest acked position, so acks cost no round trip each.
// Plain acks are committed at most once per commit interval; AckContext and
// Flush ask for a commit at once. Failed commits are retried while their
// partitions stay assigned. On stop it makes a final commit and exits.
func (c *LogConsumer) commitLoop() {
	defer close(c.committed)
	var (
		timer  = time.NewTimer(time.Hour)
		timerC <-chan time.Time
		last   time.Time
	)
	timer.Stop()
	defer timer.Stop()
	arm := func(d time.Duration) {
		timer.Reset(d)
		timerC = timer.C
	}
	for {
		select {
		case <-c.kick:
			if timerC != nil {
				continue // a commit is already scheduled
			}
			if d := c.interval - time.Since(last); d > 0 {
				arm(d)
				continue
			}
		case <-c.urgent:
		case <-timerC:
			timerC = nil
		case <-c.stop:
			c.commit(c.commitCtx, c.due()) // bounded by Close

			c.mu.Lock()
			for _, p := range c.parts {
				if p.acked > p.committed && c.closeErr == nil {
					c.closeErr = fmt.Errorf("kafka: close: acked offset %d of %v not committed: %w", p.acked-1, p.tp, p.failErr)
				}
			}
			c.mu.Unlock()
			return
		}
		last = time.Now()
		if !c.commit(c.commitCtx, c.due()) && timerC == nil {
			arm(commitRetry)
		}
	}
}

// due lists the assigned partitions whose acked position is not committed.
func (c *LogConsumer) due() []pendingCommit {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []pendingCommit
	for _, p := range c.parts {
		if !p.revoked && p.acked > p.committed {
			out = append(out, pendingCommit{p, p.acked, p.epoch})
		}
	}
	return out
}

// commit commits the positions synchronously (franz-go orders it after any
// commit in flight, and no rebalance cancels it) and records the outcome
// per partition. It reports whether every partition committed.
func (c *LogConsumer) commit(ctx context.Context, due []pendingCommit) bool {
	if len(due) == 0 {
		return true
	}
	offsets := make(map[string]map[int32]kgo.EpochOffset, 1)
	for _, d := range due {
		m := offsets[d.p.tp.Topic]
		if m == nil {
			m = map[int32]kgo.EpochOffset{}
			offsets[d.p.tp.Topic] = m
		}
		m[int32(d.p.tp.Partition)] = kgo.EpochOffset{Epoch: d.epoch, Offset: d.offset}
	}
	ok := true
	c.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		codes := map[tpKey]int16{}
		if err == nil && resp != nil {
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					codes[tpKey{t.Topic, p.Partition}] = p.ErrorCode
				}
			}
		}
		var failed []string
		var first error
		c.mu.Lock()
		for _, d := range due {
			k := tpKey{d.p.tp.Topic, int32(d.p.tp.Partition)}
			perr := err
			if perr == nil {
				code, answered := codes[k]
				switch {
				case !answered:
					perr = errors.New("the broker did not answer for this partition")
				default:
					perr = kerr.ErrorForCode(code)
				}
			}
			if perr == nil {
				d.p.committed = max(d.p.committed, d.offset)
				continue
			}
			ok = false
			perr = classify(ctx, fmt.Sprintf("commit %v at offset %d", d.p.tp, d.offset), perr)
			d.p.failOff, d.p.failErr = max(d.p.failOff, d.offset), perr
			failed = append(failed, d.p.tp.String())
			if first == nil {
				first = perr
			}
		}
		var report error
		if first != nil && !(errors.Is(first, context.Canceled) && ctx.Err() != nil) {
			report = fmt.Errorf("kafka: commit of %s failed (retried while assigned): %w", strings.Join(failed, ", "), first)
			if c.onErr == nil && c.asyncErr == nil {
				c.asyncErr = report
			}
		}
		c.mu.Unlock()
		// The callback runs before waiters wake, so an AckContext that
		// returns the error finds it reported too.
		if report != nil && c.onErr != nil {
			c.onErr(report)
		}
		c.mu.Lock()
		c.broadcastLocked()
		c.mu.Unlock()
	})
	return ok
}

// isRetriable reports Kafka errors that franz-go retries by itself.
func isRetriable(err error) bool {
	return kerr.IsRetriable(err)
}
