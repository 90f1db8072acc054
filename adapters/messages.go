package adapters

// The conversions between the six queue shapes. Every function is named
// <source>To<target> after the broker interfaces, and none of them closes
// or settles the source: it stays the caller's. Released messages (pulled,
// never handed out) are nacked.

import (
	"context"

	"github.com/pullkit/broker"
)

// MessageIteratorToBatchedMessageIterator converts an iterator
// (broker.MessageIterator) into a broker.BatchedMessageIterator; see
// BatchIterator for its lifecycle. Batches are built by WithMaxBatch and
// WithMaxWait (from the first item).
func MessageIteratorToBatchedMessageIterator(it broker.MessageIterator, opts ...Option) *BatchIterator[broker.Message] {
	return newBatchIterator(fromMessageIterator(it), opts)
}

// MessageIteratorToMessageStream converts an iterator
// (broker.MessageIterator) into a broker.MessageStream; see Stream for its
// lifecycle.
func MessageIteratorToMessageStream(it broker.MessageIterator, opts ...Option) *Stream[broker.Message] {
	return toStream(fromMessageIterator(it), opts)
}

// MessageIteratorToBatchedMessageStream converts an iterator
// (broker.MessageIterator) into a broker.BatchedMessageStream; see
// BatchStream for its lifecycle. Batches are built by WithMaxBatch and
// WithMaxWait (from the first item).
func MessageIteratorToBatchedMessageStream(it broker.MessageIterator, opts ...Option) *BatchStream[broker.Message] {
	return toBatchStream(fromMessageIterator(it), opts)
}

// MessageIteratorToReceiver converts an iterator (broker.MessageIterator)
// into a broker.Receiver; see Receiver for its lifecycle.
func MessageIteratorToReceiver(it broker.MessageIterator, opts ...Option) *Receiver[broker.Message] {
	return toReceiver(fromMessageIterator(it), opts)
}

// MessageIteratorToBatchedReceiver converts an iterator
// (broker.MessageIterator) into a broker.BatchedReceiver; see BatchReceiver
// for its lifecycle. Batches are built by WithMaxBatch and WithMaxWait (from
// the first item).
func MessageIteratorToBatchedReceiver(it broker.MessageIterator, opts ...Option) *BatchReceiver[broker.Message] {
	return toBatchedReceiver(fromMessageIterator(it), opts)
}

// BatchedMessageIteratorToMessageIterator converts a batched iterator
// (broker.BatchedMessageIterator) into a broker.MessageIterator; see
// MessageIterator for its lifecycle. Batches are handed out one item at a
// time, in order.
func BatchedMessageIteratorToMessageIterator(it broker.BatchedMessageIterator, opts ...Option) *MessageIterator {
	return newMessageIterator(fromBatchedMessageIterator(it), opts)
}

// BatchedMessageIteratorToMessageStream converts a batched iterator
// (broker.BatchedMessageIterator) into a broker.MessageStream; see Stream
// for its lifecycle. Batches are handed out one item at a time, in order.
func BatchedMessageIteratorToMessageStream(it broker.BatchedMessageIterator, opts ...Option) *Stream[broker.Message] {
	return toStream(fromBatchedMessageIterator(it), opts)
}

// BatchedMessageIteratorToBatchedMessageStream converts a batched iterator
// (broker.BatchedMessageIterator) into a broker.BatchedMessageStream; see
// BatchStream for its lifecycle. The source's batches pass through
// unchanged.
func BatchedMessageIteratorToBatchedMessageStream(it broker.BatchedMessageIterator, opts ...Option) *BatchStream[broker.Message] {
	return toBatchStream(fromBatchedMessageIterator(it), opts)
}

// BatchedMessageIteratorToReceiver converts a batched iterator
// (broker.BatchedMessageIterator) into a broker.Receiver; see Receiver for
// its lifecycle. Batches are handed out one item at a time, in order.
func BatchedMessageIteratorToReceiver(it broker.BatchedMessageIterator, opts ...Option) *Receiver[broker.Message] {
	return toReceiver(fromBatchedMessageIterator(it), opts)
}

