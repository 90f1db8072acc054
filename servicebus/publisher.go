package servicebus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"

	"github.com/pullkit/broker"
)

// Publisher publishes to queues and topics of one namespace. It keeps one
// azservicebus.Sender per entity, opened on first use and closed by Close.
// Its methods are safe for concurrent use.
type Publisher struct {
	c *Client

	mu       sync.Mutex
	closed   bool
	senders  map[string]*azservicebus.Sender
	inflight int           // Publish and BatchPublish calls in progress
	drained  chan struct{} // closed when inflight reaches 0 after Close
}

// Publisher returns a new publisher on the client's connection.
func (c *Client) Publisher() (*Publisher, error) {
	p := &Publisher{c: c, senders: map[string]*azservicebus.Sender{}, drained: make(chan struct{})}
	if err := c.track(p); err != nil {
		return nil, err
	}
	return p, nil
}

var _ broker.Publisher = (*Publisher)(nil)

// Topic returns a handle on the queue or topic called name. It does not
// check that the entity exists: the first publish does (broker.ErrNotFound).
func (p *Publisher) Topic(name string) (broker.Topic, error) {
	if err := broker.ValidateTopicName(name); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("servicebus: publisher: %w", broker.ErrClosed)
	}
	return &Topic{p: p, name: name}, nil
}

// sender returns the entity's cached sender, opening it if needed, and
// counts a publish in progress, which the caller ends with p.done. Close
// waits for those before closing the senders.
func (p *Publisher) sender(name string) (*azservicebus.Sender, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("servicebus: publish to %s: %w", name, broker.ErrClosed)
	}
	s := p.senders[name]
	if s == nil {
		var err error
		if s, err = p.c.sb.NewSender(name, nil); err != nil {
			return nil, wrapErr("open sender for "+name, err)
		}
		p.senders[name] = s
	}
	p.inflight++
	return s, nil
}

// done ends a publish that sender counted.
func (p *Publisher) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inflight--
	if p.closed && p.inflight == 0 {
		close(p.drained)
	}
}

// closedErr turns the error of a send that raced with Close into ErrClosed.
func (p *Publisher) closedErr(op string, err error) error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed && !errors.Is(err, broker.ErrClosed) {
		return fmt.Errorf("servicebus: %s: %w (%w)", op, broker.ErrClosed, err)
	}
	return err
}

// Close waits for the Publish and BatchPublish calls in progress to end
// (at most closeTimeout, 10 s; they end sooner when their ctx does), so
// that what was handed to them is sent, then closes every sender. Publish
// and BatchPublish return only once their sends are confirmed, so nothing
// else is left to flush. It is idempotent; later publishes fail with
// broker.ErrClosed.
func (p *Publisher) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if p.inflight == 0 {
		close(p.drained)
	}
	senders := p.senders
	p.senders = nil
	p.mu.Unlock()
	p.c.untrack(p)
	wait := time.NewTimer(closeTimeout)
	select {
	case <-p.drained:
	case <-wait.C:
	}
	wait.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	var errs []error
	for name, s := range senders {
		if err := s.Close(ctx); err != nil {
			errs = append(errs, wrapErr("close sender for "+name, err))
		}
	}
	return errors.Join(errs...)
}

// closeTimeout bounds the closing of links, which take no context in
// Close() error.
const closeTimeout = 10 * time.Second

// Topic publishes to one queue or topic. Its methods are safe for
// concurrent use.
type Topic struct {
	p    *Publisher
	name string
}

var _ broker.Topic = (*Topic)(nil)

// toMessage converts an outbound message after validating it.
func toMessage(m broker.OutboundMessage) (*azservicebus.Message, error) {
	if err := broker.ValidateOutbound(m); err != nil {
		return nil, err
	}
	return convert(m)
}

// MaxKeyLength is the most characters a Key (PartitionKey) may have:
// Service Bus's limit, checked before anything is sent.
const MaxKeyLength = 128

// convert converts a validated outbound message. The result shares
// m's slices and map: it must be encoded before the call returns.
func convert(m broker.OutboundMessage) (*azservicebus.Message, error) {
	if len(m.Key) > MaxKeyLength && utf8.RuneCountInString(m.Key) > MaxKeyLength {
		return nil, fmt.Errorf("%w: Key of %d characters: Service Bus limits a PartitionKey to %d",
			broker.ErrInvalidAttribute, utf8.RuneCountInString(m.Key), MaxKeyLength)
	}
	props, err := toProperties(m.Attributes)
	if err != nil {
		return nil, err
	}
	msg := &azservicebus.Message{Body: m.Data, ApplicationProperties: props}
	if m.Key != "" {
		key := m.Key
		msg.PartitionKey = &key
	}
	return msg, nil
}

