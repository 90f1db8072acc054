package pulsartest

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/pullkit/broker/pulsar/pulsartest/internal/wire"
)

// Topic discovery: clients first ask for a topic's partitioned metadata (how
// many partitions it has; 0 means an ordinary topic), then look up the broker
// that owns each topic or partition. This server owns everything, so every
// lookup answers "connect to me". See "Service discovery" and "Partitioned
// topics discovery" in the protocol specification.

func (c *conn) handlePartitionedMetadata(cmd *wire.CommandPartitionedTopicMetadata) error {
	if cmd == nil {
		return missing(wire.BaseCommand_PARTITIONED_METADATA)
	}
	n := c.s.partitioned[fullTopicName(cmd.GetTopic())]
	c.send(&wire.BaseCommand{
		Type: wire.BaseCommand_PARTITIONED_METADATA_RESPONSE.Enum(),
		PartitionMetadataResponse: &wire.CommandPartitionedTopicMetadataResponse{
			RequestId:  proto.Uint64(cmd.GetRequestId()),
			Partitions: proto.Uint32(uint32(n)),
			Response:   wire.CommandPartitionedTopicMetadataResponse_Success.Enum(),
		},
	}, nil)
	return nil
}

func (c *conn) handleLookup(cmd *wire.CommandLookupTopic) error {
	if cmd == nil {
		return missing(wire.BaseCommand_LOOKUP)
	}
	c.send(&wire.BaseCommand{
		Type: wire.BaseCommand_LOOKUP_RESPONSE.Enum(),
		LookupTopicResponse: &wire.CommandLookupTopicResponse{
			RequestId:        proto.Uint64(cmd.GetRequestId()),
			BrokerServiceUrl: proto.String(c.s.url),
			// pulsar-client-go dereferences this field without a nil check.
			Response:               wire.CommandLookupTopicResponse_Connect.Enum(),
			Authoritative:          proto.Bool(true),
			ProxyThroughServiceUrl: proto.Bool(false),
		},
	}, nil)
	return nil
}

// partitionIndex returns i for a name ending in "-partition-<i>", else -1.
func partitionIndex(full string) int32 {
	i := strings.LastIndex(full, "-partition-")
	if i < 0 {
		return -1
	}
	n, err := strconv.ParseInt(full[i+len("-partition-"):], 10, 32)
	if err != nil || n < 0 {
		return -1
	}
	return int32(n)
}
