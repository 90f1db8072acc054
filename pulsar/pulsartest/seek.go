package pulsartest

import (
	"math"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/pullkit/broker/pulsar/pulsartest/internal/wire"
)

// Positioning: where a Reader starts, Seek, and GetLastMessageId (which
// Reader.HasNext relies on). The commands are CommandSeek and
// CommandGetLastMessageId of the protocol's PulsarApi.proto; the broker-side
// behaviour (disconnect the subscription's consumers on seek) follows what
// pulsar-client-go expects, see requestSeek in its consumer_partition.go.

// Message id sentinels clients use for "earliest" and "latest" (ledger and
// entry -1, and ledger and entry MaxInt64).
const (
	earliestEntry = math.MaxUint64
	latestEntry   = math.MaxInt64
)

// startIndex turns a start or seek message id into an entry index to read
// from. The entry itself is included: the client drops what lies before its
// start id (and the id itself unless inclusive), so sending it is harmless and
// needed for inclusive starts.
func (t *topic) startIndex(id *wire.MessageIdData) uint64 {
	switch e := id.GetEntryId(); {
	case e == earliestEntry:
		return 0
	case e >= latestEntry || e >= uint64(len(t.entries)):
		return uint64(len(t.entries))
	default:
		return e
	}
}

// handleSeek resets the subscription's cursor to a message id or publish
// time. As a real broker does, it disconnects the subscription's consumers
// (CLOSE_CONSUMER) before confirming, so that their clients drop what they had
// buffered and re-subscribe from the new position.
func (c *conn) handleSeek(cmd *wire.CommandSeek) error {
	if cmd == nil {
		return missing(wire.BaseCommand_SEEK)
	}
	rid := cmd.GetRequestId()
	cs := c.consumers[cmd.GetConsumerId()]
	if cs == nil {
		c.requestError(rid, wire.ServerError_ConsumerNotFound, "consumer %d not found", cmd.GetConsumerId())
		return nil
	}
	sub := cs.sub
	t := sub.t
	var idx uint64
	switch {
	case cmd.MessagePublishTime != nil:
		pt := cmd.GetMessagePublishTime()
		idx = uint64(len(t.entries))
		for i, e := range t.entries {
			if e.publishTime >= pt {
				idx = uint64(i)
				break
			}
		}
	case cmd.MessageId != nil:
		idx = t.startIndex(cmd.MessageId)
	default:
		c.requestError(rid, wire.ServerError_MetadataError, "seek without message id or publish time")
		return nil
	}
	// unlink, not detach: a Reader's non-durable subscription must survive
	// until its consumer re-subscribes, or the new position would be lost
	// (after a seek by time the client re-subscribes with its old start id).
	for _, other := range slices.Clone(sub.consumers) {
		other.cn.closeConsumer(other.id)
		other.unlink()
	}
	sub.reset(idx)
	sub.lastActive = nil
	c.success(rid)
	return nil
}

func (c *conn) handleGetLastMessageID(cmd *wire.CommandGetLastMessageId) error {
	if cmd == nil {
		return missing(wire.BaseCommand_GET_LAST_MESSAGE_ID)
	}
	rid := cmd.GetRequestId()
	cs := c.consumers[cmd.GetConsumerId()]
	if cs == nil {
		c.requestError(rid, wire.ServerError_ConsumerNotFound, "consumer %d not found", cmd.GetConsumerId())
		return nil
	}
	c.send(&wire.BaseCommand{
		Type: wire.BaseCommand_GET_LAST_MESSAGE_ID_RESPONSE.Enum(),
		GetLastMessageIdResponse: &wire.CommandGetLastMessageIdResponse{
			LastMessageId:              cs.sub.t.lastMessageID(),
			RequestId:                  proto.Uint64(rid),
			ConsumerMarkDeletePosition: cs.sub.markDeleteID(),
		},
	}, nil)
	return nil
}
