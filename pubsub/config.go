package pubsub

import (
	"fmt"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/option"

	"github.com/pullkit/broker"
)

// Config is what NewClient needs to reach Pub/Sub.
type Config struct {
	// ProjectID is the Google Cloud project of the topics and subscriptions
	// (required). gpubsub.DetectProjectID asks the client to detect it from
	// the credentials.
	ProjectID string

	// ClientOptions are passed to the client library unchanged: credentials
	// (option.WithCredentialsFile, option.WithTokenSource…), an endpoint
	// (option.WithEndpoint), gRPC dial options. Nothing here is ever logged
	// or put in an error.
	//
	// With no endpoint option and PUBSUB_EMULATOR_HOST set in the
	// environment, the client library connects to that emulator, without
	// TLS or authentication. An explicit option.WithEndpoint wins over the
	// variable.
	ClientOptions []option.ClientOption

	// ClientConfig is passed to gpubsub.NewClientWithConfig (call options,
	// OpenTelemetry tracing). Nil means the library's defaults.
	ClientConfig *gpubsub.ClientConfig
}

func (c Config) validate() error {
	if c.ProjectID == "" {
		return fmt.Errorf("%w: pubsub: Config.ProjectID is empty", broker.ErrInvalidOption)
	}
	return nil
}

// PublishConfig configures a Publisher. The zero value means the client
// library's defaults (gpubsub.DefaultPublishSettings): batches of up to 100
// messages or 1 MB, sent at the latest 10 ms after their first message.
type PublishConfig struct {
	// CountThreshold: a batch is sent when it has this many messages
	// (at most gpubsub.MaxPublishRequestCount, 1000). 0: the default, 100.
	CountThreshold int

	// ByteThreshold: a batch is sent when its messages add up to this many
	// bytes. 0: the default, 1e6.
	ByteThreshold int

	// DelayThreshold: a non-empty batch is sent at the latest this long
	// after its first message. 0: the default, 10 ms. A larger delay gives
	// fuller batches at the cost of Publish latency.
	DelayThreshold time.Duration

	// Timeout bounds how long the client retries one batch. 0: the
	// default, 60 s.
	Timeout time.Duration

	// KeyAttribute, if set, carries OutboundMessage.Key in the attribute of
	// that name instead of the ordering key, and turns ordering off. The
	// library sends the requests of one ordering key one at a time, so
	// keyed messages publish several times faster this way (6-7× with 16
	// keys and the default batching in this package's benchmarks) but
	// lose per-key order. Receivers get the Key back with ReceiveConfig.KeyAttribute.
	// A message may not have its own attribute of that name. Empty: the Key
	// is the ordering key.
	KeyAttribute string

	// Settings, if not nil, replaces CountThreshold … Timeout: it is
	// copied into each topic's gpubsub.Publisher as is (flow control,
	// compression, goroutines). Hedging is refused, because it cannot be
	// combined with ordering keys.
	Settings *gpubsub.PublishSettings
}

func (c PublishConfig) settings() (gpubsub.PublishSettings, error) {
	if c.Settings != nil {
		s := *c.Settings
		if s.HedgingSettings != nil {
			return s, fmt.Errorf("%w: pubsub: PublishSettings.HedgingSettings cannot be combined with ordering keys", broker.ErrInvalidOption)
		}
		return s, nil
	}
	s := gpubsub.DefaultPublishSettings
	switch {
	case c.CountThreshold < 0 || c.CountThreshold > gpubsub.MaxPublishRequestCount:
		return s, fmt.Errorf("%w: pubsub: PublishConfig.CountThreshold %d is outside 0…%d", broker.ErrInvalidOption, c.CountThreshold, gpubsub.MaxPublishRequestCount)
	case c.ByteThreshold < 0:
		return s, fmt.Errorf("%w: pubsub: PublishConfig.ByteThreshold %d is negative", broker.ErrInvalidOption, c.ByteThreshold)
	case c.DelayThreshold < 0:
		return s, fmt.Errorf("%w: pubsub: PublishConfig.DelayThreshold %v is negative", broker.ErrInvalidOption, c.DelayThreshold)
	case c.Timeout < 0:
		return s, fmt.Errorf("%w: pubsub: PublishConfig.Timeout %v is negative", broker.ErrInvalidOption, c.Timeout)
	}
	if c.CountThreshold > 0 {
		s.CountThreshold = c.CountThreshold
	}
	if c.ByteThreshold > 0 {
		s.ByteThreshold = c.ByteThreshold
	}
	if c.DelayThreshold > 0 {
		s.DelayThreshold = c.DelayThreshold
	}
	if c.Timeout > 0 {
		s.Timeout = c.Timeout
	}
	return s, nil
}

