package inmem

import (
	"maps"

	"github.com/pullkit/broker"
)

// Attributes added to dead-lettered messages, both in DeadLetters and in the
// copy forwarded to PoisonPolicy.DeadLetterTopic. The original attributes
// are kept alongside.
const (
	// AttrDeadLetterReason (string): the Reject reason, or why the delivery
	// limit was reached.
	AttrDeadLetterReason = "inmem.dead_letter.reason"
	// AttrDeadLetterSource (string): "topic/subscription" the message left.
	AttrDeadLetterSource = "inmem.dead_letter.source"
	// AttrDeadLetterDeliveries (int): how many times it had been delivered.
	AttrDeadLetterDeliveries = "inmem.dead_letter.deliveries"
	// AttrDeadLetterID (string): the message's ID in its original topic.
	AttrDeadLetterID = "inmem.dead_letter.id"
)

// deadLetter is a message to forward to a dead-letter topic once the
// subscription's lock is released (forwarding takes other topics' locks,
// and dead-letter topics may form cycles).
type deadLetter struct {
	topic string
	e     entry
}

// deadLetterLocked gives up on a message: it is recorded for DeadLetters
// and, if the policy routes dead letters to a topic, queued for forwarding.
func (s *subscription) deadLetterLocked(it qitem, pol broker.PoisonPolicy, reason string) {
	attrs := make(map[string]any, len(it.e.attrs)+4)
	maps.Copy(attrs, it.e.attrs)
	attrs[AttrDeadLetterReason] = reason
	attrs[AttrDeadLetterSource] = s.t.name + "/" + s.name
	attrs[AttrDeadLetterDeliveries] = it.deliveries
	attrs[AttrDeadLetterID] = it.e.id
	s.deadLetters = append(s.deadLetters, broker.Message{
		ID:            it.e.id,
		Key:           it.e.key,
		Data:          it.e.data,
		Attributes:    attrs,
		PublishTime:   it.e.published,
		DeliveryCount: it.deliveries,
	})
	if pol.Action == broker.PoisonDeadLetter && pol.DeadLetterTopic != "" {
		s.deadOut = append(s.deadOut, deadLetter{
			topic: pol.DeadLetterTopic,
			e:     entry{key: it.e.key, data: it.e.data, attrs: cloneAttrs(attrs)},
		})
	}
}

func (s *subscription) takeDeadLocked() []deadLetter {
	if len(s.deadOut) == 0 {
		return nil
	}
	out := s.deadOut
	s.deadOut = nil
	return out
}

// forward publishes dead letters to their topics. It is called without any
// lock held. After Close there is nowhere to forward to; the messages stay
// listed in DeadLetters.
func (b *Broker) forward(dead []deadLetter) {
	for _, d := range dead {
		t, err := b.topic(d.topic)
		if err != nil {
			continue
		}
		t.publish(d.e)
	}
}
