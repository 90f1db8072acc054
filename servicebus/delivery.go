package servicebus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/pullkit/broker"
)

// Dead-letter reasons this package writes.
const (
	// ReasonRejected is the dead-letter reason of a message rejected
	// with an empty reason.
	ReasonRejected = "Rejected"
	// reasonMaxDeliveries is the reason of a message past
	// PoisonPolicy.MaxDeliveries (Service Bus's own, when it dead-letters
	// on MaxDeliveryCount, is "MaxDeliveryCountExceeded").
	reasonMaxDeliveries = "MaxDeliveriesExceeded"
)

// delivery is one received message: its Settler (embedded, so settling
// costs no closure) and its lock-renewal state.
type delivery struct {
	broker.Settler
	q        *Queue
	rm       *azservicebus.ReceivedMessage
	received time.Time

	// renewMu serialises lock renewals of rm, which write rm.LockedUntil.
	renewMu sync.Mutex

	// Guarded by q.mu.
	givenBack   bool          // Close took it back and abandoned it
	renewing    bool          // the renewer has a renewal of it in flight
	lockedUntil time.Time     // when the current lock expires
	lockSpan    time.Duration // how long a lock lasts, as observed
	extendUntil time.Time     // renew the lock until then (Extend, AutoRenew)
	retryAt     time.Time     // after a failed renewal: not before then
}

// message builds the broker.Message handed out for d.
func (d *delivery) message(now time.Time) broker.Message {
	rm := d.rm
	m := broker.Message{
		ID:            rm.MessageID,
		Data:          rm.Body,
		Attributes:    fromProperties(rm.ApplicationProperties),
		IngestionTime: now,
		DeliveryCount: int(rm.DeliveryCount),
		Settler:       &d.Settler,
	}
	if m.ID == "" {
		m.ID = d.id()
	}
	if rm.PartitionKey != nil {
		m.Key = *rm.PartitionKey
	}
	if rm.EnqueuedTime != nil {
		m.PublishTime = *rm.EnqueuedTime
	}
	return m
}

// id is the message ID, or "seq:<sequence number>" when the sender set
// none: Service Bus does not require one, and the sequence number is
// unique within the entity.
func (d *delivery) id() string {
	if d.rm.MessageID != "" || d.rm.SequenceNumber == nil {
		return d.rm.MessageID
	}
	return "seq:" + strconv.FormatInt(*d.rm.SequenceNumber, 10)
}

// Settle implements broker.SettleHandler; see the package doc for what
// each kind does.
func (d *delivery) Settle(ctx context.Context, s broker.Settlement) error {
	q := d.q
	if q.cfg.ReceiveMode == ReceiveAndDelete {
		if s.Kind == broker.SettleAck {
			return nil
		}
		return fmt.Errorf("%w: servicebus: %v in receive-and-delete mode: the message was already removed from %s", broker.ErrUnsupported, s.Kind, q.entity)
	}
	q.mu.Lock()
	givenBack := d.givenBack
	delete(q.held, d)
	q.mu.Unlock()
	if givenBack {
		return fmt.Errorf("servicebus: %v message %q of %s: %w: the queue closed and gave it back", s.Kind, d.id(), q.entity, broker.ErrClosed)
	}
	if s.NoWait {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, q.cfg.SettleTimeout)
		defer cancel()
	}
	var err error
	op := ""
	switch s.Kind {
	case broker.SettleAck:
		op = "complete"
		err = q.rcv.CompleteMessage(ctx, d.rm, nil)
	case broker.SettleNack:
		p := q.cfg.Poison
		if !q.closing.Load() && p.MaxDeliveries > 0 && int(d.rm.DeliveryCount) >= p.MaxDeliveries {
			// Its last allowed delivery: straight to the poison action
			// rather than abandoned and received once more only for that.
			return d.poison(ctx, reasonMaxDeliveries, q.maxDeliveriesDescription(d.rm.DeliveryCount))
		}
		op = "abandon"
		err = q.rcv.AbandonMessage(ctx, d.rm, nil)
	case broker.SettleReject:
		reason := s.Reason
		if reason == "" {
			reason = ReasonRejected
		}
		return d.poison(ctx, reason, "")
	}
	return d.settleErr(op, err)
}

