package servicebus

import (
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/pullkit/broker"
)

// Config says how to reach a Service Bus namespace. Exactly one of
// ConnectionString and (Namespace, Credential) must be set.
type Config struct {
	// ConnectionString is a namespace or entity connection string with a
	// shared access key ("Endpoint=sb://NS.servicebus.windows.net/;
	// SharedAccessKeyName=...;SharedAccessKey=..."), or an emulator one
	// (with UseDevelopmentEmulator=true, as sbtest.Server.ConnectionString
	// returns). The key never appears in an error.
	ConnectionString string

	// Namespace is the fully qualified namespace
	// ("NS.servicebus.windows.net"), used with Credential: an Azure
	// identity (azidentity.NewDefaultAzureCredential and the like).
	Namespace  string
	Credential azcore.TokenCredential

	// ClientOptions is passed to azservicebus as is: TLSConfig (TLS is on
	// for every non-emulator endpoint; set it for a custom root or client
	// certificate), WebSockets (NewWebSocketConn), CustomEndpoint,
	// ApplicationID and RetryOptions (default: 3 retries, 4 s initial delay,
	// so a namespace that is down takes about 30 s to report). Nil means
	// the client's defaults.
	ClientOptions *azservicebus.ClientOptions
}

func (c Config) validate() error {
	switch {
	case c.ConnectionString != "" && (c.Namespace != "" || c.Credential != nil):
		return fmt.Errorf("%w: servicebus: set ConnectionString or Namespace with Credential, not both", broker.ErrInvalidOption)
	case c.ConnectionString == "" && (c.Namespace == "" || c.Credential == nil):
		return fmt.Errorf("%w: servicebus: ConnectionString, or Namespace and Credential, are required", broker.ErrInvalidOption)
	}
	return nil
}

// ReceiveMode is how a queue consumer takes messages from the entity.
type ReceiveMode uint8

const (
	// PeekLock (the default) locks each message for the entity's lock
	// duration; Ack completes it, Nack abandons it. At-least-once.
	PeekLock ReceiveMode = iota
	// ReceiveAndDelete removes each message from the entity as it is
	// delivered: at-most-once. Ack is a no-op that succeeds; Nack and
	// Reject cannot give the message back and return an error wrapping
	// broker.ErrUnsupported (from Settle; Nack() and Reject() drop it).
	// Extend returns broker.ErrUnsupported. Messages the consumer fetched
	// and did not hand out when it closes are lost, and between NextBatch
	// calls it keeps fetching up to the credit a short batch left over
	// (up to Prefetch messages; see the package doc).
	ReceiveAndDelete
)

func (m ReceiveMode) String() string {
	switch m {
	case PeekLock:
		return "peek-lock"
	case ReceiveAndDelete:
		return "receive-and-delete"
	}
	return fmt.Sprintf("ReceiveMode(%d)", uint8(m))
}

// Defaults of QueueConfig.
const (
	// DefaultMaxBatch is the most messages one NextBatch returns.
	DefaultMaxBatch = 100
	// MaxMaxBatch is azservicebus's limit on one ReceiveMessages call,
	// which bounds MaxBatch and Prefetch.
	MaxMaxBatch = 5000
	// DefaultMaxWait is how long NextBatch keeps collecting after the
	// first message arrived (azservicebus's own default for peek-lock).
	DefaultMaxWait = 20 * time.Millisecond
	// DefaultAutoRenew is how long a handed-out, unsettled message's lock
	// is renewed at most.
	DefaultAutoRenew = 5 * time.Minute
	// DefaultSettleTimeout bounds Ack, Nack and Reject, which take no context.
	DefaultSettleTimeout = 30 * time.Second
)

