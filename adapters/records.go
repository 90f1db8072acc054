package adapters

// The conversions between the six log shapes, named like the queue ones.
// None of them closes the source. Released records (pulled, never handed
// out) are not committed, so the log replays them; a source that is a
// broker.RevocationNotifier is watched and forwarded to.

import (
	"context"

	"github.com/pullkit/broker"
)

// RecordIteratorToBatchedIterator converts an iterator
// (broker.RecordIterator) into a broker.BatchedIterator; see BatchIterator
// for its lifecycle. Batches are built by WithMaxBatch and WithMaxWait (from
// the first item).
func RecordIteratorToBatchedIterator(it broker.RecordIterator, opts ...Option) *BatchIterator[broker.Record] {
	return newBatchIterator(fromRecordIterator(it), opts)
}

// RecordIteratorToRecordStream converts an iterator (broker.RecordIterator)
// into a broker.RecordStream; see Stream for its lifecycle.
func RecordIteratorToRecordStream(it broker.RecordIterator, opts ...Option) *Stream[broker.Record] {
	return toStream(fromRecordIterator(it), opts)
}

// RecordIteratorToBatchedRecordStream converts an iterator
// (broker.RecordIterator) into a broker.BatchedRecordStream; see BatchStream
// for its lifecycle. Batches are built by WithMaxBatch and WithMaxWait (from
// the first item).
func RecordIteratorToBatchedRecordStream(it broker.RecordIterator, opts ...Option) *BatchStream[broker.Record] {
	return toBatchStream(fromRecordIterator(it), opts)
}

// RecordIteratorToRecordReceiver converts an iterator
// (broker.RecordIterator) into a broker.RecordReceiver; see Receiver for its
// lifecycle.
func RecordIteratorToRecordReceiver(it broker.RecordIterator, opts ...Option) *Receiver[broker.Record] {
	return toRecordReceiver(fromRecordIterator(it), opts)
}

// RecordIteratorToBatchedRecordReceiver converts an iterator
// (broker.RecordIterator) into a broker.BatchedRecordReceiver; see
// BatchReceiver for its lifecycle. Batches are built by WithMaxBatch and
// WithMaxWait (from the first item).
func RecordIteratorToBatchedRecordReceiver(it broker.RecordIterator, opts ...Option) *BatchReceiver[broker.Record] {
	return toBatchedRecordReceiver(fromRecordIterator(it), opts)
}

// BatchedIteratorToRecordIterator converts a batched iterator
// (broker.BatchedIterator) into a broker.RecordIterator; see RecordIterator
// for its lifecycle. Batches are handed out one item at a time, in order.
func BatchedIteratorToRecordIterator(it broker.BatchedIterator, opts ...Option) *RecordIterator {
	return newRecordIterator(fromBatchedIterator(it), opts)
}

// BatchedIteratorToRecordStream converts a batched iterator
// (broker.BatchedIterator) into a broker.RecordStream; see Stream for its
// lifecycle. Batches are handed out one item at a time, in order.
func BatchedIteratorToRecordStream(it broker.BatchedIterator, opts ...Option) *Stream[broker.Record] {
	return toStream(fromBatchedIterator(it), opts)
}

// BatchedIteratorToBatchedRecordStream converts a batched iterator
// (broker.BatchedIterator) into a broker.BatchedRecordStream; see
// BatchStream for its lifecycle. The source's batches pass through
// unchanged.
func BatchedIteratorToBatchedRecordStream(it broker.BatchedIterator, opts ...Option) *BatchStream[broker.Record] {
	return toBatchStream(fromBatchedIterator(it), opts)
}

// BatchedIteratorToRecordReceiver converts a batched iterator
// (broker.BatchedIterator) into a broker.RecordReceiver; see Receiver for
// its lifecycle. Batches are handed out one item at a time, in order.
func BatchedIteratorToRecordReceiver(it broker.BatchedIterator, opts ...Option) *Receiver[broker.Record] {
	return toRecordReceiver(fromBatchedIterator(it), opts)
}

// BatchedIteratorToBatchedRecordReceiver converts a batched iterator
// (broker.BatchedIterator) into a broker.BatchedRecordReceiver; see
// BatchReceiver for its lifecycle. The source's batches pass through
// unchanged.
func BatchedIteratorToBatchedRecordReceiver(it broker.BatchedIterator, opts ...Option) *BatchReceiver[broker.Record] {
	return toBatchedRecordReceiver(fromBatchedIterator(it), opts)
}

