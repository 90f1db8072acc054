package broker

import (
	"context"
	"errors"
	"iter"
)

// MessageIterator pulls queue messages one at a time.
//
//   - NextMessage blocks until a message arrives, ctx ends (it returns an
//     error matching ctx.Err()), the iterator is closed (ErrClosed) or the
//     broker fails.
//   - A canceled call loses nothing: a message the backend had not handed
//     out is delivered by a later call or redelivered by the broker.
//   - Calls must not be concurrent, unless the backend's doc says otherwise;
//     the adapters' receivers call it from one goroutine and fan out.
//   - The caller owns the returned message and must settle it.
type MessageIterator interface {
	NextMessage(ctx context.Context) (Message, error)
}

// BatchedMessageIterator pulls queue messages in batches. NextBatch follows
// MessageIterator's rules, never returns an empty batch with a nil error, and
// hands the slice to the caller to keep. Backends with a native batched pull
// (JetStream Fetch, Service Bus ReceiveMessages) implement it directly; for
// the others, adapters.MessageBatches builds it by size and timeout.
type BatchedMessageIterator interface {
	NextBatch(ctx context.Context) ([]Message, error)
}

// RecordIterator pulls log records one at a time, in offset order within each
// partition. It follows MessageIterator's rules; a canceled call skips no record.
type RecordIterator interface {
	NextRecord(ctx context.Context) (Record, error)
}

// BatchedIterator pulls log records in batches, in offset order within each
// partition. It follows BatchedMessageIterator's rules.
type BatchedIterator interface {
	NextBatch(ctx context.Context) ([]Record, error)
}

// Messages returns a single-use sequence over the iterator's messages:
//
//	for msg, err := range broker.Messages(ctx, it) {
//		if err != nil {
//			return err
//		}
//		handle(msg)
//		msg.Ack()
//	}
//
// The sequence ends quietly when the iterator reports ErrClosed; any other
// error, ctx's included, is yielded once and ends it.
func Messages(ctx context.Context, it MessageIterator) iter.Seq2[Message, error] {
	return sequence(ctx, it.NextMessage)
}

// MessageBatches is Messages for a BatchedMessageIterator.
func MessageBatches(ctx context.Context, it BatchedMessageIterator) iter.Seq2[[]Message, error] {
	return sequence(ctx, it.NextBatch)
}

// Records is Messages for a RecordIterator.
func Records(ctx context.Context, it RecordIterator) iter.Seq2[Record, error] {
	return sequence(ctx, it.NextRecord)
}

// RecordBatches is Messages for a BatchedIterator.
func RecordBatches(ctx context.Context, it BatchedIterator) iter.Seq2[[]Record, error] {
	return sequence(ctx, it.NextBatch)
}

func sequence[T any](ctx context.Context, next func(context.Context) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			v, err := next(ctx)
			if err != nil {
				if !errors.Is(err, ErrClosed) {
					var zero T
					yield(zero, err)
				}
				return
			}
			if !yield(v, nil) {
				return
			}
		}
	}
}