// BatchedMessageIteratorToBatchedReceiver converts a batched iterator
// (broker.BatchedMessageIterator) into a broker.BatchedReceiver; see
// BatchReceiver for its lifecycle. The source's batches pass through
// unchanged.
func BatchedMessageIteratorToBatchedReceiver(it broker.BatchedMessageIterator, opts ...Option) *BatchReceiver[broker.Message] {
	return toBatchedReceiver(fromBatchedMessageIterator(it), opts)
}

// MessageStreamToMessageIterator converts a stream (broker.MessageStream)
// into a broker.MessageIterator; see MessageIterator for its lifecycle. It
// calls the source's Stream with a ctx of its own, canceled when the adapter
// stops (Close, or the end of the Stream or Receive call), and drains the
// source's channel then.
func MessageStreamToMessageIterator(s broker.MessageStream, opts ...Option) *MessageIterator {
	return newMessageIterator(fromMessageStream(s), opts)
}

// MessageStreamToBatchedMessageIterator converts a stream
// (broker.MessageStream) into a broker.BatchedMessageIterator; see
// BatchIterator for its lifecycle. It calls the source's Stream with a ctx
// of its own, canceled when the adapter stops (Close, or the end of the
// Stream or Receive call), and drains the source's channel then. Batches are
// built by WithMaxBatch and WithMaxWait (from the first item).
func MessageStreamToBatchedMessageIterator(s broker.MessageStream, opts ...Option) *BatchIterator[broker.Message] {
	return newBatchIterator(fromMessageStream(s), opts)
}

// MessageStreamToBatchedMessageStream converts a stream
// (broker.MessageStream) into a broker.BatchedMessageStream; see BatchStream
// for its lifecycle. It calls the source's Stream with a ctx of its own,
// canceled when the adapter stops (Close, or the end of the Stream or
// Receive call), and drains the source's channel then. Batches are built by
// WithMaxBatch and WithMaxWait (from the first item).
func MessageStreamToBatchedMessageStream(s broker.MessageStream, opts ...Option) *BatchStream[broker.Message] {
	return toBatchStream(fromMessageStream(s), opts)
}

// MessageStreamToReceiver converts a stream (broker.MessageStream) into a
// broker.Receiver; see Receiver for its lifecycle. It calls the source's
// Stream with a ctx of its own, canceled when the adapter stops (Close, or
// the end of the Stream or Receive call), and drains the source's channel
// then.
func MessageStreamToReceiver(s broker.MessageStream, opts ...Option) *Receiver[broker.Message] {
	return toReceiver(fromMessageStream(s), opts)
}

// MessageStreamToBatchedReceiver converts a stream (broker.MessageStream)
// into a broker.BatchedReceiver; see BatchReceiver for its lifecycle. It
// calls the source's Stream with a ctx of its own, canceled when the adapter
// stops (Close, or the end of the Stream or Receive call), and drains the
// source's channel then. Batches are built by WithMaxBatch and WithMaxWait
// (from the first item).
func MessageStreamToBatchedReceiver(s broker.MessageStream, opts ...Option) *BatchReceiver[broker.Message] {
	return toBatchedReceiver(fromMessageStream(s), opts)
}

// BatchedMessageStreamToMessageIterator converts a batched stream
// (broker.BatchedMessageStream) into a broker.MessageIterator; see
// MessageIterator for its lifecycle. It calls the source's BatchStream with
// a ctx of its own, canceled when the adapter stops (Close, or the end of
// the Stream or Receive call), and drains the source's channel then. Batches
// are handed out one item at a time, in order.
func BatchedMessageStreamToMessageIterator(s broker.BatchedMessageStream, opts ...Option) *MessageIterator {
	return newMessageIterator(fromBatchedMessageStream(s), opts)
}

// BatchedMessageStreamToBatchedMessageIterator converts a batched stream
// (broker.BatchedMessageStream) into a broker.BatchedMessageIterator; see
// BatchIterator for its lifecycle. It calls the source's BatchStream with a
// ctx of its own, canceled when the adapter stops (Close, or the end of the
// Stream or Receive call), and drains the source's channel then. The
// source's batches pass through unchanged.
func BatchedMessageStreamToBatchedMessageIterator(s broker.BatchedMessageStream, opts ...Option) *BatchIterator[broker.Message] {
	return newBatchIterator(fromBatchedMessageStream(s), opts)
}

