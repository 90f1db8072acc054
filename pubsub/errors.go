package pubsub

import (
	"context"
	"errors"
	"fmt"

	gpubsub "cloud.google.com/go/pubsub/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pullkit/broker"
)

// classify wraps err, an error of the client library, with the broker
// sentinel matching its gRPC code, keeping err matchable too ("%w: %w").
// Context errors are returned as they are. what names the operation and its
// resource; it never holds a credential.
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if s, ok := status.FromError(err); !ok || s.Code() == codes.Canceled || s.Code() == codes.DeadlineExceeded {
			return err
		}
	}
	if sentinel := sentinelOf(err); sentinel != nil {
		return fmt.Errorf("%w: pubsub: %s: %w", sentinel, what, err)
	}
	return fmt.Errorf("pubsub: %s: %w", what, err)
}

func sentinelOf(err error) error {
	switch {
	case errors.Is(err, gpubsub.ErrOversizedMessage):
		return broker.ErrMessageTooLarge
	case errors.Is(err, gpubsub.ErrPublisherStopped):
		return broker.ErrClosed
	}
	s, ok := status.FromError(err)
	if !ok {
		return nil
	}
	switch s.Code() {
	case codes.NotFound:
		return broker.ErrNotFound
	case codes.Unauthenticated, codes.PermissionDenied:
		return broker.ErrUnauthenticated
	case codes.Unavailable:
		return broker.ErrUnavailable
	case codes.InvalidArgument:
		return broker.ErrInvalidOption
	}
	return nil
}
