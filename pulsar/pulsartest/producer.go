package pulsartest

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/pullkit/broker/pulsar/pulsartest/internal/wire"
)

// producer is a registered producer: PRODUCER creates it, SEND appends
// entries to its topic, CLOSE_PRODUCER or the end of the connection removes
// it. See "Producer" in the protocol specification.
type producer struct {
	id   uint64
	name string
	t    *topic
	c    *conn
}

func (p *producer) remove() {
	delete(p.t.producers, p)
	if p.c.producers != nil && p.c.producers[p.id] == p {
		delete(p.c.producers, p.id)
	}
}

func (c *conn) handleProducer(cmd *wire.CommandProducer) error {
	if cmd == nil {
		return missing(wire.BaseCommand_PRODUCER)
	}
	s := c.s
	rid := cmd.GetRequestId()
	full := fullTopicName(cmd.GetTopic())
	if s.partitioned[full] > 0 {
		c.requestError(rid, wire.ServerError_NotAllowedError, "topic %s is partitioned; produce to its partitions", full)
		return nil
	}
	name := cmd.GetProducerName()
	if s.faults.takeBlocked(name) {
		// Second half of an injected send rejection (see RejectSends): the
		// client reconnected after the SEND_ERROR; refusing the producer
		// with this code makes it fail its pending sends with an error.
		c.requestError(rid, wire.ServerError_ProducerBlockedQuotaExceededException,
			"pulsartest: injected send rejection for producer %s", name)
		return nil
	}
	if old := c.producers[cmd.GetProducerId()]; old != nil {
		old.remove()
	}
	t := s.topicLocked(full)
	if name == "" {
		s.nextName++
		name = fmt.Sprintf("pulsartest-%d", s.nextName)
	}
	p := &producer{id: cmd.GetProducerId(), name: name, t: t, c: c}
	c.producers[p.id] = p
	t.producers[p] = struct{}{}
	last := int64(-1)
	if seq, ok := t.lastSeq[name]; ok {
		last = int64(seq)
	}
	c.send(&wire.BaseCommand{
		Type: wire.BaseCommand_PRODUCER_SUCCESS.Enum(),
		ProducerSuccess: &wire.CommandProducerSuccess{
			RequestId:      proto.Uint64(rid),
			ProducerName:   proto.String(name),
			LastSequenceId: proto.Int64(last),
			ProducerReady:  proto.Bool(true),
		},
	}, nil)
	return nil
}

func (c *conn) handleSend(cmd *wire.CommandSend, payload []byte) error {
	if cmd == nil {
		return missing(wire.BaseCommand_SEND)
	}
	p := c.producers[cmd.GetProducerId()]
	if p == nil {
		return fmt.Errorf("%w: SEND for unknown producer %d", errProtocol, cmd.GetProducerId())
	}
	if payload == nil {
		return fmt.Errorf("%w: SEND without payload", errProtocol)
	}
	meta, body, err := parsePayload(payload)
	if err == nil && meta.NumMessagesInBatch != nil {
		// Every message of a batch takes at least a 4-byte size prefix, so
		// a count beyond that is corrupt (and would make the server size
		// ack sets after it).
		if n := meta.GetNumMessagesInBatch(); n < 1 || int64(n) > int64(len(body))/4+1 {
			err = fmt.Errorf("%w: batch of %d messages in %d bytes", errProtocol, n, len(body))
		}
	}
	if err != nil {
		// A corrupt message is never stored. Tell the producer why, then
		// drop the connection like any other protocol error.
		c.sendError(cmd, wire.ServerError_ChecksumError, err.Error())
		c.s.cfg.logger.Warn("pulsartest: closing connection after bad SEND", "err", err)
		return nil
	}
	if c.s.faults.takeSendRejection(p.name) {
		// A SEND_ERROR with a transient code makes the client drop the
		// connection and reconnect; closing it here too guarantees that no
		// later SEND on this connection is stored out of order.
		c.sendError(cmd, wire.ServerError_PersistenceError, "pulsartest: injected send rejection")
		return nil
	}
	seq := cmd.GetSequenceId()
	n := uint64(cmd.GetNumMessages())
	if n == 0 {
		n = 1
	}
	t := p.t
	key := sendKey{seq: seq, chunk: meta.GetChunkId()}
	if id, ok := t.stored[p.name][key]; ok {
		// A resend after reconnecting: already stored, acknowledge again.
		c.receipt(cmd, t, id)
		return nil
	}
	e := newEntry(payload, meta)
	id := uint64(len(t.entries))
	if t.stored[p.name] == nil {
		t.stored[p.name] = make(map[sendKey]uint64)
	}
	t.stored[p.name][key] = id
	t.lastSeq[p.name] = max(t.lastSeq[p.name], seq+n-1)
	// The receipt goes out before any MESSAGE of this entry: append
	// dispatches it.
	c.receipt(cmd, t, id)
	t.append(e)
	return nil
}

// receipt confirms a stored SEND. Receipts go out in the order of the SENDs,
// which clients require.
func (c *conn) receipt(cmd *wire.CommandSend, t *topic, entryID uint64) {
	r := &wire.CommandSendReceipt{
		ProducerId: proto.Uint64(cmd.GetProducerId()),
		SequenceId: proto.Uint64(cmd.GetSequenceId()),
		MessageId:  t.messageID(entryID),
	}
	if cmd.HighestSequenceId != nil {
		r.HighestSequenceId = proto.Uint64(cmd.GetHighestSequenceId())
	}
	c.send(&wire.BaseCommand{Type: wire.BaseCommand_SEND_RECEIPT.Enum(), SendReceipt: r}, nil)
}

// sendError rejects a SEND and closes the connection once the error is
// written.
func (c *conn) sendError(cmd *wire.CommandSend, code wire.ServerError, msg string) {
	c.sendAndClose(&wire.BaseCommand{
		Type: wire.BaseCommand_SEND_ERROR.Enum(),
		SendError: &wire.CommandSendError{
			ProducerId: proto.Uint64(cmd.GetProducerId()),
			SequenceId: proto.Uint64(cmd.GetSequenceId()),
			Error:      code.Enum(),
			Message:    proto.String(msg),
		},
	})
}

func (c *conn) handleCloseProducer(cmd *wire.CommandCloseProducer) error {
	if cmd == nil {
		return missing(wire.BaseCommand_CLOSE_PRODUCER)
	}
	if p := c.producers[cmd.GetProducerId()]; p != nil {
		p.remove()
	}
	c.success(cmd.GetRequestId())
	return nil
}
