package pulsartest

import (
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/pullkit/broker/pulsar/pulsartest/internal/wire"
)

// consumer is one consumer attached to a subscription over one connection.
// See "Consumer" in the protocol specification: SUBSCRIBE attaches it, FLOW
// grants it permits (one per message), MESSAGE delivers, ACK settles,
// REDELIVER_UNACKNOWLEDGED_MESSAGES gives messages back, CLOSE_CONSUMER
// detaches it.
type consumer struct {
	id      uint64
	name    string
	cn      *conn
	sub     *subscription
	permits int64
}

// detach removes the consumer from its subscription and connection. With
// redeliver, what it had not acknowledged goes to the other consumers (with
// the redelivery count incremented). A non-durable subscription (a Reader's)
// disappears with its last consumer; a durable one stays.
func (c *consumer) detach(redeliver bool) {
	sub := c.sub
	c.unlink()
	if redeliver {
		sub.redeliverConsumer(c)
	}
	if len(sub.consumers) == 0 && !sub.durable && sub.t.subs[sub.name] == sub {
		delete(sub.t.subs, sub.name)
		return
	}
	sub.checkActive(nil)
	sub.dispatch()
}

// unlink removes the consumer from its subscription and connection and does
// nothing else.
func (c *consumer) unlink() {
	sub := c.sub
	if i := slices.Index(sub.consumers, c); i >= 0 {
		sub.consumers = slices.Delete(sub.consumers, i, i+1)
	}
	if c.cn.consumers != nil && c.cn.consumers[c.id] == c {
		delete(c.cn.consumers, c.id)
	}
}

func (c *conn) handleSubscribe(cmd *wire.CommandSubscribe) error {
	if cmd == nil {
		return missing(wire.BaseCommand_SUBSCRIBE)
	}
	s := c.s
	rid := cmd.GetRequestId()
	full := fullTopicName(cmd.GetTopic())
	if s.partitioned[full] > 0 {
		c.requestError(rid, wire.ServerError_NotAllowedError, "topic %s is partitioned; subscribe to its partitions", full)
		return nil
	}
	if cmd.GetSubscription() == "" {
		c.requestError(rid, wire.ServerError_InvalidTopicName, "empty subscription name")
		return nil
	}
	if old := c.consumers[cmd.GetConsumerId()]; old != nil {
		// The client reuses a consumer id when it re-subscribes; drop the
		// stale one first (possibly removing its non-durable subscription).
		old.detach(true)
	}
	t := s.topicLocked(full)
	sub := t.subs[cmd.GetSubscription()]
	if sub == nil {
		var start uint64
		switch {
		case !cmd.GetDurable() && cmd.StartMessageId != nil:
			start = t.startIndex(cmd.StartMessageId)
		case cmd.GetInitialPosition() == wire.CommandSubscribe_Earliest:
			start = 0
		default:
			start = uint64(len(t.entries))
		}
		sub = newSubscription(t, cmd.GetSubscription(), cmd.GetSubType(), cmd.GetDurable(), start)
		t.subs[sub.name] = sub
	} else if sub.typ != cmd.GetSubType() {
		if len(sub.consumers) > 0 {
			c.requestError(rid, wire.ServerError_ConsumerBusy, "subscription %s is of type %v, not %v",
				sub.name, sub.typ, cmd.GetSubType())
			return nil
		}
		// Nobody is attached: the subscription takes the new type, as a
		// real broker allows.
		sub.typ = cmd.GetSubType()
	}
	if sub.typ == wire.CommandSubscribe_Exclusive && len(sub.consumers) > 0 {
		c.requestError(rid, wire.ServerError_ConsumerBusy, "exclusive consumer is already connected to %s", sub.name)
		return nil
	}
	cs := &consumer{id: cmd.GetConsumerId(), name: cmd.GetConsumerName(), cn: c, sub: sub}
	sub.consumers = append(sub.consumers, cs)
	c.consumers[cs.id] = cs
	// The client registers its handler only after this reply, and nothing
	// is dispatched before its first FLOW, so no MESSAGE can precede it.
	c.success(rid)
	sub.checkActive(cs)
	return nil
}