// RecordStreamToRecordIterator converts a stream (broker.RecordStream) into
// a broker.RecordIterator; see RecordIterator for its lifecycle. It calls
// the source's Stream with a ctx of its own, canceled when the adapter stops
// (Close, or the end of the Stream or Receive call), and drains the source's
// channel then.
func RecordStreamToRecordIterator(s broker.RecordStream, opts ...Option) *RecordIterator {
	return newRecordIterator(fromRecordStream(s), opts)
}

// RecordStreamToBatchedIterator converts a stream (broker.RecordStream) into
// a broker.BatchedIterator; see BatchIterator for its lifecycle. It calls
// the source's Stream with a ctx of its own, canceled when the adapter stops
// (Close, or the end of the Stream or Receive call), and drains the source's
// channel then. Batches are built by WithMaxBatch and WithMaxWait (from the
// first item).
func RecordStreamToBatchedIterator(s broker.RecordStream, opts ...Option) *BatchIterator[broker.Record] {
	return newBatchIterator(fromRecordStream(s), opts)
}

// RecordStreamToBatchedRecordStream converts a stream (broker.RecordStream)
// into a broker.BatchedRecordStream; see BatchStream for its lifecycle. It
// calls the source's Stream with a ctx of its own, canceled when the adapter
// stops (Close, or the end of the Stream or Receive call), and drains the
// source's channel then. Batches are built by WithMaxBatch and WithMaxWait
// (from the first item).
func RecordStreamToBatchedRecordStream(s broker.RecordStream, opts ...Option) *BatchStream[broker.Record] {
	return toBatchStream(fromRecordStream(s), opts)
}

// RecordStreamToRecordReceiver converts a stream (broker.RecordStream) into
// a broker.RecordReceiver; see Receiver for its lifecycle. It calls the
// source's Stream with a ctx of its own, canceled when the adapter stops
// (Close, or the end of the Stream or Receive call), and drains the source's
// channel then.
func RecordStreamToRecordReceiver(s broker.RecordStream, opts ...Option) *Receiver[broker.Record] {
	return toRecordReceiver(fromRecordStream(s), opts)
}

// RecordStreamToBatchedRecordReceiver converts a stream
// (broker.RecordStream) into a broker.BatchedRecordReceiver; see
// BatchReceiver for its lifecycle. It calls the source's Stream with a ctx
// of its own, canceled when the adapter stops (Close, or the end of the
// Stream or Receive call), and drains the source's channel then. Batches are
// built by WithMaxBatch and WithMaxWait (from the first item).
func RecordStreamToBatchedRecordReceiver(s broker.RecordStream, opts ...Option) *BatchReceiver[broker.Record] {
	return toBatchedRecordReceiver(fromRecordStream(s), opts)
}

// BatchedRecordStreamToRecordIterator converts a batched stream
// (broker.BatchedRecordStream) into a broker.RecordIterator; see
// RecordIterator for its lifecycle. It calls the source's BatchStream with a
// ctx of its own, canceled when the adapter stops (Close, or the end of the
// Stream or Receive call), and drains the source's channel then. Batches are
// handed out one item at a time, in order.
func BatchedRecordStreamToRecordIterator(s broker.BatchedRecordStream, opts ...Option) *RecordIterator {
	return newRecordIterator(fromBatchedRecordStream(s), opts)
}

// BatchedRecordStreamToBatchedIterator converts a batched stream
// (broker.BatchedRecordStream) into a broker.BatchedIterator; see
// BatchIterator for its lifecycle. It calls the source's BatchStream with a
// ctx of its own, canceled when the adapter stops (Close, or the end of the
// Stream or Receive call), and drains the source's channel then. The
// source's batches pass through unchanged.
func BatchedRecordStreamToBatchedIterator(s broker.BatchedRecordStream, opts ...Option) *BatchIterator[broker.Record] {
	return newBatchIterator(fromBatchedRecordStream(s), opts)
}

