package servicebus

import (
	"context"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"

	"github.com/pullkit/broker"
)

// wrapErr classifies an azservicebus or go-amqp error under the sentinel of
// package broker that fits, keeping the native error matchable too
// (errors.As(err, **azservicebus.Error) still works). Context errors are
// returned as they are. op says what failed ("send to orders").
//
// Neither the SDK nor go-amqp puts the shared access key in an error (the
// token they send is a signature), and nothing here adds it.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("servicebus: %s: %w", op, err)
	}
	if s := sentinel(err); s != nil {
		return fmt.Errorf("servicebus: %s: %w: %w", op, s, err)
	}
	return fmt.Errorf("servicebus: %s: %w", op, err)
}

func sentinel(err error) error {
	if errors.Is(err, azservicebus.ErrMessageTooLarge) {
		return broker.ErrMessageTooLarge
	}
	var sbErr *azservicebus.Error
	if errors.As(err, &sbErr) {
		switch sbErr.Code {
		case azservicebus.CodeUnauthorizedAccess:
			return broker.ErrUnauthenticated
		case azservicebus.CodeNotFound:
			return broker.ErrNotFound
		case azservicebus.CodeConnectionLost, azservicebus.CodeTimeout:
			return broker.ErrUnavailable
		case azservicebus.CodeClosed:
			return broker.ErrClosed
		}
	}
	// Some refusals reach us as the raw AMQP error (a link attach refused
	// with amqp:not-found, see sbtest's doc).
	var amqpErr *amqp.Error
	if errors.As(err, &amqpErr) {
		switch amqpErr.Condition {
		case amqp.ErrCondNotFound:
			return broker.ErrNotFound
		case amqp.ErrCondUnauthorizedAccess:
			return broker.ErrUnauthenticated
		case amqp.ErrCondMessageSizeExceeded:
			return broker.ErrMessageTooLarge
		}
	}
	var connErr *amqp.ConnError
	if errors.As(err, &connErr) {
		return broker.ErrUnavailable
	}
	return nil
}
