package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pullkit/broker"
)

// classify wraps a franz-go or Kafka error with the broker sentinel that
// names its cause, keeping the original matchable too ("%w: %w"). Kafka
// error codes map as the package doc lists; ctx's own error is kept as is
// when nothing else went wrong, and joined with ErrUnavailable when the
// cluster could not be reached before ctx ended.
func classify(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var sentinel error
	switch {
	case errors.Is(err, kgo.ErrClientClosed):
		sentinel = broker.ErrClosed
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		sentinel = broker.ErrMessageTooLarge
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID),
		errors.Is(err, kerr.GroupIDNotFound), errors.Is(err, kerr.TransactionalIDNotFound):
		sentinel = broker.ErrNotFound
	case errors.Is(err, kerr.InvalidTopicException):
		sentinel = broker.ErrInvalidTopic
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.IllegalSaslState),
		errors.Is(err, kerr.UnsupportedSaslMechanism),
		errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed),
		errors.Is(err, kerr.ClusterAuthorizationFailed), errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		sentinel = broker.ErrUnauthenticated
	case isUnreachable(err):
		sentinel = broker.ErrUnavailable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		if ctx != nil && ctx.Err() != nil {
			// The caller's ctx ended: return its error, which callers
			// match with errors.Is(err, ctx.Err()).
			return fmt.Errorf("kafka: %s: %w", op, err)
		}
		sentinel = broker.ErrUnavailable
	}
	if sentinel == nil {
		return fmt.Errorf("kafka: %s: %w", op, err)
	}
	return fmt.Errorf("kafka: %s: %w: %w", op, sentinel, err)
}

// isUnreachable reports a failure to reach a broker at all (refused or
// timed-out dial, DNS, a closed connection before any response).
func isUnreachable(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	var eof *kgo.ErrFirstReadEOF
	return errors.As(err, &eof)
}

// unavailable joins ErrUnavailable with ctx's error, for a call that never
// reached the cluster before ctx ended.
func unavailable(op string, ctxErr error) error {
	return fmt.Errorf("kafka: %s: %w: no broker answered: %w", op, broker.ErrUnavailable, ctxErr)
}