func (c *conn) handleFlow(cmd *wire.CommandFlow) error {
	if cmd == nil {
		return missing(wire.BaseCommand_FLOW)
	}
	cs := c.consumers[cmd.GetConsumerId()]
	if cs == nil {
		return nil // a consumer closed meanwhile; nothing to do
	}
	cs.permits += int64(cmd.GetMessagePermits())
	cs.sub.dispatch()
	return nil
}

func (c *conn) handleAck(cmd *wire.CommandAck) error {
	if cmd == nil {
		return missing(wire.BaseCommand_ACK)
	}
	cs := c.consumers[cmd.GetConsumerId()]
	if cs != nil {
		for _, id := range cmd.MessageId {
			if cmd.GetAckType() == wire.CommandAck_Cumulative {
				cs.sub.ackCumulative(id)
			} else {
				cs.sub.ackIndividual(id)
			}
		}
	}
	if cmd.RequestId != nil {
		r := &wire.CommandAckResponse{
			ConsumerId: proto.Uint64(cmd.GetConsumerId()),
			RequestId:  proto.Uint64(cmd.GetRequestId()),
		}
		if cs == nil {
			r.Error = wire.ServerError_ConsumerNotFound.Enum()
			r.Message = proto.String("consumer not found")
		}
		c.send(&wire.BaseCommand{Type: wire.BaseCommand_ACK_RESPONSE.Enum(), AckResponse: r}, nil)
	}
	return nil
}

func (c *conn) handleRedeliver(cmd *wire.CommandRedeliverUnacknowledgedMessages) error {
	if cmd == nil {
		return missing(wire.BaseCommand_REDELIVER_UNACKNOWLEDGED_MESSAGES)
	}
	cs := c.consumers[cmd.GetConsumerId()]
	if cs == nil {
		return nil
	}
	if len(cmd.MessageIds) == 0 {
		cs.sub.redeliverConsumer(cs)
	}
	for _, id := range cmd.MessageIds {
		// Only what this consumer holds: after an ack timeout the entry
		// may already be with another consumer.
		if d := cs.sub.pending[id.GetEntryId()]; d != nil && d.c == cs {
			cs.sub.redeliver(id.GetEntryId())
		}
	}
	cs.sub.dispatch()
	return nil
}

func (c *conn) handleCloseConsumer(cmd *wire.CommandCloseConsumer) error {
	if cmd == nil {
		return missing(wire.BaseCommand_CLOSE_CONSUMER)
	}
	if cs := c.consumers[cmd.GetConsumerId()]; cs != nil {
		cs.detach(true)
	}
	c.success(cmd.GetRequestId())
	return nil
}

func (c *conn) handleUnsubscribe(cmd *wire.CommandUnsubscribe) error {
	if cmd == nil {
		return missing(wire.BaseCommand_UNSUBSCRIBE)
	}
	rid := cmd.GetRequestId()
	cs := c.consumers[cmd.GetConsumerId()]
	if cs == nil {
		c.requestError(rid, wire.ServerError_ConsumerNotFound, "consumer %d not found", cmd.GetConsumerId())
		return nil
	}
	sub := cs.sub
	if len(sub.consumers) > 1 && !cmd.GetForce() {
		c.requestError(rid, wire.ServerError_ConsumerBusy, "other consumers are connected to %s", sub.name)
		return nil
	}
	for _, other := range slices.Clone(sub.consumers) {
		if other != cs {
			other.cn.closeConsumer(other.id)
		}
		other.unlink()
	}
	delete(sub.t.subs, sub.name)
	c.success(rid)
	return nil
}

// closeConsumer tells the client to drop a consumer; the client then
// reconnects it (lookup, SUBSCRIBE, FLOW).
func (c *conn) closeConsumer(consumerID uint64) {
	c.send(&wire.BaseCommand{
		Type: wire.BaseCommand_CLOSE_CONSUMER.Enum(),
		CloseConsumer: &wire.CommandCloseConsumer{
			ConsumerId: proto.Uint64(consumerID),
			RequestId:  proto.Uint64(0),
		},
	}, nil)
}

func (c *conn) activeConsumerChange(consumerID uint64, active bool) {
	c.send(&wire.BaseCommand{
		Type: wire.BaseCommand_ACTIVE_CONSUMER_CHANGE.Enum(),
		ActiveConsumerChange: &wire.CommandActiveConsumerChange{
			ConsumerId: proto.Uint64(consumerID),
			IsActive:   proto.Bool(active),
		},
	}, nil)
}