// QueueConfig says which entity a Queue consumes and how. Set Queue, or
// Topic and Subscription.
type QueueConfig struct {
	// Queue is the queue to receive from.
	Queue string
	// Topic and Subscription name a topic subscription to receive from.
	Topic, Subscription string

	// DeadLetter receives from the entity's dead-letter sub-queue instead.
	// A dead-letter queue has no dead-letter queue of its own, so there
	// Reject completes the message (PoisonDeadLetter acts as
	// PoisonTerminate), and Poison.MaxDeliveries must be 0: dead-lettered
	// messages keep the delivery count they reached on the entity.
	DeadLetter bool

	// ReceiveMode: PeekLock (default) or ReceiveAndDelete; see ReceiveMode.
	ReceiveMode ReceiveMode

	// MaxBatch is the most messages one NextBatch returns. Default
	// DefaultMaxBatch (100); at most MaxMaxBatch (5000).
	MaxBatch int

	// Prefetch is how many messages one receive asks the entity for;
	// those beyond MaxBatch wait in the consumer for the next NextBatch
	// (their locks running) and are abandoned by Close. Default (0) and
	// any value below MaxBatch: MaxBatch, so nothing waits (except, in
	// ReceiveAndDelete mode, what arrives between NextBatch calls on the
	// credit a short batch left: see ReceiveAndDelete). At most
	// MaxMaxBatch. Trap: a prefetched message's lock is not renewed until
	// it is handed out, so keep Prefetch small against the lock duration.
	Prefetch int

	// MaxWait is how long a receive keeps collecting messages after the
	// first one arrived, bounding a batch's latency. Default
	// DefaultMaxWait (20 ms).
	MaxWait time.Duration

	// Poison is the poison-message policy. MaxDeliveries is checked on the
	// client, with each message's DeliveryCount: a message nacked on its
	// MaxDeliveries-th delivery, or received with a higher count (its lock
	// expired), goes to Action instead of back to the entity. Set the
	// entity's own MaxDeliveryCount too: Service Bus then dead-letters
	// such messages itself even when no consumer settles them.
	// DeadLetterTopic is ignored (the dead-letter queue is built in);
	// MaxDeliveries must be 0 on a DeadLetter consumer;
	// NackDelay is not supported (Service Bus has no delayed abandon) and
	// must be 0.
	Poison broker.PoisonPolicy

	// AutoRenew is how long, at most, the consumer keeps renewing the lock
	// of a message it handed out and that was not settled yet, so that a
	// slow handler keeps it. Default DefaultAutoRenew (5 min); negative
	// turns renewal off (Extend still works). Renewal is a round trip per
	// message about every half lock duration.
	AutoRenew time.Duration

	// SettleTimeout bounds Ack, Nack and Reject, which take no context
	// (Settle and AckContext use theirs). Default DefaultSettleTimeout.
	SettleTimeout time.Duration

	// ReceiverOptions, if set, is passed to azservicebus as is;
	// ReceiveMode and DeadLetter then fill its ReceiveMode and SubQueue.
	ReceiverOptions *azservicebus.ReceiverOptions
}

func (c *QueueConfig) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: servicebus: "+format, append([]any{broker.ErrInvalidOption}, args...)...)
	}
	switch {
	case c.Queue == "" && c.Topic == "" && c.Subscription == "":
		return fmt.Errorf("%w: servicebus: QueueConfig needs Queue, or Topic and Subscription", broker.ErrInvalidTopic)
	case c.Queue != "" && (c.Topic != "" || c.Subscription != ""):
		return bad("set Queue, or Topic and Subscription, not both")
	case c.Queue == "" && (c.Topic == "" || c.Subscription == ""):
		return fmt.Errorf("%w: servicebus: a subscription needs both Topic and Subscription", broker.ErrInvalidTopic)
	case c.ReceiveMode > ReceiveAndDelete:
		return bad("unknown ReceiveMode %d", c.ReceiveMode)
	case c.MaxBatch < 0 || c.MaxBatch > MaxMaxBatch:
		return bad("MaxBatch %d out of range 0..%d", c.MaxBatch, MaxMaxBatch)
	case c.Prefetch < 0 || c.Prefetch > MaxMaxBatch:
		return bad("Prefetch %d out of range 0..%d", c.Prefetch, MaxMaxBatch)
	case c.MaxWait < 0:
		return bad("MaxWait %v is negative", c.MaxWait)
	case c.SettleTimeout < 0:
		return bad("SettleTimeout %v is negative", c.SettleTimeout)
	case c.DeadLetter && c.Poison.MaxDeliveries > 0:
		return bad("PoisonPolicy.MaxDeliveries on a dead-letter queue: its messages keep the delivery count they reached on the entity")
	case c.Poison.NackDelay != 0:
		return fmt.Errorf("%w: servicebus: PoisonPolicy.NackDelay (Service Bus cannot delay an abandon)", broker.ErrUnsupported)
	}
	if err := c.Poison.Validate(); err != nil {
		return err
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	c.Prefetch = max(c.Prefetch, c.MaxBatch)
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.AutoRenew == 0 {
		c.AutoRenew = DefaultAutoRenew
	}
	if c.SettleTimeout == 0 {
		c.SettleTimeout = DefaultSettleTimeout
	}
	return nil
}

// entity is the path the consumer reads, for errors.
func (c *QueueConfig) entity() string {
	p := c.Queue
	if p == "" {
		p = c.Topic + "/Subscriptions/" + c.Subscription
	}
	if c.DeadLetter {
		p += "/$DeadLetterQueue"
	}
	return p
}
