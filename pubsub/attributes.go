package pubsub

import (
	"fmt"
	"strings"
	"unicode/utf8"

	gpubsub "cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/pullkit/broker"
)

// Pub/Sub's limits, checked before anything is sent.
const (
	// MaxAttributes is the most attributes a message may carry.
	MaxAttributes = 100
	// MaxAttributeKeySize is the longest attribute key, in bytes.
	MaxAttributeKeySize = 256
	// MaxAttributeValueSize is the longest attribute value, in bytes,
	// after conversion to a string.
	MaxAttributeValueSize = 1024
	// MaxOrderingKeySize is the longest OutboundMessage.Key, in bytes.
	MaxOrderingKeySize = 1024
	// MaxMessageSize is the largest message Pub/Sub accepts: 10 MB
	// (decimal) for the data, and for the whole encoded message (data,
	// attributes and ordering key) within the 10 MB publish request,
	// which also holds the topic's name and a few bytes of framing (see
	// messageLimit): the largest payload is some 50 bytes less.
	MaxMessageSize = 10_000_000
)

// reservedPrefix starts attribute keys Pub/Sub keeps for itself.
const reservedPrefix = "goog"

// EmptyAttribute is the attribute a message with neither data nor
// attributes is published with, because Pub/Sub refuses such a message
// (and with it the whole publish request). Receivers and Consumers of
// this package leave it out of Message.Attributes; other subscribers see
// it. Outbound attributes may not use the name.
const EmptyAttribute = "pullkit-empty"

// toAttributes converts broker attributes to Pub/Sub's string attributes
// (see the package doc for the rules) and checks Pub/Sub's limits. Errors
// wrap broker.ErrInvalidAttribute.
func toAttributes(attrs map[string]any) (map[string]string, error) {
	if len(attrs) == 0 {
		return nil, nil
	}
	if len(attrs) > MaxAttributes {
		return nil, fmt.Errorf("%w: %d attributes, Pub/Sub allows %d", broker.ErrInvalidAttribute, len(attrs), MaxAttributes)
	}
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		switch {
		case k == "":
			return nil, fmt.Errorf("%w: empty key", broker.ErrInvalidAttribute)
		case len(k) > MaxAttributeKeySize:
			return nil, fmt.Errorf("%w: key %.32q…: %d bytes, Pub/Sub allows %d", broker.ErrInvalidAttribute, k, len(k), MaxAttributeKeySize)
		case strings.HasPrefix(k, reservedPrefix):
			return nil, fmt.Errorf("%w: key %q: the prefix %q is reserved by Pub/Sub", broker.ErrInvalidAttribute, k, reservedPrefix)
		case k == EmptyAttribute:
			return nil, fmt.Errorf("%w: key %q is reserved by this package for empty messages", broker.ErrInvalidAttribute, k)
		case !utf8.ValidString(k):
			// Protobuf strings must be UTF-8: the library could not encode
			// the request, which would fail every message batched with it.
			return nil, fmt.Errorf("%w: key %q is not valid UTF-8", broker.ErrInvalidAttribute, k)
		}
		s, err := broker.AttributeString(v)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("%w: key %q: value is not valid UTF-8 (send binary as []byte: it travels in base64)", broker.ErrInvalidAttribute, k)
		}
		if len(s) > MaxAttributeValueSize {
			return nil, fmt.Errorf("%w: key %q: value of %d bytes, Pub/Sub allows %d", broker.ErrInvalidAttribute, k, len(s), MaxAttributeValueSize)
		}
		out[k] = s
	}
	return out, nil
}