// BatchedMessageStreamToMessageStream converts a batched stream
// (broker.BatchedMessageStream) into a broker.MessageStream; see Stream for
// its lifecycle. It calls the source's BatchStream with a ctx of its own,
// canceled when the adapter stops (Close, or the end of the Stream or
// Receive call), and drains the source's channel then. Batches are handed
// out one item at a time, in order.
func BatchedMessageStreamToMessageStream(s broker.BatchedMessageStream, opts ...Option) *Stream[broker.Message] {
	return toStream(fromBatchedMessageStream(s), opts)
}

// BatchedMessageStreamToReceiver converts a batched stream
// (broker.BatchedMessageStream) into a broker.Receiver; see Receiver for its
// lifecycle. It calls the source's BatchStream with a ctx of its own,
// canceled when the adapter stops (Close, or the end of the Stream or
// Receive call), and drains the source's channel then. Batches are handed
// out one item at a time, in order.
func BatchedMessageStreamToReceiver(s broker.BatchedMessageStream, opts ...Option) *Receiver[broker.Message] {
	return toReceiver(fromBatchedMessageStream(s), opts)
}

// BatchedMessageStreamToBatchedReceiver converts a batched stream
// (broker.BatchedMessageStream) into a broker.BatchedReceiver; see
// BatchReceiver for its lifecycle. It calls the source's BatchStream with a
// ctx of its own, canceled when the adapter stops (Close, or the end of the
// Stream or Receive call), and drains the source's channel then. The
// source's batches pass through unchanged.
func BatchedMessageStreamToBatchedReceiver(s broker.BatchedMessageStream, opts ...Option) *BatchReceiver[broker.Message] {
	return toBatchedReceiver(fromBatchedMessageStream(s), opts)
}

// ReceiverToMessageIterator converts a receiver (broker.Receiver) into a
// broker.MessageIterator; see MessageIterator for its lifecycle. It runs the
// source's Receive on a goroutine of its own, whose handler buffers each
// item on a channel of capacity WithBuffer; the goroutine ends when the
// adapter stops.
func ReceiverToMessageIterator(r broker.Receiver, opts ...Option) *MessageIterator {
	return newMessageIterator(fromReceiver(r), opts)
}

// ReceiverToBatchedMessageIterator converts a receiver (broker.Receiver)
// into a broker.BatchedMessageIterator; see BatchIterator for its lifecycle.
// It runs the source's Receive on a goroutine of its own, whose handler
// buffers each item on a channel of capacity WithBuffer; the goroutine ends
// when the adapter stops. Batches are built by WithMaxBatch and WithMaxWait
// (from the first item).
func ReceiverToBatchedMessageIterator(r broker.Receiver, opts ...Option) *BatchIterator[broker.Message] {
	return newBatchIterator(fromReceiver(r), opts)
}

// ReceiverToMessageStream converts a receiver (broker.Receiver) into a
// broker.MessageStream; see Stream for its lifecycle. It runs the source's
// Receive on a goroutine of its own, whose handler buffers each item on a
// channel of capacity WithBuffer; the goroutine ends when the adapter stops.
func ReceiverToMessageStream(r broker.Receiver, opts ...Option) *Stream[broker.Message] {
	return toStream(fromReceiver(r), opts)
}

// ReceiverToBatchedMessageStream converts a receiver (broker.Receiver) into
// a broker.BatchedMessageStream; see BatchStream for its lifecycle. It runs
// the source's Receive on a goroutine of its own, whose handler buffers each
// item on a channel of capacity WithBuffer; the goroutine ends when the
// adapter stops. Batches are built by WithMaxBatch and WithMaxWait (from the
// first item).
func ReceiverToBatchedMessageStream(r broker.Receiver, opts ...Option) *BatchStream[broker.Message] {
	return toBatchStream(fromReceiver(r), opts)
}

// ReceiverToBatchedReceiver converts a receiver (broker.Receiver) into a
// broker.BatchedReceiver; see BatchReceiver for its lifecycle. It runs the
// source's Receive on a goroutine of its own, whose handler buffers each
// item on a channel of capacity WithBuffer; the goroutine ends when the
// adapter stops. Batches are built by WithMaxBatch and WithMaxWait (from the
// first item).
func ReceiverToBatchedReceiver(r broker.Receiver, opts ...Option) *BatchReceiver[broker.Message] {
	return toBatchedReceiver(fromReceiver(r), opts)
}

