package broker

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Publisher opens topics for publishing. Implementations also have
// Close() error, which flushes what was accepted and is idempotent.
type Publisher interface {
	// Topic returns a handle on the named topic, reused across calls where
	// the backend's handles are expensive. An empty name is ErrInvalidTopic.
	Topic(name string) (Topic, error)
}

// TransactionalPublisher publishes atomically: messages published between
// Begin and Commit become visible together, or not at all after Abort.
type TransactionalPublisher interface {
	Publisher
	// Begin starts a transaction; publishing before Begin is an error.
	Begin() error
	// Commit makes the transaction's messages visible. It reports whether the
	// transaction committed; false with a nil error means it was aborted.
	Commit(ctx context.Context) (bool, error)
	// Abort discards the transaction's messages. It reports whether there was
	// a transaction to abort.
	Abort(ctx context.Context) (bool, error)
}

// Topic publishes to one topic. Its methods are safe for concurrent use.
type Topic interface {
	// Publish publishes one message and blocks until the broker confirms it,
	// ctx ends or publishing fails. Invalid messages (see ValidateOutbound
	// and the backend's limits) are refused before anything is sent.
	Publish(ctx context.Context, msg OutboundMessage) error

	// BatchPublish publishes messages and blocks until the broker confirmed
	// each, ctx ended or publishing failed. When not all were confirmed it
	// returns a *BatchError saying which were sent, which failed and which
	// are unknown. If any message is invalid, none is sent.
	BatchPublish(ctx context.Context, msgs ...OutboundMessage) error
}

// OutboundMessage is a message to publish.
type OutboundMessage struct {
	// Key identifies the payload (not the message): it picks the partition
	// on logs and the ordering key on queues that have one.
	Key string

	// Data is the payload; empty is allowed.
	Data []byte

	// Attributes become the broker's headers or properties. Values must be
	// one of the types AttributeSupported accepts; backends convert them
	// as their package docs say.
	Attributes map[string]any
}

// AttributeSupported reports whether v is an attribute value every backend
// can carry: string, []byte, bool, any sized int, uint or float,
// time.Time or time.Duration. nil is not.
func AttributeSupported(v any) bool {
	switch v.(type) {
	case string, []byte, bool,
		int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64,
		float32, float64, time.Time, time.Duration:
		return true
	}
	return false
}

// AttributeString is the text form of a supported attribute value, for
// backends whose headers or properties carry strings only: a string as is,
// []byte in standard base64, a bool as "true" or "false", integers in
// decimal, floats in the shortest form that reads back exactly
// (strconv.FormatFloat 'g', -1), a time.Time in UTC as RFC 3339 with
// nanoseconds, a time.Duration as Duration.String ("1m30s"). A nil or
// unsupported value is an error wrapping ErrInvalidAttribute; the caller
// adds the key.
func AttributeString(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case []byte:
		return base64.StdEncoding.EncodeToString(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.FormatInt(int64(v), 10), nil
	case int8:
		return strconv.FormatInt(int64(v), 10), nil
	case int16:
		return strconv.FormatInt(int64(v), 10), nil
	case int32:
		return strconv.FormatInt(int64(v), 10), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint8:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint16:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint32:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano), nil
	case time.Duration:
		return v.String(), nil
	case nil:
		return "", fmt.Errorf("%w: nil value", ErrInvalidAttribute)
	}
	return "", fmt.Errorf("%w: unsupported type %T", ErrInvalidAttribute, v)
}

// ValidateAttributes checks every key and value of attrs and returns an
// error wrapping ErrInvalidAttribute that names the first bad key (in no
// particular order), or nil.
func ValidateAttributes(attrs map[string]any) error {
	for k, v := range attrs {
		if k == "" {
			return fmt.Errorf("%w: empty key", ErrInvalidAttribute)
		}
		if v == nil {
			return fmt.Errorf("%w: key %q: nil value", ErrInvalidAttribute, k)
		}
		if !AttributeSupported(v) {
			return fmt.Errorf("%w: key %q: unsupported type %T", ErrInvalidAttribute, k, v)
		}
	}
	return nil
}

// ValidateTopicName returns an error wrapping ErrInvalidTopic if name is empty.
// Backends add their own rules.
func ValidateTopicName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidTopic)
	}
	return nil
}

// ValidateOutbound checks what every backend requires of a message.
func ValidateOutbound(msg OutboundMessage) error {
	return ValidateAttributes(msg.Attributes)
}

// publishWorkers bounds SimplePublisherParallelization's goroutines.
const publishWorkers = 16

// SimplePublisherParallelization publishes msgs through topic.Publish with at
// most 16 concurrent calls, for backends without a native batch. It
// validates every message first and sends none if any is invalid. When not
// every message was confirmed it returns a *BatchError; a message whose
// Publish ended with ctx's error is PublishUnknown, one never attempted
// (ctx ended first) is PublishFailed.
func SimplePublisherParallelization(ctx context.Context, topic Topic, msgs ...OutboundMessage) error {
	if be := ValidateBatch(msgs); be != nil {
		return be
	}
	be := NewBatchError(len(msgs))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next int
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next == len(msgs) {
			return 0, false
		}
		next++
		return next - 1, true
	}
	workers := min(publishWorkers, len(msgs))
	for range workers {
		wg.Go(func() {
			for {
				i, ok := take()
				if !ok {
					return
				}
				if err := ctx.Err(); err != nil {
					be.Fail(i, err)
					continue
				}
				err := topic.Publish(ctx, msgs[i])
				switch {
				case err == nil:
				case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
					be.Unknown(i, err)
				default:
					be.Fail(i, err)
				}
			}
		})
	}
	wg.Wait()
	return be.OrNil()
}

// ValidateBatch runs ValidateOutbound on every message. If any is invalid it
// returns a *BatchError marking every message failed (the invalid ones with
// their reason), so that a batch is never half-published; otherwise nil.
func ValidateBatch(msgs []OutboundMessage) *BatchError {
	var be *BatchError
	for i, m := range msgs {
		if err := ValidateOutbound(m); err != nil {
			if be == nil {
				be = NewBatchError(len(msgs))
			}
			be.Fail(i, err)
		}
	}
	if be == nil {
		return nil
	}
	for i := range msgs {
		if be.Errs[i] == nil {
			be.Fail(i, fmt.Errorf("not sent: another message of the batch is invalid"))
		}
	}
	return be
}
