package pubsub

import (
	"context"
	"sync"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/adapters"
)

// Consumer pulls messages of a subscription one at a time (NextMessage) or
// in batches (NextBatch). It implements broker.MessageIterator and
// broker.BatchedMessageIterator; calls must not be concurrent.
//
// It is built with package adapters on a Receiver: the Receiver's
// streaming pull starts on the first call and runs until Close, its
// handler putting each message on a buffer of ReceiveConfig.Buffer
// messages (when the buffer is full the library stops pulling, up to
// MaxOutstandingMessages handler calls). NextBatch takes the first message
// as soon as there is one and then fills the batch for at most MaxWait.
// NextMessage and NextBatch may be mixed; neither holds messages between
// calls.
type Consumer struct {
	r     *Receiver
	it    *adapters.MessageIterator
	batch *adapters.BatchIterator[broker.Message]

	closeOnce sync.Once
}

var (
	_ broker.MessageIterator        = (*Consumer)(nil)
	_ broker.BatchedMessageIterator = (*Consumer)(nil)
)

// Subscribe opens a Consumer of the named subscription; it fails as
// Client.Receiver does. Unlike for a Receiver, ReceiveConfig's
// MaxOutstandingMessages 0 means Buffer + max(Buffer, MaxBatch), 256 by
// default: the messages the consumer buffers plus a batch the caller holds
// unsettled. Pulling pauses while that many are delivered and unsettled.
func (c *Client) Subscribe(ctx context.Context, subscription string, cfg ReceiveConfig) (*Consumer, error) {
	if cfg.MaxOutstandingMessages == 0 && cfg.Settings == nil {
		// The library parks one goroutine per message waiting for room in
		// the buffer, up to MaxOutstandingMessages: beyond what the
		// buffer and the caller hold they only cost memory and CPU.
		d, err := cfg.withDefaults()
		if err != nil {
			return nil, err
		}
		cfg.MaxOutstandingMessages = d.Buffer + max(d.Buffer, d.MaxBatch)
	}
	r, err := c.Receiver(ctx, subscription, cfg)
	if err != nil {
		return nil, err
	}
	cfg = r.cfg
	it := adapters.ReceiverToMessageIterator(r, adapters.WithBuffer(cfg.Buffer))
	batch := adapters.MessageIteratorToBatchedMessageIterator(it,
		adapters.WithMaxBatch(cfg.MaxBatch), adapters.WithMaxWait(cfg.MaxWait))
	return &Consumer{r: r, it: it, batch: batch}, nil
}

// Receiver returns the Receiver the consumer pulls from. Do not call its
// Receive: the consumer does.
func (c *Consumer) Receiver() *Receiver { return c.r }

// NextMessage returns the next message, waiting until one arrives, ctx ends
// (an error matching ctx.Err(); nothing is lost) or the consumer is closed
// (broker.ErrClosed). The message must be settled.
func (c *Consumer) NextMessage(ctx context.Context) (broker.Message, error) {
	return c.it.NextMessage(ctx)
}

// NextBatch returns 1 to MaxBatch messages, waiting like NextMessage for
// the first one. The slice is the caller's.
func (c *Consumer) NextBatch(ctx context.Context) ([]broker.Message, error) {
	return c.batch.NextBatch(ctx)
}

// Close stops the consumer: pending and later calls fail with
// broker.ErrClosed, the messages it buffered are nacked, the streaming
// pull ends, and the messages handed out and not settled yet are nacked
// too (settling one later returns an error wrapping broker.ErrClosed), so
// all of them are redelivered at once. Acks already made are sent before
// Close returns. The subscription stays. Close is idempotent.
func (c *Consumer) Close() error {
	c.closeOnce.Do(func() {
		_ = c.batch.Close()
		_ = c.it.Close()
	})
	return nil
}