// BatchedReceiverToMessageIterator converts a batched receiver
// (broker.BatchedReceiver) into a broker.MessageIterator; see
// MessageIterator for its lifecycle. It runs the source's ReceiveBatch on a
// goroutine of its own, whose handler buffers each batch on a channel of
// capacity WithBuffer; the goroutine ends when the adapter stops. Batches
// are handed out one item at a time, in order.
func BatchedReceiverToMessageIterator(r broker.BatchedReceiver, opts ...Option) *MessageIterator {
	return newMessageIterator(fromBatchedReceiver(r), opts)
}

// BatchedReceiverToBatchedMessageIterator converts a batched receiver
// (broker.BatchedReceiver) into a broker.BatchedMessageIterator; see
// BatchIterator for its lifecycle. It runs the source's ReceiveBatch on a
// goroutine of its own, whose handler buffers each batch on a channel of
// capacity WithBuffer; the goroutine ends when the adapter stops. The
// source's batches pass through unchanged.
func BatchedReceiverToBatchedMessageIterator(r broker.BatchedReceiver, opts ...Option) *BatchIterator[broker.Message] {
	return newBatchIterator(fromBatchedReceiver(r), opts)
}

// BatchedReceiverToMessageStream converts a batched receiver
// (broker.BatchedReceiver) into a broker.MessageStream; see Stream for its
// lifecycle. It runs the source's ReceiveBatch on a goroutine of its own,
// whose handler buffers each batch on a channel of capacity WithBuffer; the
// goroutine ends when the adapter stops. Batches are handed out one item at
// a time, in order.
func BatchedReceiverToMessageStream(r broker.BatchedReceiver, opts ...Option) *Stream[broker.Message] {
	return toStream(fromBatchedReceiver(r), opts)
}

// BatchedReceiverToBatchedMessageStream converts a batched receiver
// (broker.BatchedReceiver) into a broker.BatchedMessageStream; see
// BatchStream for its lifecycle. It runs the source's ReceiveBatch on a
// goroutine of its own, whose handler buffers each batch on a channel of
// capacity WithBuffer; the goroutine ends when the adapter stops. The
// source's batches pass through unchanged.
func BatchedReceiverToBatchedMessageStream(r broker.BatchedReceiver, opts ...Option) *BatchStream[broker.Message] {
	return toBatchStream(fromBatchedReceiver(r), opts)
}

// BatchedReceiverToReceiver converts a batched receiver
// (broker.BatchedReceiver) into a broker.Receiver; see Receiver for its
// lifecycle. It runs the source's ReceiveBatch on a goroutine of its own,
// whose handler buffers each batch on a channel of capacity WithBuffer; the
// goroutine ends when the adapter stops. Batches are handed out one item at
// a time, in order.
func BatchedReceiverToReceiver(r broker.BatchedReceiver, opts ...Option) *Receiver[broker.Message] {
	return toReceiver(fromBatchedReceiver(r), opts)
}

// MergeMessageIterators fans several iterators into one. The adapter runs
// one goroutine per source (started by the first NextMessage, ended by
// Close), each pulling into one channel of capacity WithBuffer, so every
// source's order is kept but the sources interleave. A source ending with
// broker.ErrClosed drops out; the merged iterator returns ErrClosed once
// all did. The first other error stops every source and is returned after
// the messages already buffered. Close nacks what was pulled and not handed
// out; it does not close the sources.
func MergeMessageIterators(its ...broker.MessageIterator) *MessageIterator {
	nexts, origs, bad := make([]func(context.Context) (broker.Message, error), 0, len(its)), make([]any, 0, len(its)), false
	for _, it := range its {
		if isNil(it) {
			bad = true
			break
		}
		nexts, origs = append(nexts, it.NextMessage), append(origs, it)
	}
	if bad {
		return newMessageIterator(failing(messageSem, "broker.MessageIterator in MergeMessageIterators"), nil)
	}
	return newMessageIterator(mergeSource(messageSem, nexts, origs), nil)
}
