package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/pullkit/broker"
)

// Defaults of Config's zero values.
const (
	// DefaultMaxMessageBytes is the largest key+value+headers a record may
	// carry unless Config.MaxMessageBytes says otherwise: Kafka's "1 MB",
	// which leaves room for the record batch overhead under the broker's
	// default message.max.bytes (1048588).
	DefaultMaxMessageBytes = 1_000_000

	// DefaultDialTimeout bounds one connection attempt.
	DefaultDialTimeout = 10 * time.Second

	// DefaultMaxBatch is the most records one NextBatch returns.
	DefaultMaxBatch = 500

	// DefaultCloseTimeout bounds the final commit (log) or ack flush
	// (queue) that Close performs.
	DefaultCloseTimeout = 10 * time.Second
)

// StartOffset says where a group that has committed nothing starts.
type StartOffset uint8

const (
	// StartEarliest reads a partition from its first record. It is the
	// zero value for consumer groups (Kafka's own default is latest: this
	// package prefers not to skip records a new group was meant to see).
	StartEarliest StartOffset = iota + 1
	// StartLatest reads only records appended after the group starts.
	StartLatest
)

// SASL holds credentials for SASL authentication. The password never appears
// in an error or log line of this package.
type SASL struct {
	// Mechanism is "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512".
	Mechanism string
	User      string
	Password  string
}

// String hides the password, so a SASL printed with %v leaks nothing.
func (s SASL) String() string { return fmt.Sprintf("SASL{%s %s ***}", s.Mechanism, s.User) }

// Config is what every client of this package needs: where the cluster is
// and how to talk to it. The zero value of each optional field means its
// documented default.
type Config struct {
	// Brokers are the seed brokers, "host:port". Required.
	Brokers []string

	// ClientID names the client in the brokers' logs and quotas.
	// Default "pullkit-broker".
	ClientID string

	// TLS, when not nil, makes every connection use TLS with this config.
	TLS *tls.Config

	// SASL, when not nil, authenticates every connection. Combine with TLS
	// for anything but PLAIN on a trusted network.
	SASL *SASL

	// DialTimeout bounds one connection attempt. Default DefaultDialTimeout.
	// Constructors also honour their context: a cluster that cannot be
	// reached before it ends is ErrUnavailable.
	DialTimeout time.Duration

	// MaxMessageBytes is the largest key+value+headers a published record
	// may have; larger ones are refused with broker.ErrMessageTooLarge
	// before anything is sent. Default DefaultMaxMessageBytes. Raising it
	// needs the broker's and topic's max.message.bytes raised too, or the
	// broker refuses the record (also reported as ErrMessageTooLarge).
	MaxMessageBytes int

	// DisableIdempotence turns off idempotent producing (on by default, so
	// that a retried produce never duplicates a record). Transactional
	// publishers are always idempotent.
	DisableIdempotence bool

	// StartOffset is where a consumer group with no commit starts.
	// Default StartEarliest. Share groups: see QueueOptions.StartOffset.
	StartOffset StartOffset

	// ReadUncommitted makes consumers see records of open and aborted
	// transactions. By default consumers read committed records only.
	ReadUncommitted bool

	// FetchMaxBytes and FetchMaxPartitionBytes bound one fetch response and
	// one partition's share of it; 0 keeps franz-go's defaults (50 MiB and
	// 1 MiB). FetchMaxWait is how long the broker may hold a fetch waiting
	// for data; 0 keeps franz-go's 5 s (Close and ctx interrupt it anyway).
	FetchMaxBytes          int32
	FetchMaxPartitionBytes int32
	FetchMaxWait           time.Duration

	// Opts are franz-go options applied after this package's own, so they
	// win: anything Config does not cover (compression, partitioner,
	// balancers, hooks, logging). Options that change the semantics this
	// package relies on (kgo.ConsumerGroup, kgo.ShareGroup,
	// kgo.ConsumeTopics, commits, rebalance callbacks) must not be passed,
	// nor kgo.WithPools: received records share the fetched memory, which
	// pools would recycle under them.
	Opts []kgo.Opt
}

func (c Config) validate() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("%w: Config.Brokers is empty", broker.ErrInvalidOption)
	}
	if c.MaxMessageBytes < 0 {
		return fmt.Errorf("%w: Config.MaxMessageBytes %d is negative", broker.ErrInvalidOption, c.MaxMessageBytes)
	}
	if c.StartOffset > StartLatest {
		return fmt.Errorf("%w: Config.StartOffset %d is unknown", broker.ErrInvalidOption, c.StartOffset)
	}
	if c.SASL != nil {
		switch c.SASL.Mechanism {
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		default:
			return fmt.Errorf("%w: SASL mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", broker.ErrInvalidOption, c.SASL.Mechanism)
		}
	}
	return nil
}

func (c Config) maxMessageBytes() int {
	if c.MaxMessageBytes > 0 {
		return c.MaxMessageBytes
	}
	return DefaultMaxMessageBytes
}

// kgoOpts turns the config into franz-go options common to every client.
func (c Config) kgoOpts() []kgo.Opt {
	id := c.ClientID
	if id == "" {
		id = "pullkit-broker"
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(id),
	}
	if c.SASL != nil {
		opts = append(opts, kgo.SASL(c.SASL.mechanism()))
	}
	return opts
}

func (c Config) consumerOpts() []kgo.Opt {
	var opts []kgo.Opt
	if !c.ReadUncommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	if c.FetchMaxBytes > 0 {
		opts = append(opts, kgo.FetchMaxBytes(c.FetchMaxBytes))
	}
	if c.FetchMaxPartitionBytes > 0 {
		opts = append(opts, kgo.FetchMaxPartitionBytes(c.FetchMaxPartitionBytes))
	}
	if c.FetchMaxWait > 0 {
		opts = append(opts, kgo.FetchMaxWait(c.FetchMaxWait))
	}
	return opts
}

func (s *SASL) mechanism() sasl.Mechanism {
	user, pass := s.User, s.Password
	switch s.Mechanism {
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
	default:
		return plain.Auth{User: user, Pass: pass}.AsMechanism()
	}
}

// newClient builds a franz-go client and checks that the cluster answers
// before ctx ends, so a wrong address or wrong credentials fail the
// constructor instead of the first call.
func newClient(ctx context.Context, cfg Config, opts []kgo.Opt) (*kgo.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d := &dialer{tls: cfg.TLS}
	d.net.Timeout = cfg.DialTimeout
	if d.net.Timeout <= 0 {
		d.net.Timeout = DefaultDialTimeout
	}
	d.arm(ctx)
	defer d.disarm()
	sasl := cfg.SASL != nil
	// Ours first: the caller's Opts may replace the dialer.
	opts = append([]kgo.Opt{kgo.Dialer(d.dial)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", broker.ErrInvalidOption, err)
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		e := classify(ctx, "connect", err)
		var firstRead *kgo.ErrFirstReadEOF
		if sasl && errors.Is(err, io.EOF) && !errors.As(err, &firstRead) {
			// Some brokers answer bad credentials by closing the
			// connection in the middle of the SASL exchange.
			e = fmt.Errorf("kafka: connect: %w: the broker closed the connection during SASL authentication (wrong user, password or mechanism?): %w", broker.ErrUnauthenticated, err)
		}
		if ctx.Err() != nil && !errors.Is(e, broker.ErrUnauthenticated) {
			// Joined with ctx's error so both matches hold.
			return nil, unavailable("connect", ctx.Err())
		}
		return nil, e
	}
	return cl, nil
}
