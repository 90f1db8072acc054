package broker

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors. Every error this module returns for one of these causes
// wraps the sentinel, so callers match with errors.Is and still read the detail
// in the message ("broker: invalid attribute: key "x": nil value").
var (
	// ErrClosed: the consumer, publisher or broker was closed before or during the call.
	// Sequences from Messages and Records end quietly when they meet it.
	ErrClosed = errors.New("broker: closed")

	// ErrInvalidAttribute: an attribute key or value cannot be carried (nil value,
	// unsupported type, empty key, or a backend limit exceeded).
	ErrInvalidAttribute = errors.New("broker: invalid attribute")

	// ErrMessageTooLarge: a payload exceeds the backend's maximum message size.
	ErrMessageTooLarge = errors.New("broker: message too large")

	// ErrInvalidTopic: a topic, subscription or group name is empty or malformed.
	ErrInvalidTopic = errors.New("broker: invalid topic name")

	// ErrNotFound: the topic, subscription, stream or queue does not exist.
	ErrNotFound = errors.New("broker: not found")

	// ErrAlreadySettled: Settle or AckContext was called on a message or record
	// that was already acked, nacked or rejected. Ack and Nack ignore it.
	ErrAlreadySettled = errors.New("broker: already settled")

	// ErrUnsupported: the backend does not offer this operation (for example
	// Extend on a broker without ack deadlines, or Nack on a Record).
	ErrUnsupported = errors.New("broker: unsupported operation")

	// ErrPartitionRevoked: a record's partition was taken from this consumer
	// (a rebalance) before the record was acked; the ack is refused, because the
	// partition's new owner will process it again from the last commit.
	ErrPartitionRevoked = errors.New("broker: partition revoked")

	// ErrInvalidOption: a configuration value is out of range or conflicts with another.
	ErrInvalidOption = errors.New("broker: invalid option")

	// ErrUnauthenticated: the broker refused the credentials. Backends never put
	// the secret itself in the error.
	ErrUnauthenticated = errors.New("broker: authentication failed")

	// ErrUnavailable: the broker could not be reached in time.
	ErrUnavailable = errors.New("broker: unavailable")
)

// PublishStatus says what became of one message of a BatchPublish.
type PublishStatus uint8

const (
	// PublishFailed: the message was certainly not published (invalid, refused
	// by the broker, or never attempted because the batch stopped early).
	PublishFailed PublishStatus = iota
	// PublishSent: the broker confirmed the message.
	PublishSent
	// PublishUnknown: the message was handed to the broker but no confirmation
	// came back (for example the context ended while waiting). It may or may not
	// have been published; retrying may duplicate it.
	PublishUnknown
)

func (s PublishStatus) String() string {
	switch s {
	case PublishSent:
		return "sent"
	case PublishUnknown:
		return "unknown"
	default:
		return "failed"
	}
}

// BatchError is returned by Topic.BatchPublish when not every message was
// confirmed. Status[i] and Errs[i] describe the i-th message of the batch;
// Errs[i] is nil exactly when Status[i] is PublishSent.
//
// errors.Is and errors.As see through it to every distinct cause, so
// errors.Is(err, ErrInvalidAttribute) holds if any message was invalid.
type BatchError struct {
	Status []PublishStatus
	Errs   []error
}

// NewBatchError returns a BatchError for n messages, all marked sent; the
// caller marks the others with Fail and Unknown. It is a helper for backends.
func NewBatchError(n int) *BatchError {
	e := &BatchError{Status: make([]PublishStatus, n), Errs: make([]error, n)}
	for i := range e.Status {
		e.Status[i] = PublishSent
	}
	return e
}

// Fail marks message i as not published, because of err.
func (e *BatchError) Fail(i int, err error) { e.Status[i], e.Errs[i] = PublishFailed, err }

// Unknown marks message i as possibly published, with err explaining why it is unconfirmed.
func (e *BatchError) Unknown(i int, err error) { e.Status[i], e.Errs[i] = PublishUnknown, err }

// Sent marks message i as confirmed.
func (e *BatchError) Sent(i int) { e.Status[i], e.Errs[i] = PublishSent, nil }

// Indexes returns the indexes of the messages whose status is s, in order.
func (e *BatchError) Indexes(s PublishStatus) []int {
	var out []int
	for i, st := range e.Status {
		if st == s {
			out = append(out, i)
		}
	}
	return out
}

// OrNil returns nil if every message was sent, and e otherwise. Backends end
// BatchPublish with "return be.OrNil()".
func (e *BatchError) OrNil() error {
	for _, st := range e.Status {
		if st != PublishSent {
			return e
		}
	}
	return nil
}

func (e *BatchError) Error() string {
	var b strings.Builder
	failed, unknown := len(e.Indexes(PublishFailed)), len(e.Indexes(PublishUnknown))
	fmt.Fprintf(&b, "broker: batch publish: %d of %d messages not confirmed (%d failed, %d unknown)",
		failed+unknown, len(e.Status), failed, unknown)
	for i, err := range e.Errs {
		if err != nil {
			b.WriteString("; first: message ")
			b.WriteString(strconv.Itoa(i))
			b.WriteString(": ")
			b.WriteString(err.Error())
			break
		}
	}
	return b.String()
}

// Unwrap returns the causes, so errors.Is matches any of them.
func (e *BatchError) Unwrap() []error {
	out := make([]error, 0, len(e.Errs))
	for _, err := range e.Errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// PanicError reports a handler that panicked inside a receiver. The receiver
// recovered, nacked the message (or left the record uncommitted) and went on.
type PanicError struct {
	Value any    // what the handler passed to panic
	Stack []byte // the handler goroutine's stack at the panic
}

func (e *PanicError) Error() string { return fmt.Sprintf("broker: handler panicked: %v", e.Value) }

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
