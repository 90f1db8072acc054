package broker

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// Message is one unit of a queue: it is settled on its own with Ack, Nack or
// Reject, in any order and from any goroutine, and settling it has no effect
// on any other message. Nack, or an ack deadline that passes, makes the broker
// deliver it again.
//
// A Message is a value: copies share one Settler, so the first settlement of
// any copy wins and later ones are no-ops.
type Message struct {
	// ID identifies the message, unique within its topic or subscription.
	ID string

	// Key identifies the payload (not the message): not unique, used for
	// ordering and partitioning.
	Key string

	// Data is the payload.
	Data []byte

	// Attributes are the broker's headers or properties. See each backend's
	// package doc for how types map.
	Attributes map[string]any

	// PublishTime is when the message was published.
	PublishTime time.Time

	// IngestionTime is when this consumer received it.
	IngestionTime time.Time

	// DeliveryCount is how many times the message has been delivered, this
	// delivery included (1 on first delivery). 0 means the backend does not know.
	DeliveryCount int

	// AckFunc and NackFunc are the seed's settlement hooks, kept so that
	// hand-built messages (in tests, say) still work: when Settler is nil, Ack
	// and Nack call them if they are set, with no once-only guarantee. Messages
	// from this module's backends leave them nil and settle through Settler.
	AckFunc  func()
	NackFunc func()

	// Settler settles the message with the broker exactly once. Backends set
	// it with NewSettler; nil means the message settles through AckFunc and
	// NackFunc, or not at all.
	Settler *Settler
}

// Ack tells the broker the message was processed and must not be delivered
// again. The first settlement wins; later calls do nothing. Ack does not wait
// for the broker to confirm: use AckContext to learn the outcome. Safe on a
// zero Message.
func (m *Message) Ack() {
	if m.Settler == nil {
		if m.AckFunc != nil {
			m.AckFunc()
		}
		return
	}
	_ = m.Settler.settle(context.Background(), Settlement{Kind: SettleAck, NoWait: true})
}

// Nack tells the broker the message was not processed and should be
// delivered again (after the backend's nack delay, if it has one). The first
// settlement wins; later calls do nothing. Safe on a zero Message.
func (m *Message) Nack() {
	if m.Settler == nil {
		if m.NackFunc != nil {
			m.NackFunc()
		}
		return
	}
	_ = m.Settler.settle(context.Background(), Settlement{Kind: SettleNack, NoWait: true})
}

// AckContext acks the message and waits until the broker confirms, or ctx
// ends. It returns ErrAlreadySettled if the message was settled before, and
// nil for a zero Message. When it returns another error the outcome is
// unknown; the broker redelivers the message if the ack did not arrive.
func (m *Message) AckContext(ctx context.Context) error {
	return m.Settle(ctx, Settlement{Kind: SettleAck})
}

// Settle settles the message as s says and waits for the broker's
// confirmation (for backends that confirm; each backend documents which
// settlements are confirmed and which are best-effort). The first settlement
// wins: later calls return ErrAlreadySettled. If ctx is already done, Settle
// returns its error and leaves the message unsettled.
func (m *Message) Settle(ctx context.Context, s Settlement) error {
	if m.Settler == nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch s.Kind {
		case SettleAck:
			if m.AckFunc != nil {
				m.AckFunc()
			}
		default:
			if m.NackFunc != nil {
				m.NackFunc()
			}
		}
		return nil
	}
	s.NoWait = false
	return m.Settler.settle(ctx, s)
}

// Reject settles a poison message: it is never delivered to this
// subscription again, and goes to the dead-letter destination if one is
// configured (the PoisonPolicy's action). Safe on a zero Message.
func (m *Message) Reject(reason string) {
	if m.Settler == nil {
		if m.NackFunc != nil {
			m.NackFunc()
		}
		return
	}
	_ = m.Settler.settle(context.Background(), Settlement{Kind: SettleReject, Reason: reason, NoWait: true})
}

