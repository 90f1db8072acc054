package pulsar

import (
	"context"

	pc "github.com/apache/pulsar-client-go/pulsar"
)

// receiveFrom takes one message from a consumer's channel for the queue and
// log consumers alike. With wait false it returns nil at once if none is
// ready; with wait true it blocks until a message arrives, ctx ends or stop
// is closed. An ended ctx or a closed consumer wins over a ready message,
// so calls after Close or with a dead context fail even when messages wait.
func receiveFrom(ctx context.Context, msgs <-chan pc.ConsumerMessage, stop <-chan struct{}, closedErr func() error, wait bool) (pc.Message, error) {
	if !wait {
		select {
		case cm, ok := <-msgs:
			if !ok {
				return nil, closedErr()
			}
			return cm.Message, nil
		default:
			return nil, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case <-stop:
		return nil, closedErr()
	default:
	}
	select {
	case cm, ok := <-msgs:
		if !ok {
			return nil, closedErr()
		}
		return cm.Message, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-stop:
		return nil, closedErr()
	}
}