// poison applies the poison policy's action: dead-letter with reason, or
// complete (PoisonTerminate). On a dead-letter queue, which has no
// dead-letter queue of its own (Service Bus would keep the message where
// it is, to be delivered again), PoisonDeadLetter acts as PoisonTerminate,
// as broker.PoisonDeadLetter says for a consumer without one.
func (d *delivery) poison(ctx context.Context, reason, description string) error {
	q := d.q
	if q.cfg.Poison.Action == broker.PoisonTerminate || q.cfg.DeadLetter {
		return d.settleErr("complete (terminate)", q.rcv.CompleteMessage(ctx, d.rm, nil))
	}
	opts := &azservicebus.DeadLetterOptions{Reason: &reason}
	if description != "" {
		opts.ErrorDescription = &description
	}
	return d.settleErr("dead-letter", q.rcv.DeadLetterMessage(ctx, d.rm, opts))
}

func (d *delivery) settleErr(op string, err error) error {
	if err == nil {
		return nil
	}
	op = fmt.Sprintf("%s message %q of %s", op, d.id(), d.q.entity)
	if d.q.closing.Load() && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("servicebus: %s: %w (%w)", op, broker.ErrClosed, err)
	}
	return wrapErr(op, err)
}

// Extend implements broker.SettleHandler: it renews the lock now, and if
// the lock ends before dur from now, has the renewer keep renewing it
// until then (or until the message is settled or the queue closed).
// Service Bus renews for the entity's lock duration, never another length.
func (d *delivery) Extend(ctx context.Context, dur time.Duration) error {
	q := d.q
	if q.cfg.ReceiveMode == ReceiveAndDelete {
		return fmt.Errorf("%w: servicebus: no lock to extend in receive-and-delete mode", broker.ErrUnsupported)
	}
	if q.closing.Load() {
		return fmt.Errorf("servicebus: extend lock: %w", broker.ErrClosed)
	}
	want := time.Now().Add(dur)
	if err := d.renew(ctx); err != nil {
		return err
	}
	q.mu.Lock()
	if want.After(d.extendUntil) {
		d.extendUntil = want
	}
	more := d.extendUntil.After(d.lockedUntil)
	q.mu.Unlock()
	if more {
		q.nudge()
	}
	return nil
}

// renew renews d's lock once (RenewMessageLock) and records its new expiry.
func (d *delivery) renew(ctx context.Context) error {
	d.renewMu.Lock()
	start := time.Now()
	err := d.q.rcv.RenewMessageLock(ctx, d.rm, nil)
	var until time.Time
	if err == nil && d.rm.LockedUntil != nil {
		until = *d.rm.LockedUntil
	}
	d.renewMu.Unlock()
	if err != nil {
		return d.settleErr("renew lock of", err)
	}
	if !until.IsZero() {
		span := until.Sub(start)
		if span <= 0 {
			// Service Bus just renewed the lock, yet by the local clock
			// it has already expired: the clocks disagree by more than
			// the lock duration, and every renewal would look due at
			// once. Keep time on the local clock instead, renewing every
			// skewedRenewEvery (Service Bus locks last at least 5 s).
			span = 2 * skewedRenewEvery
			until = start.Add(span)
		}
		d.q.mu.Lock()
		d.lockedUntil = until
		d.lockSpan = max(span, minLockSpan)
		d.q.mu.Unlock()
	}
	return nil
}

// skewedRenewEvery is how often a lock is renewed when the local clock
// runs so far ahead of the namespace's that a fresh lock looks expired.
const skewedRenewEvery = time.Second