// BatchedRecordStreamToRecordStream converts a batched stream
// (broker.BatchedRecordStream) into a broker.RecordStream; see Stream for
// its lifecycle. It calls the source's BatchStream with a ctx of its own,
// canceled when the adapter stops (Close, or the end of the Stream or
// Receive call), and drains the source's channel then. Batches are handed
// out one item at a time, in order.
func BatchedRecordStreamToRecordStream(s broker.BatchedRecordStream, opts ...Option) *Stream[broker.Record] {
	return toStream(fromBatchedRecordStream(s), opts)
}

// BatchedRecordStreamToRecordReceiver converts a batched stream
// (broker.BatchedRecordStream) into a broker.RecordReceiver; see Receiver
// for its lifecycle. It calls the source's BatchStream with a ctx of its
// own, canceled when the adapter stops (Close, or the end of the Stream or
// Receive call), and drains the source's channel then. Batches are handed
// out one item at a time, in order.
func BatchedRecordStreamToRecordReceiver(s broker.BatchedRecordStream, opts ...Option) *Receiver[broker.Record] {
	return toRecordReceiver(fromBatchedRecordStream(s), opts)
}

// BatchedRecordStreamToBatchedRecordReceiver converts a batched stream
// (broker.BatchedRecordStream) into a broker.BatchedRecordReceiver; see
// BatchReceiver for its lifecycle. It calls the source's BatchStream with a
// ctx of its own, canceled when the adapter stops (Close, or the end of the
// Stream or Receive call), and drains the source's channel then. The
// source's batches pass through unchanged.
func BatchedRecordStreamToBatchedRecordReceiver(s broker.BatchedRecordStream, opts ...Option) *BatchReceiver[broker.Record] {
	return toBatchedRecordReceiver(fromBatchedRecordStream(s), opts)
}

// RecordReceiverToRecordIterator converts a receiver (broker.RecordReceiver)
// into a broker.RecordIterator; see RecordIterator for its lifecycle. It
// runs the source's Receive on a goroutine of its own, whose handler buffers
// each item on a channel of capacity WithBuffer; the goroutine ends when the
// adapter stops.
func RecordReceiverToRecordIterator(r broker.RecordReceiver, opts ...Option) *RecordIterator {
	return newRecordIterator(fromRecordReceiver(r), opts)
}

// RecordReceiverToBatchedIterator converts a receiver
// (broker.RecordReceiver) into a broker.BatchedIterator; see BatchIterator
// for its lifecycle. It runs the source's Receive on a goroutine of its own,
// whose handler buffers each item on a channel of capacity WithBuffer; the
// goroutine ends when the adapter stops. Batches are built by WithMaxBatch
// and WithMaxWait (from the first item).
func RecordReceiverToBatchedIterator(r broker.RecordReceiver, opts ...Option) *BatchIterator[broker.Record] {
	return newBatchIterator(fromRecordReceiver(r), opts)
}

// RecordReceiverToRecordStream converts a receiver (broker.RecordReceiver)
// into a broker.RecordStream; see Stream for its lifecycle. It runs the
// source's Receive on a goroutine of its own, whose handler buffers each
// item on a channel of capacity WithBuffer; the goroutine ends when the
// adapter stops.
func RecordReceiverToRecordStream(r broker.RecordReceiver, opts ...Option) *Stream[broker.Record] {
	return toStream(fromRecordReceiver(r), opts)
}

// RecordReceiverToBatchedRecordStream converts a receiver
// (broker.RecordReceiver) into a broker.BatchedRecordStream; see BatchStream
// for its lifecycle. It runs the source's Receive on a goroutine of its own,
// whose handler buffers each item on a channel of capacity WithBuffer; the
// goroutine ends when the adapter stops. Batches are built by WithMaxBatch
// and WithMaxWait (from the first item).
func RecordReceiverToBatchedRecordStream(r broker.RecordReceiver, opts ...Option) *BatchStream[broker.Record] {
	return toBatchStream(fromRecordReceiver(r), opts)
}

// RecordReceiverToBatchedRecordReceiver converts a receiver
// (broker.RecordReceiver) into a broker.BatchedRecordReceiver; see
// BatchReceiver for its lifecycle. It runs the source's Receive on a
// goroutine of its own, whose handler buffers each item on a channel of
// capacity WithBuffer; the goroutine ends when the adapter stops. Batches
// are built by WithMaxBatch and WithMaxWait (from the first item).
func RecordReceiverToBatchedRecordReceiver(r broker.RecordReceiver, opts ...Option) *BatchReceiver[broker.Record] {
	return toBatchedRecordReceiver(fromRecordReceiver(r), opts)
}