// Defaults of ReceiveConfig.
const (
	// DefaultMaxBatch is the largest batch Consumer.NextBatch returns.
	DefaultMaxBatch = 100
	// DefaultMaxWait is how long Consumer.NextBatch waits, after a batch's
	// first message, for more to fill it.
	DefaultMaxWait = 10 * time.Millisecond
	// DefaultBuffer is how many messages a Consumer holds, pulled and not
	// yet handed out, beyond the handler calls the client library has in
	// flight (at most MaxOutstandingMessages).
	DefaultBuffer = 128
	// DefaultAckDeadline is the lease asked for at receipt and at each
	// extension, Pub/Sub's minimum: the client library's own default
	// grows up to 60 s, which is also how late messages in flight on a
	// stream that Receive closed come back.
	DefaultAckDeadline = 10 * time.Second

	// minExtendedDeadline is the shortest lease that survives until the
	// library's first extension, 5 s after receipt.
	minExtendedDeadline = 10 * time.Second
)

// ReceiveConfig configures a Receiver or a Consumer. The zero value means
// the client library's defaults (gpubsub.DefaultReceiveSettings): one
// streaming pull, at most 1000 messages or 1 GB outstanding, leases
// extended for up to 60 minutes.
type ReceiveConfig struct {
	// MaxOutstandingMessages bounds the messages delivered and not yet
	// settled (server side, through the streaming pull's flow control) and
	// the handler calls in flight (client side). 0: the default, 1000 for
	// a Receiver, Buffer + max(Buffer, MaxBatch) for a Consumer; negative:
	// no limit.
	MaxOutstandingMessages int

	// MaxOutstandingBytes is MaxOutstandingMessages in bytes of data. 0: the
	// default, 1e9; negative: no limit.
	MaxOutstandingBytes int

	// NumGoroutines is the number of streaming pulls opened on the
	// subscription. 0: the default, 1. More streams raise throughput; each
	// has its own flow control only if Settings enables it.
	NumGoroutines int

	// MaxExtension is how long the client keeps extending the lease of a
	// message that is not settled yet, counted from its receipt. 0: the
	// default, 60 minutes. Negative disables extension: a message is
	// redelivered once the ack deadline given at receipt (AckDeadline) has
	// passed. Message.Extend succeeds only within this horizon.
	MaxExtension time.Duration

	// AckDeadline, if not zero, fixes the lease the client asks for at
	// receipt and at each extension (the client library's
	// Min/MaxDurationPerAckExtension). Pub/Sub accepts 10 s to 600 s; the
	// in-process pstest server accepts less, down to 1 s, but only with
	// MaxExtension < 0: the library's first extension comes 5 s after
	// receipt. 0: DefaultAckDeadline.
	//
	// It is also the streaming pull's ack deadline: messages the server
	// had sent on a stream but the client library had not read yet when
	// Receive ended (the library stops reading its streams at once) are
	// redelivered after it, not at once. Keep it short.
	AckDeadline time.Duration

	// KeyAttribute, if set, is where Message.Key comes from for messages
	// without an ordering key: the attribute of that name (published by a
	// Publisher with the same PublishConfig.KeyAttribute), which is then
	// left out of Message.Attributes.
	KeyAttribute string

	// DeadLetterTopic is where Message.Reject publishes a copy of the
	// message before acking it. Empty: Reject only acks (the message is
	// dropped). This is independent of the subscription's dead-letter
	// policy, which Pub/Sub applies by itself after MaxDeliveryAttempts.
	DeadLetterTopic string

	// MaxBatch and MaxWait shape Consumer.NextBatch: at most MaxBatch
	// messages, handed out MaxWait after the first one at the latest.
	// 0: DefaultMaxBatch, DefaultMaxWait.
	MaxBatch int
	MaxWait  time.Duration

	// Buffer is how many pulled messages a Consumer holds for its
	// NextMessage and NextBatch calls. 0: DefaultBuffer.
	Buffer int

	// OnError receives the panics of Receiver handlers, as
	// *broker.PanicError with the stack (the message was nacked and
	// Receive went on). Nil: slog.Default at Error level, with the stack
	// and never the panic value, which may hold the payload.
	OnError func(error)

	// Settings, if not nil, is the client library's own ReceiveSettings,
	// used instead of the fields MaxOutstandingMessages … AckDeadline.
	// Its ShutdownOptions are ignored: the Receiver manages shutdown (see
	// the package doc).
	Settings *gpubsub.ReceiveSettings
}

