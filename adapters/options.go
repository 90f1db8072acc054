package adapters

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"time"

	"github.com/pullkit/broker"
)

// Defaults for the options. A value below 1 (or, for MaxWait, not positive)
// passed to an option means "use the default": every buffer stays bounded.
const (
	// DefaultMaxBatch is the largest batch a batching adapter builds.
	DefaultMaxBatch = 100
	// DefaultMaxWait bounds how long a batch waits for more items after its first one.
	DefaultMaxWait = 100 * time.Millisecond
	// DefaultBuffer is the capacity of each channel an adapter owns.
	DefaultBuffer = 128
	// DefaultMaxPending bounds the records a record receiver has pulled and
	// not yet committed.
	DefaultMaxPending = 4096
)

// Option configures an adapter. Options that do not apply to an adapter are
// ignored by it (a stream has no workers, for example).
type Option func(*config)

type config struct {
	maxBatch   int
	maxWait    time.Duration
	buffer     int
	workers    int
	maxPending int
	byKey      bool
	onError    func(error)

	extendEvery, extendMax time.Duration
}

func newConfig(opts []Option) config {
	c := config{
		maxBatch:   DefaultMaxBatch,
		maxWait:    DefaultMaxWait,
		buffer:     DefaultBuffer,
		workers:    runtime.GOMAXPROCS(0),
		maxPending: DefaultMaxPending,
		onError:    logError,
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// WithMaxBatch sets the largest batch a batching adapter builds (default
// DefaultMaxBatch). Native batches of a batched source pass through
// unchanged, whatever their size.
func WithMaxBatch(n int) Option {
	return func(c *config) {
		if n >= 1 {
			c.maxBatch = n
		}
	}
}

// WithMaxWait bounds the latency a batch adds: once its first item arrived,
// a batch is handed out when it is full or d has passed, whichever comes
// first (default DefaultMaxWait). It is not an idle timer: a steady trickle of
// items does not keep a batch open.
func WithMaxWait(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.maxWait = d
		}
	}
}

// WithBuffer sets the capacity of every channel the adapter owns: a stream's
// output channel, a receiver's worker channels, the hand-off from a receiver
// source (default DefaultBuffer). Items in these channels were pulled and are
// released (nacked, or for records not committed) on shutdown; a larger
// buffer raises throughput and the number of messages whose ack deadline
// runs while they wait.
func WithBuffer(n int) Option {
	return func(c *config) {
		if n >= 1 {
			c.buffer = n
		}
	}
}

// WithWorkers sets how many goroutines a receiver runs handlers on (default
// runtime.GOMAXPROCS(0) at the time the adapter is built).
func WithWorkers(n int) Option {
	return func(c *config) {
		if n >= 1 {
			c.workers = n
		}
	}
}

// WithMaxPending bounds the records a record receiver holds that were pulled
// but not yet committed (default DefaultMaxPending). When it is reached the
// receiver stops pulling until acks let the watermark advance: a record that
// is never acked therefore stalls its receiver instead of growing memory
// without bound. A batch may overshoot it by its size.
func WithMaxPending(n int) Option {
	return func(c *config) {
		if n >= 1 {
			c.maxPending = n
		}
	}
}

// WithKeyOrder makes a record receiver keep order per key instead of per
// partition: records with one key (in one partition) reach the handler one at
// a time and in offset order, while different keys of a partition may be
// handled in parallel. Commits still follow the contiguous watermark of the
// partition. Ignored by queue receivers, whose messages have no order.
func WithKeyOrder() Option {
	return func(c *config) { c.byKey = true }
}

// WithOnError sets the callback a receiver reports handler panics to (as a
// *broker.PanicError). It is called from the worker goroutine that recovered
// the panic, so it must be safe for concurrent use and should not block.
// The default logs with slog.Default at Error level, without the payload.
func WithOnError(f func(error)) Option {
	return func(c *config) {
		if f != nil {
			c.onError = f
		}
	}
}

// WithAutoExtend makes a queue receiver keep the messages its handlers are
// working on leased: every `every` it calls Message.Extend on each, asking
// for 3×every more, until the handler returns or max has passed since the
// handler got the message (then the lease is left to expire, so a stuck
// handler cannot hold a message forever; max < every means 1 hour). Pick
// `every` well under the backend's ack deadline or lock duration. Failed
// extensions (except on settled messages) go to WithOnError. Off by
// default. A backend that cannot extend is reported once, as
// an error wrapping broker.ErrUnsupported. Ignored by record receivers: a log
// has no leases.
func WithAutoExtend(every, max time.Duration) Option {
	return func(c *config) {
		if every > 0 {
			if max < every {
				max = time.Hour
			}
			c.extendEvery, c.extendMax = every, max
		}
	}
}

func logError(err error) {
	// Only the error (panic value and stack): payloads may hold personal
	// data and never reach a log line.
	attrs := []slog.Attr{slog.String("error", err.Error())}
	if pe, ok := errors.AsType[*broker.PanicError](err); ok {
		attrs = append(attrs, slog.String("stack", string(pe.Stack)))
	}
	slog.Default().LogAttrs(context.Background(), slog.LevelError, "adapters: handler failed", attrs...)
}