// BatchedRecordReceiverToRecordIterator converts a batched receiver
// (broker.BatchedRecordReceiver) into a broker.RecordIterator; see
// RecordIterator for its lifecycle. It runs the source's ReceiveBatch on a
// goroutine of its own, whose handler buffers each batch on a channel of
// capacity WithBuffer; the goroutine ends when the adapter stops. Batches
// are handed out one item at a time, in order.
func BatchedRecordReceiverToRecordIterator(r broker.BatchedRecordReceiver, opts ...Option) *RecordIterator {
	return newRecordIterator(fromBatchedRecordReceiver(r), opts)
}

// BatchedRecordReceiverToBatchedIterator converts a batched receiver
// (broker.BatchedRecordReceiver) into a broker.BatchedIterator; see
// BatchIterator for its lifecycle. It runs the source's ReceiveBatch on a
// goroutine of its own, whose handler buffers each batch on a channel of
// capacity WithBuffer; the goroutine ends when the adapter stops. The
// source's batches pass through unchanged.
func BatchedRecordReceiverToBatchedIterator(r broker.BatchedRecordReceiver, opts ...Option) *BatchIterator[broker.Record] {
	return newBatchIterator(fromBatchedRecordReceiver(r), opts)
}

// BatchedRecordReceiverToRecordStream converts a batched receiver
// (broker.BatchedRecordReceiver) into a broker.RecordStream; see Stream for
// its lifecycle. It runs the source's ReceiveBatch on a goroutine of its
// own, whose handler buffers each batch on a channel of capacity WithBuffer;
// the goroutine ends when the adapter stops. Batches are handed out one item
// at a time, in order.
func BatchedRecordReceiverToRecordStream(r broker.BatchedRecordReceiver, opts ...Option) *Stream[broker.Record] {
	return toStream(fromBatchedRecordReceiver(r), opts)
}

// BatchedRecordReceiverToBatchedRecordStream converts a batched receiver
// (broker.BatchedRecordReceiver) into a broker.BatchedRecordStream; see
// BatchStream for its lifecycle. It runs the source's ReceiveBatch on a
// goroutine of its own, whose handler buffers each batch on a channel of
// capacity WithBuffer; the goroutine ends when the adapter stops. The
// source's batches pass through unchanged.
func BatchedRecordReceiverToBatchedRecordStream(r broker.BatchedRecordReceiver, opts ...Option) *BatchStream[broker.Record] {
	return toBatchStream(fromBatchedRecordReceiver(r), opts)
}

// BatchedRecordReceiverToRecordReceiver converts a batched receiver
// (broker.BatchedRecordReceiver) into a broker.RecordReceiver; see Receiver
// for its lifecycle. It runs the source's ReceiveBatch on a goroutine of its
// own, whose handler buffers each batch on a channel of capacity WithBuffer;
// the goroutine ends when the adapter stops. Batches are handed out one item
// at a time, in order.
func BatchedRecordReceiverToRecordReceiver(r broker.BatchedRecordReceiver, opts ...Option) *Receiver[broker.Record] {
	return toRecordReceiver(fromBatchedRecordReceiver(r), opts)
}

// MergeRecordIterators fans several iterators into one, with
// MergeMessageIterators' rules. Each partition must come from one source
// only, which keeps its records in offset order. The merged iterator is a
// broker.RevocationNotifier over every source that is one.
func MergeRecordIterators(its ...broker.RecordIterator) *RecordIterator {
	nexts, origs, bad := make([]func(context.Context) (broker.Record, error), 0, len(its)), make([]any, 0, len(its)), false
	for _, it := range its {
		if isNil(it) {
			bad = true
			break
		}
		nexts, origs = append(nexts, it.NextRecord), append(origs, it)
	}
	if bad {
		return newRecordIterator(failing(recordSem, "broker.RecordIterator in MergeRecordIterators"), nil)
	}
	return newRecordIterator(mergeSource(recordSem, nexts, origs), nil)
}