func (c ReceiveConfig) withDefaults() (ReceiveConfig, error) {
	switch {
	case c.NumGoroutines < 0:
		return c, fmt.Errorf("%w: pubsub: ReceiveConfig.NumGoroutines %d is negative", broker.ErrInvalidOption, c.NumGoroutines)
	case c.AckDeadline < 0:
		return c, fmt.Errorf("%w: pubsub: ReceiveConfig.AckDeadline %v is negative", broker.ErrInvalidOption, c.AckDeadline)
	case c.AckDeadline > 0 && c.AckDeadline < time.Second:
		return c, fmt.Errorf("%w: pubsub: ReceiveConfig.AckDeadline %v is under a second", broker.ErrInvalidOption, c.AckDeadline)
	case c.AckDeadline > 0 && c.AckDeadline < minExtendedDeadline && c.MaxExtension >= 0 && c.Settings == nil:
		return c, fmt.Errorf("%w: pubsub: ReceiveConfig.AckDeadline %v needs MaxExtension < 0: the client library first extends a lease 5 s after receipt, so with extension on the lease must be at least %v", broker.ErrInvalidOption, c.AckDeadline, minExtendedDeadline)
	case c.MaxBatch < 0 || c.MaxWait < 0 || c.Buffer < 0:
		return c, fmt.Errorf("%w: pubsub: ReceiveConfig.MaxBatch, MaxWait and Buffer must not be negative", broker.ErrInvalidOption)
	}
	if err := checkKeyAttribute(c.KeyAttribute); err != nil {
		return c, err
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.Buffer == 0 {
		c.Buffer = DefaultBuffer
	}
	return c, nil
}

// receiveSettings is the client library's ReceiveSettings for c.
func (c ReceiveConfig) receiveSettings() gpubsub.ReceiveSettings {
	var s gpubsub.ReceiveSettings
	if c.Settings != nil {
		s = *c.Settings
	} else {
		s = gpubsub.DefaultReceiveSettings
		if c.MaxOutstandingMessages != 0 {
			s.MaxOutstandingMessages = c.MaxOutstandingMessages
		}
		if c.MaxOutstandingBytes != 0 {
			s.MaxOutstandingBytes = c.MaxOutstandingBytes
		}
		if c.NumGoroutines > 0 {
			s.NumGoroutines = c.NumGoroutines
		}
		if c.MaxExtension != 0 {
			s.MaxExtension = c.MaxExtension
		}
		if c.AckDeadline > 0 {
			s.MinDurationPerAckExtension = c.AckDeadline
			s.MaxDurationPerAckExtension = c.AckDeadline
		} else {
			s.MaxDurationPerAckExtension = DefaultAckDeadline
		}
	}
	// Graceful shutdown: the client waits until every message it delivered
	// was settled; the Receiver nacks the ones still held once its
	// handlers returned, so that wait is short (see Receiver.Receive).
	s.ShutdownOptions = &gpubsub.ShutdownOptions{Behavior: gpubsub.ShutdownBehaviorWaitForProcessing, Timeout: -1}
	return s
}

// maxExtension is the lease horizon the client keeps for a message.
func maxExtension(s gpubsub.ReceiveSettings) time.Duration {
	switch {
	case s.MaxExtension < 0:
		return 0
	case s.MaxExtension == 0:
		return gpubsub.DefaultReceiveSettings.MaxExtension
	}
	return s.MaxExtension
}
