package pulsar

import (
	"crypto/tls"
	"fmt"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/pullkit/broker"
)

// Config says how to reach a Pulsar cluster. URL is required; everything
// else has a default.
type Config struct {
	// URL is the service URL: "pulsar://host:6650", or "pulsar+ssl://host:6651"
	// for TLS. Required.
	URL string

	// TLSTrustCertsFile is a PEM file of the CAs to trust for pulsar+ssl
	// URLs. Empty: the system roots.
	TLSTrustCertsFile string

	// TLSAllowInsecureConnection accepts any server certificate. Only for
	// tests: it disables the protection TLS gives against an impostor.
	TLSAllowInsecureConnection bool

	// TLSValidateHostname checks the server certificate's host name, as it
	// should be checked in production. Default false, the client's default.
	TLSValidateHostname bool

	// TLSConfig, if set, is used as is for TLS connections and overrides the
	// three TLS fields above.
	TLSConfig *tls.Config

	// Token authenticates with a JWT (pulsar.NewAuthenticationToken). It is
	// never put in an error or a log line.
	Token string

	// OAuth2 authenticates with OAuth 2.0 client credentials; the keys are
	// those of pulsar.NewAuthenticationOAuth2 ("type", "issuerUrl",
	// "audience", "privateKey", "clientId", "scope").
	OAuth2 map[string]string

	// Authentication is any other client authentication provider (TLS
	// client certificates, Athenz, basic). At most one of Token, OAuth2 and
	// Authentication may be set.
	Authentication pc.Authentication

	// OperationTimeout bounds each request to the broker (lookup, producer
	// and consumer creation, acknowledgements with response). Default 30 s,
	// the client's default. Creating a consumer or a producer blocks up to
	// this long if the broker does not answer.
	OperationTimeout time.Duration

	// ConnectionTimeout bounds establishing a TCP connection. Default 10 s.
	ConnectionTimeout time.Duration

	// ClientOptions, if set, is called with the options built from the
	// fields above just before the client is created, so anything the
	// client offers (a Logger, metrics, MemoryLimitBytes, a ListenerName…)
	// can be set. It runs last and its changes win.
	ClientOptions func(*pc.ClientOptions)
}

func (c Config) clientOptions() (pc.ClientOptions, error) {
	if c.URL == "" {
		return pc.ClientOptions{}, fmt.Errorf("%w: Config.URL is required", broker.ErrInvalidOption)
	}
	if c.OperationTimeout < 0 || c.ConnectionTimeout < 0 {
		return pc.ClientOptions{}, fmt.Errorf("%w: negative timeout", broker.ErrInvalidOption)
	}
	n := 0
	for _, set := range []bool{c.Token != "", c.OAuth2 != nil, c.Authentication != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return pc.ClientOptions{}, fmt.Errorf("%w: set at most one of Config.Token, OAuth2 and Authentication", broker.ErrInvalidOption)
	}
	o := pc.ClientOptions{
		URL:                        c.URL,
		OperationTimeout:           c.OperationTimeout,
		ConnectionTimeout:          c.ConnectionTimeout,
		TLSTrustCertsFilePath:      c.TLSTrustCertsFile,
		TLSAllowInsecureConnection: c.TLSAllowInsecureConnection,
		TLSValidateHostname:        c.TLSValidateHostname,
		TLSConfig:                  c.TLSConfig,
		Authentication:             c.Authentication,
	}
	switch {
	case c.Token != "":
		o.Authentication = pc.NewAuthenticationToken(c.Token)
	case c.OAuth2 != nil:
		o.Authentication = pc.NewAuthenticationOAuth2(c.OAuth2)
	}
	if c.ClientOptions != nil {
		c.ClientOptions(&o)
	}
	return o, nil
}

// Position is where a new subscription starts.
type Position uint8

const (
	// PositionDefault is the default of the consumer kind: Latest for
	// queues, Earliest for logs.
	PositionDefault Position = iota
	// PositionLatest: a new subscription receives what is published after
	// it was created.
	PositionLatest
	// PositionEarliest: a new subscription starts at the oldest retained
	// message.
	PositionEarliest
)

func (p Position) native(def Position) pc.SubscriptionInitialPosition {
	if p == PositionDefault {
		p = def
	}
	if p == PositionEarliest {
		return pc.SubscriptionPositionEarliest
	}
	return pc.SubscriptionPositionLatest
}

// Defaults of QueueConfig and LogConfig.
const (
	DefaultMaxBatch          = 100
	DefaultReceiverQueueSize = 1000
	// DefaultNackDelay is the redelivery delay of a Nack when
	// PoisonPolicy.NackDelay is 0 ("as soon as possible"): the client
	// cannot redeliver with no delay at all (0 means its 1 min default).
	DefaultNackDelay = 100 * time.Millisecond
	// DefaultAckFlushDelay is how long an Ack may wait for others to share
	// its request: the client's own ack grouping waits up to 100 ms.
	DefaultAckFlushDelay = 10 * time.Millisecond
)

