package inmem

import (
	"fmt"
	"time"

	"github.com/pullkit/broker"
)

// Defaults of New, Subscribe and JoinGroup.
const (
	DefaultPartitions     = 4
	DefaultMaxMessageSize = 1 << 20 // 1 MiB
	DefaultAckDeadline    = 30 * time.Second
	DefaultMaxBatch       = 100
)

// MaxPartitions is the most partitions a topic may have. Every topic, group
// and log consumer keeps state per partition, so a count far beyond what a
// test needs would exhaust memory (or overflow the slice length) instead of
// failing with an error.
const MaxPartitions = 1 << 16

// Option configures a Broker.
type Option func(*Broker)

// WithClock makes the broker read time and run its timers (ack deadlines,
// delayed nacks) on c instead of the system clock. A nil c keeps the system
// clock. Pass a FakeClock to test deadlines without sleeping.
func WithClock(c Clock) Option {
	return func(b *Broker) {
		if c != nil {
			b.clock = c
		}
	}
}

// WithDefaultPartitions sets how many partitions a topic gets when it is
// created on first use (default 4). n < 1 or n > MaxPartitions keeps the
// default: New has no error to report it with, and a broker that cannot
// create topics would only fail later and further from the mistake.
func WithDefaultPartitions(n int) Option {
	return func(b *Broker) {
		if n >= 1 && n <= MaxPartitions {
			b.defaultPartitions = n
		}
	}
}

// WithMaxMessageSize sets the largest Data, in bytes, that Publish accepts
// (default 1 MiB); larger payloads fail with broker.ErrMessageTooLarge. Key
// and attributes do not count. n < 1 keeps the default.
func WithMaxMessageSize(n int) Option {
	return func(b *Broker) {
		if n >= 1 {
			b.maxMessageSize = n
		}
	}
}

// QueueConfig configures one QueueConsumer. The zero value is usable.
type QueueConfig struct {
	// AckDeadline is how long a delivered message may stay unsettled before
	// it is delivered again. 0 means DefaultAckDeadline (30s); negative
	// means no deadline, so only Nack and Close bring a message back, and
	// Message.Extend returns broker.ErrUnsupported.
	AckDeadline time.Duration

	// Poison says what happens to messages that are rejected or delivered
	// too often, and the default Nack delay. The policy of the consumer that
	// held a message decides its fate. The zero value redelivers forever.
	Poison broker.PoisonPolicy

	// MaxBatch is the most messages NextBatch returns. 0 means
	// DefaultMaxBatch (100); negative is an error.
	MaxBatch int
}

func (c QueueConfig) withDefaults() (QueueConfig, error) {
	if err := c.Poison.Validate(); err != nil {
		return c, err
	}
	if c.MaxBatch < 0 {
		return c, fmt.Errorf("%w: QueueConfig.MaxBatch %d is negative", broker.ErrInvalidOption, c.MaxBatch)
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.AckDeadline == 0 {
		c.AckDeadline = DefaultAckDeadline
	}
	return c, nil
}

// LogConfig configures one LogConsumer. The zero value is usable.
type LogConfig struct {
	// StartAtEnd makes a group that does not exist yet start at the end of
	// each partition (only records appended after it was created are read)
	// instead of at offset 0. It has no effect on an existing group, whose
	// consumers resume from its commits.
	StartAtEnd bool

	// MaxBatch is the most records NextBatch returns. 0 means
	// DefaultMaxBatch (100); negative is an error.
	MaxBatch int
}

func (c LogConfig) withDefaults() (LogConfig, error) {
	if c.MaxBatch < 0 {
		return c, fmt.Errorf("%w: LogConfig.MaxBatch %d is negative", broker.ErrInvalidOption, c.MaxBatch)
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	return c, nil
}