// Extend asks the broker to keep the message leased (its ack deadline or
// lock) for at least d from now, for handlers that outlive the deadline; it
// never shortens a lease. Backends whose renewal has a fixed length (a
// JetStream AckWait, a Service Bus lock duration) renew for that length and
// say so in their docs. It returns ErrUnsupported if the backend has no
// deadline to extend and ErrAlreadySettled after settlement. Receivers from
// package adapters call it for you with WithAutoExtend.
func (m *Message) Extend(ctx context.Context, d time.Duration) error {
	if m.Settler == nil {
		return fmt.Errorf("%w: extend on a message without a settler", ErrUnsupported)
	}
	return m.Settler.Extend(ctx, d)
}

// Settled reports whether the message was already acked, nacked or rejected.
func (m *Message) Settled() bool { return m.Settler != nil && m.Settler.Settled() }

// SettleKind is what a settlement does to a message.
type SettleKind uint8

const (
	// SettleAck: processed; never deliver again. For a Record: commit.
	SettleAck SettleKind = iota + 1
	// SettleNack: not processed; deliver again, after Delay if the backend supports it.
	SettleNack
	// SettleReject: poison; never deliver again, dead-letter it if configured.
	SettleReject
)

func (k SettleKind) String() string {
	switch k {
	case SettleAck:
		return "ack"
	case SettleNack:
		return "nack"
	case SettleReject:
		return "reject"
	default:
		return fmt.Sprintf("SettleKind(%d)", uint8(k))
	}
}

// Settlement is one settlement request, as a backend's SettleFunc receives it.
type Settlement struct {
	Kind SettleKind

	// Delay asks for redelivery no sooner than this, for SettleNack, on
	// backends with delayed nacks (JetStream, Service Bus scheduling, Pulsar,
	// inmem). Others redeliver as soon as they can.
	Delay time.Duration

	// Reason says why a message was rejected; backends with dead-letter
	// reasons (Service Bus) record it.
	Reason string

	// NoWait is true for the fire-and-forget calls (Ack, Nack, Reject):
	// the backend may settle asynchronously and report a failure later (on the
	// next Next call or on Close, as its package doc says). It is false for
	// Settle and AckContext, which wait for the broker's confirmation.
	NoWait bool
}

// SettleFunc carries a settlement to the broker. It is called at most once
// per Settler, never with a done context.
type SettleFunc func(ctx context.Context, s Settlement) error

// ExtendFunc keeps a message leased for at least d from now (see Message.Extend).
type ExtendFunc func(ctx context.Context, d time.Duration) error

// Settler makes a message's or record's settlement once-only and safe from
// any goroutine. Backends create one per delivery with NewSettler; adapters
// create their own to observe settlement (a record receiver's watermark, for
// example).
//
// A Settler must not be copied after first use; Messages and Records hold a
// pointer to it.
type Settler struct {
	settleFn SettleFunc
	extendFn ExtendFunc
	handler  SettleHandler
	done     atomic.Bool
}

// NewSettler returns a Settler that passes the first settlement to fn and
// refuses the rest. extend may be nil when the backend has no deadline to extend.
func NewSettler(fn SettleFunc, extend ExtendFunc) *Settler {
	return &Settler{settleFn: fn, extendFn: extend}
}

// SettleHandler is SettleFunc and ExtendFunc as methods, for backends that
// keep a struct per delivery anyway: embedding a Settler in that struct and
// calling Init with the struct itself costs no allocation beyond the struct,
// where NewSettler with closures costs two or three.
type SettleHandler interface {
	// Settle carries a settlement to the broker, as SettleFunc does.
	Settle(ctx context.Context, s Settlement) error
	// Extend keeps the message leased for at least d from now, as
	// ExtendFunc does; it returns an error wrapping ErrUnsupported when
	// there is no deadline.
	Extend(ctx context.Context, d time.Duration) error
}