// fromAttributes turns received attributes into the broker's map: every
// value is a string. Not inlined: its map iterator would stay in the
// frame of Receiver's handler call (see receiveState.handle).
//
// skip names an attribute left out (ReceiveConfig.KeyAttribute), "" none;
// EmptyAttribute is always left out.
//
//go:noinline
func fromAttributes(attrs map[string]string, skip string) map[string]any {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string]any, len(attrs))
	for k, v := range attrs {
		if (k != skip || skip == "") && k != EmptyAttribute {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// messageLimit is the largest encoded message (data, attributes and
// ordering key) the library sends to the topic of full name path: what a
// publish request of gpubsub.MaxPublishRequestBytes leaves once the topic
// field and the message's own framing (tag and length, up to 5 bytes) are
// counted. The library refuses a larger message when it is handed over,
// after the batch's other messages.
func messageLimit(path string) int {
	topicField := 1 + protowire.SizeVarint(uint64(len(path))) + len(path)
	return gpubsub.MaxPublishRequestBytes - topicField - 5
}

// checkMessage checks what Pub/Sub limits besides attributes: the ordering
// key and the size of the encoded message, at most limit (messageLimit).
func checkMessage(key string, data []byte, attrs map[string]string, limit int) error {
	if len(key) > MaxOrderingKeySize {
		return fmt.Errorf("%w: key (ordering key) of %d bytes, Pub/Sub allows %d", broker.ErrInvalidAttribute, len(key), MaxOrderingKeySize)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("%w: key (ordering key) is not valid UTF-8", broker.ErrInvalidAttribute)
	}
	if len(data) > MaxMessageSize {
		return fmt.Errorf("%w: %d bytes of data, Pub/Sub allows %d", broker.ErrMessageTooLarge, len(data), MaxMessageSize)
	}
	// Only large messages can reach the limit with their attributes; the
	// exact encoded size is computed only for those.
	if len(data) > limit-MaxAttributes*(MaxAttributeKeySize+MaxAttributeValueSize+8)-MaxOrderingKeySize-8 {
		size := proto.Size(&pb.PubsubMessage{Data: data, Attributes: attrs, OrderingKey: key})
		if size > limit {
			return fmt.Errorf("%w: encoded message of %d bytes (data, attributes and key), a 10 MB publish request to this topic holds %d", broker.ErrMessageTooLarge, size, limit)
		}
	}
	return nil
}

// checkKeyAttribute checks a KeyAttribute option against Pub/Sub's rules
// for attribute keys.
func checkKeyAttribute(k string) error {
	switch {
	case k == "":
		return nil
	case len(k) > MaxAttributeKeySize:
		return fmt.Errorf("%w: pubsub: KeyAttribute of %d bytes, Pub/Sub allows %d", broker.ErrInvalidOption, len(k), MaxAttributeKeySize)
	case strings.HasPrefix(k, reservedPrefix):
		return fmt.Errorf("%w: pubsub: KeyAttribute %q: the prefix %q is reserved by Pub/Sub", broker.ErrInvalidOption, k, reservedPrefix)
	case !utf8.ValidString(k):
		return fmt.Errorf("%w: pubsub: KeyAttribute %q is not valid UTF-8", broker.ErrInvalidOption, k)
	case k == EmptyAttribute:
		return fmt.Errorf("%w: pubsub: KeyAttribute %q is reserved for empty messages", broker.ErrInvalidOption, k)
	}
	return nil
}

// withKeyAttribute adds the message key to attrs under ka.
func withKeyAttribute(attrs map[string]string, ka, key string) (map[string]string, error) {
	if _, taken := attrs[ka]; taken {
		return nil, fmt.Errorf("%w: key %q is the publisher's KeyAttribute, which carries OutboundMessage.Key", broker.ErrInvalidAttribute, ka)
	}
	if len(attrs)+1 > MaxAttributes {
		return nil, fmt.Errorf("%w: %d attributes and the key attribute, Pub/Sub allows %d", broker.ErrInvalidAttribute, len(attrs), MaxAttributes)
	}
	if len(key) > MaxAttributeValueSize {
		return nil, fmt.Errorf("%w: key of %d bytes in attribute %q, Pub/Sub allows %d", broker.ErrInvalidAttribute, len(key), ka, MaxAttributeValueSize)
	}
	if !utf8.ValidString(key) {
		return nil, fmt.Errorf("%w: key in attribute %q is not valid UTF-8", broker.ErrInvalidAttribute, ka)
	}
	if attrs == nil {
		attrs = make(map[string]string, 1)
	}
	attrs[ka] = key
	return attrs, nil
}
