package pulsar

import (
	"context"
	"errors"
	"fmt"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/pullkit/broker"
)

// classify wraps a client error with the broker sentinel that matches its
// cause, keeping the client error matchable too ("%w: %w"). Context errors
// are returned as they are. what says what failed; it never holds secrets
// (the client's own messages never include the token).
func classify(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, pc.ErrProducerClosed) {
		return fmt.Errorf("%w: %s: %w", broker.ErrClosed, what, err)
	}
	if errors.Is(err, pc.ErrMessageTooLarge) {
		return fmt.Errorf("%w: %s: %w", broker.ErrMessageTooLarge, what, err)
	}
	var pe *pc.Error
	if errors.As(err, &pe) {
		var s error
		switch pe.Result() {
		case pc.InvalidTopicName:
			s = broker.ErrInvalidTopic
		case pc.TopicNotFound, pc.SubscriptionNotFound, pc.ConsumerNotFound:
			s = broker.ErrNotFound
		case pc.AuthenticationError, pc.AuthorizationError, pc.ErrorGettingAuthenticationData:
			s = broker.ErrUnauthenticated
		case pc.TimeoutError, pc.LookupError, pc.ConnectError, pc.NotConnectedError, pc.ServiceUnitNotReady,
			pc.TooManyLookupRequestException:
			s = broker.ErrUnavailable
		case pc.MessageTooBig:
			s = broker.ErrMessageTooLarge
		case pc.ConsumerClosed, pc.ProducerClosed, pc.AlreadyClosedError:
			s = broker.ErrClosed
		case pc.InvalidConfiguration:
			s = broker.ErrInvalidOption
		}
		if s != nil {
			return fmt.Errorf("%w: %s: %w", s, what, err)
		}
	}
	return fmt.Errorf("pulsar: %s: %w", what, err)
}
