package jetstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/pullkit/broker"
)

// mapErr classifies a nats.go error under this module's sentinels, keeping
// the native error matchable too ("%w: %w"). Context errors and nil pass
// through unchanged.
func mapErr(err error) error {
	var sentinel error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, natsjs.ErrStreamNotFound), errors.Is(err, natsjs.ErrConsumerNotFound),
		errors.Is(err, natsjs.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, natsjs.ErrConsumerDeleted):
		sentinel = broker.ErrNotFound
	case errors.Is(err, nats.ErrMaxPayload):
		sentinel = broker.ErrMessageTooLarge
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, natsjs.ErrMsgIteratorClosed):
		sentinel = broker.ErrClosed
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired),
		errors.Is(err, nats.ErrAuthRevoked):
		sentinel = broker.ErrUnauthenticated
	case errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoServers),
		errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, natsjs.ErrJetStreamNotEnabled),
		errors.Is(err, natsjs.ErrNoHeartbeat):
		sentinel = broker.ErrUnavailable
	default:
		// Other JetStream API errors by their HTTP-like code: a request the
		// server refused (a consumer update it does not allow, a bad
		// config), something missing, or JetStream unavailable.
		var apiErr *natsjs.APIError
		if !errors.As(err, &apiErr) {
			return err
		}
		switch {
		case apiErr.ErrorCode == natsjs.JSErrCodeConsumerCreate:
			// The server refused the consumer configuration (a change it
			// cannot apply to an existing consumer, a bad value).
			sentinel = broker.ErrInvalidOption
		case apiErr.Code == 404:
			sentinel = broker.ErrNotFound
		case apiErr.Code == 503:
			sentinel = broker.ErrUnavailable
		case apiErr.Code >= 400 && apiErr.Code < 500:
			sentinel = broker.ErrInvalidOption
		default:
			return err
		}
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}