// Init prepares a zero Settler, typically embedded in a backend's
// per-delivery struct, to pass its first settlement to h:
//
//	type delivery struct {
//		broker.Settler
//		// ...
//	}
//	d := &delivery{...}
//	d.Settler.Init(d) // d implements SettleHandler
//	msg.Settler = &d.Settler
//
// Init must be called before the Settler is shared.
func (s *Settler) Init(h SettleHandler) { s.handler = h }

// Settled reports whether a settlement was already attempted.
func (s *Settler) Settled() bool { return s != nil && s.done.Load() }

func (s *Settler) settle(ctx context.Context, st Settlement) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Refuse a kind no backend knows before using up the one settlement,
	// or the message would stay leased, unsettleable, until its deadline.
	if st.Kind < SettleAck || st.Kind > SettleReject {
		return fmt.Errorf("%w: settlement kind %v", ErrInvalidOption, st.Kind)
	}
	if !s.done.CompareAndSwap(false, true) {
		return ErrAlreadySettled
	}
	switch {
	case s.handler != nil:
		return s.handler.Settle(ctx, st)
	case s.settleFn != nil:
		return s.settleFn(ctx, st)
	}
	return nil
}

// Extend calls the backend's ExtendFunc unless the message is already settled.
func (s *Settler) Extend(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.done.Load() {
		return ErrAlreadySettled
	}
	switch {
	case s.handler != nil:
		return s.handler.Extend(ctx, d)
	case s.extendFn != nil:
		return s.extendFn(ctx, d)
	}
	return fmt.Errorf("%w: this backend has no ack deadline to extend", ErrUnsupported)
}

// PoisonAction is what happens to a message that exceeded
// PoisonPolicy.MaxDeliveries, or that a handler rejected.
type PoisonAction uint8

const (
	// PoisonDeadLetter moves the message to the dead-letter destination
	// (a DLQ topic, a dead-letter sub-queue); without one it acts as PoisonTerminate.
	PoisonDeadLetter PoisonAction = iota
	// PoisonTerminate drops the message: it is never delivered again.
	PoisonTerminate
)

// PoisonPolicy is the one policy for messages that keep failing. Backends map
// it onto their native features (JetStream MaxDeliver and Term, Service Bus
// MaxDeliveryCount and its dead-letter queue, Pub/Sub dead-letter policies,
// Pulsar DLQ policies, Kafka share-group reject); the zero value means
// "redeliver forever, immediately".
type PoisonPolicy struct {
	// MaxDeliveries is how many deliveries a message gets before the broker
	// applies Action instead of delivering it again. 0 means unlimited.
	MaxDeliveries int

	// Action is what happens to a message past MaxDeliveries, or rejected.
	Action PoisonAction

	// DeadLetterTopic names where dead-lettered messages go, on backends that
	// route them by name (inmem, Pub/Sub, Pulsar). Backends with a built-in
	// dead-letter queue (Service Bus) ignore it.
	DeadLetterTopic string

	// NackDelay is the default redelivery delay for Nack, where the backend
	// supports delays. 0 means redeliver as soon as possible.
	NackDelay time.Duration
}

// Exceeded reports whether a message delivered deliveryCount times has used up
// its deliveries. A deliveryCount of 0 (unknown) never exceeds.
func (p PoisonPolicy) Exceeded(deliveryCount int) bool {
	return p.MaxDeliveries > 0 && deliveryCount > p.MaxDeliveries
}

// Validate checks the policy's values.
func (p PoisonPolicy) Validate() error {
	switch {
	case p.MaxDeliveries < 0:
		return fmt.Errorf("%w: PoisonPolicy.MaxDeliveries %d is negative", ErrInvalidOption, p.MaxDeliveries)
	case p.NackDelay < 0:
		return fmt.Errorf("%w: PoisonPolicy.NackDelay %v is negative", ErrInvalidOption, p.NackDelay)
	case p.Action > PoisonTerminate:
		return fmt.Errorf("%w: PoisonPolicy.Action %d is unknown", ErrInvalidOption, p.Action)
	}
	return nil
}