// Publish sends one message and waits for Service Bus to accept it. A
// message whose encoded size exceeds the entity's limit fails with
// broker.ErrMessageTooLarge before anything is sent.
func (t *Topic) Publish(ctx context.Context, m broker.OutboundMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	msg, err := toMessage(m)
	if err != nil {
		return err
	}
	s, err := t.p.sender(t.name)
	if err != nil {
		return err
	}
	defer t.p.done()
	op := "send to " + t.name
	if err := s.SendMessage(ctx, msg, nil); err != nil {
		return t.p.closedErr(op, wrapErr(op, err))
	}
	return nil
}

// BatchPublish validates every message, packs them in order into as few
// azservicebus.MessageBatches as the entity's size limit allows, and sends
// the batches one after the other. If any message is invalid or alone
// exceeds the limit (broker.ErrMessageTooLarge), none is sent. When a
// batch fails, the *broker.BatchError marks the messages of the batches
// before it sent, its own messages failed (Service Bus refused them) or
// unknown (the connection or ctx ended while waiting), and the rest
// failed (never attempted).
func (t *Topic) BatchPublish(ctx context.Context, msgs ...broker.OutboundMessage) error {
	if len(msgs) == 0 {
		return ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		return failAll(len(msgs), err)
	}
	if be := broker.ValidateBatch(msgs); be != nil {
		return be
	}
	s, err := t.p.sender(t.name)
	if err != nil {
		return failAll(len(msgs), err)
	}
	defer t.p.done()
	op := "send batch to " + t.name

	// Pack everything first, so that a message that cannot fit is found
	// before any batch went out.
	type packed struct {
		b     *azservicebus.MessageBatch
		first int // index of the batch's first message
	}
	var batches []packed
	var cur *azservicebus.MessageBatch
	for i := range msgs {
		msg, err := convert(msgs[i])
		if err != nil { // a Key too long (ValidateBatch checks attributes)
			return refuseAll(len(msgs), i, err)
		}
		for {
			if cur == nil {
				if cur, err = s.NewMessageBatch(ctx, nil); err != nil {
					return failAll(len(msgs), t.p.closedErr(op, wrapErr(op, err)))
				}
				batches = append(batches, packed{b: cur, first: i})
			}
			err = cur.AddMessage(msg, nil)
			if err == nil {
				break
			}
			if !errors.Is(err, azservicebus.ErrMessageTooLarge) {
				return refuseAll(len(msgs), i, fmt.Errorf("servicebus: %s: message %d: %w", op, i, err))
			}
			if cur.NumMessages() == 0 {
				return refuseAll(len(msgs), i, fmt.Errorf("%w: servicebus: %s: message %d (%d bytes of data) exceeds the entity's maximum message size",
					broker.ErrMessageTooLarge, op, i, len(msgs[i].Data)))
			}
			cur = nil // full: start the next batch with this message
		}
	}

	be := broker.NewBatchError(len(msgs))
	for k, pb := range batches {
		end := len(msgs)
		if k+1 < len(batches) {
			end = batches[k+1].first
		}
		err := s.SendMessageBatch(ctx, pb.b, nil)
		if err == nil {
			continue
		}
		err = t.p.closedErr(op, wrapErr(op, err))
		definite := refused(err)
		for i := pb.first; i < end; i++ {
			if definite {
				be.Fail(i, err)
			} else {
				be.Unknown(i, err)
			}
		}
		for i := end; i < len(msgs); i++ {
			be.Fail(i, fmt.Errorf("servicebus: %s: not sent: an earlier batch failed", op))
		}
		break
	}
	return be.OrNil()
}

// refused reports whether a failed send certainly did not publish: the
// broker refused the transfer or the link, rather than the connection or
// a context ending while the outcome was on its way.
func refused(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, broker.ErrUnavailable) {
		return false
	}
	// A link, session or connection that ended (even with a remote error
	// inside) may have taken the outcome with it.
	var (
		linkErr *amqp.LinkError
		sessErr *amqp.SessionError
		connErr *amqp.ConnError
	)
	if errors.As(err, &linkErr) || errors.As(err, &sessErr) || errors.As(err, &connErr) {
		return false
	}
	// A rejected transfer, or a link the broker refused to open.
	var amqpErr *amqp.Error
	return errors.As(err, &amqpErr) || errors.Is(err, broker.ErrUnauthenticated) || errors.Is(err, broker.ErrNotFound)
}

// failAll marks every message of a batch failed with err.
func failAll(n int, err error) *broker.BatchError {
	be := broker.NewBatchError(n)
	for i := range n {
		be.Fail(i, err)
	}
	return be
}

// refuseAll marks message bad failed with err and the others failed
// because of it.
func refuseAll(n, bad int, err error) *broker.BatchError {
	be := failAll(n, fmt.Errorf("not sent: message %d of the batch was refused", bad))
	be.Fail(bad, err)
	return be
}