// QueueConfig configures a queue consumer (Shared or KeyShared subscription).
type QueueConfig struct {
	// KeyShared selects a KeyShared subscription: messages with one key go to
	// one consumer at a time, in order. Default false: Shared (round robin).
	KeyShared bool

	// InitialPosition is where a new subscription starts. Default Latest:
	// the subscription receives what is published after its creation.
	InitialPosition Position

	// ReceiverQueueSize is how many messages the client prefetches.
	// Default 1000. Prefetched messages not handed out when the consumer
	// closes are redelivered by the broker.
	ReceiverQueueSize int

	// MaxBatch is the most messages NextBatch returns. Default 100.
	MaxBatch int

	// AckDeadline, if positive, is a client-side ack timeout (the client
	// has none of its own): a message not settled that long after it was
	// handed out is nacked, so the broker redelivers it after the nack
	// delay, and settling it later fails with an error wrapping
	// broker.ErrAlreadySettled. Message.Extend pushes the deadline back.
	// Default 0: no deadline; a message stays with its consumer until
	// settled, closed or disconnected, and Extend returns
	// broker.ErrUnsupported.
	AckDeadline time.Duration

	// Poison maps onto the client's dead-letter policy: MaxDeliveries and
	// DeadLetterTopic (default "<topic>-<subscription>-DLQ", Pulsar's
	// convention) become DLQPolicy; NackDelay becomes NackRedeliveryDelay
	// (0 means DefaultNackDelay). With Action PoisonTerminate the consumer
	// acks and drops a message past MaxDeliveries instead.
	Poison broker.PoisonPolicy

	// ConsumerName names the consumer to the broker. Default: random.
	ConsumerName string

	// AckFlushDelay is how long an Ack (not AckContext, which goes at once)
	// may wait to share one acknowledgement request with later ones.
	// Default DefaultAckFlushDelay; negative sends every Ack at once. Close
	// sends what waits.
	AckFlushDelay time.Duration

	// ConsumerOptions, if set, is called with the options built from the
	// fields above just before subscribing; it runs last. Changing
	// AckWithResponse, EnableBatchIndexAcknowledgment or Type breaks the
	// guarantees in the package doc.
	ConsumerOptions func(*pc.ConsumerOptions)
}

// LogConfig configures a log consumer (Failover or Exclusive subscription).
type LogConfig struct {
	// Exclusive selects an Exclusive subscription: a second consumer is
	// refused. Default false: Failover, where one consumer per partition is
	// active and the others take over when it leaves.
	Exclusive bool

	// InitialPosition is where a new subscription starts. Default
	// Earliest: a group that committed nothing reads every retained record.
	InitialPosition Position

	// ReceiverQueueSize is how many records the client prefetches. Default 1000.
	ReceiverQueueSize int

	// MaxBatch is the most records NextBatch returns. Default 100.
	MaxBatch int

	// ConsumerName names the consumer to the broker; Failover picks the
	// active consumer of each partition by name. Default: random.
	ConsumerName string

	// AckFlushDelay is as in QueueConfig, for commits.
	AckFlushDelay time.Duration

	// ConsumerOptions is as in QueueConfig.
	ConsumerOptions func(*pc.ConsumerOptions)
}

func checkCommon(queueSize, maxBatch *int, flush *time.Duration) error {
	if *flush == 0 {
		*flush = DefaultAckFlushDelay
	}
	if *queueSize < 0 || *maxBatch < 0 {
		return fmt.Errorf("%w: negative ReceiverQueueSize or MaxBatch", broker.ErrInvalidOption)
	}
	if *queueSize == 0 {
		*queueSize = DefaultReceiverQueueSize
	}
	if *maxBatch == 0 {
		*maxBatch = DefaultMaxBatch
	}
	return nil
}

// PublisherConfig configures a Publisher.
type PublisherConfig struct {
	// MaxMessageSize is the largest message accepted: payload, key and
	// attributes (keys and converted values) together. Larger ones fail
	// with broker.ErrMessageTooLarge before anything is sent. Default 5 MiB,
	// Pulsar's default maxMessageSize; set it to your cluster's value.
	MaxMessageSize int

	// BatchingMaxPublishDelay is how long the client holds messages of
	// concurrent Publish calls to batch them. Default 10 ms, the client's
	// default. BatchPublish flushes at once and does not wait for it.
	BatchingMaxPublishDelay time.Duration

	// KeyBasedBatching batches messages by key (the client's
	// KeyBasedBatchBuilder), which KeyShared subscriptions need to route
	// every message of a batch by its own key. Default false: one batch
	// mixes keys and is routed by its first message's key.
	KeyBasedBatching bool

	// SendTimeout fails a message the broker has not confirmed in time.
	// Default 30 s, the client's default.
	SendTimeout time.Duration

	// ProducerOptions, if set, is called with the options built for each
	// topic's producer just before it is created; it runs last.
	// DisableBatching is discouraged: pulsar-client-go v0.19.0 has a data
	// race on non-batching producers that reconnect.
	ProducerOptions func(*pc.ProducerOptions)
}

// DefaultMaxMessageSize is Pulsar's default maxMessageSize, 5 MiB.
const DefaultMaxMessageSize = 5 << 20
