// Package adapters turns any consumer shape of package broker into any
// other, for queue messages and for log records alike.
//
// A backend implements its native shape only (an iterator, a receiver, a
// batched iterator…); these adapters build the other five. Each conversion
// is one exported function named after the broker interfaces it converts,
// <source>To<target>:
//
//	MessageIteratorToMessageStream(it)        broker.MessageIterator → MessageStream
//	ReceiverToMessageIterator(r)              broker.Receiver → MessageIterator
//	BatchedIteratorToRecordReceiver(it)       broker.BatchedIterator → RecordReceiver
//	RecordStreamToBatchedRecordReceiver(s)    …and so on: all 30 pairs per semantics
//
// plus MergeMessageIterators and MergeRecordIterators to fan several
// sources into one.
//
// # How the conversions work
//
// Every shape converts to one internal pull iterator (of items, or of
// batches), and that iterator converts to every shape, so each mechanism
// exists once, written with generics over broker.Message and broker.Record:
// batching by size and time, unbatching, a stream's pump, reading a stream,
// running a receiver's handlers, a receiver seen as a pull, fan-in. What
// differs between the two semantics is small and kept in one place: how an
// item that was pulled but never handed out is released, and, for records,
// partitions, revocations and the commit watermark.
//
// # Shutdown: queue and log
//
// An adapter stops when the ctx of its Stream or Receive call ends, or when
// a pull-shaped adapter (iterator, batched iterator) is closed. Items it
// pulled from the source and never handed out are then released:
//
//   - queue: each such message is nacked, so the broker redelivers it at
//     once instead of after an ack deadline;
//   - log: each such record is simply not committed: the log replays it from
//     the last commit. Nothing is ever acked on the caller's behalf.
//
// A stream releases the item it holds and the items still buffered in its
// channel before closing it. An iterator's Close releases the rest of a
// batch and whatever a stream or receiver source still delivers until it
// stopped. A receiver releases what is buffered for its workers and returns
// only after every worker returned.
//
// Receivers return nil when their ctx ends, and also when the source ends
// with broker.ErrClosed (like broker.Messages, they treat a closed source as
// the end of the sequence); any other source error is returned after the
// items already pulled were handled. Streams end quietly in both cases and
// send any other error, once, on the error channel. Iterators built on a
// stream or receiver return an error wrapping broker.ErrClosed once the
// source ended.
//
// # Records: order, watermark, revocation
//
// Record receivers keep the records of a partition on one worker, in offset
// order (WithKeyOrder: of one key, so that keys of a partition run in
// parallel). Each record reaches the handler with a broker.Settler of the
// receiver's own: the handler's Ack only marks the record done, and the
// receiver commits (calls the source record's cumulative Ack) the highest
// offset of each partition below which every record it handed out was
// acked. A record that is never acked, or whose handler panicked, holds back
// every commit past it; WithMaxPending bounds how many records wait like
// that before the receiver stops pulling.
//
// When the source is a broker.RevocationNotifier, the adapters register
// with it. On a revocation a receiver drops the records of those partitions
// that it buffered, waits for a commit in flight, and refuses later acks of
// records it handed out before (AckContext returns an error wrapping
// broker.ErrPartitionRevoked), so nothing is committed for the partition's
// new owner; a partition assigned again starts a fresh watermark. Iterator
// and stream adapters drop the records they buffered for revoked partitions
// (records already in a stream's channel are delivered; the source refuses
// their acks). Every record adapter also implements OnRevoke by forwarding
// to its source, so adapters can be stacked.
//
// # Options and defaults
//
// Every function takes Options; each adapter ignores those that do not
// apply to it. A value below 1 means the default, so buffers are always
// bounded.
//
//   - WithMaxBatch (DefaultMaxBatch, 100) and WithMaxWait (DefaultMaxWait,
//     100ms): a batch is handed out when full or MaxWait after its first
//     item, never empty. The first item is pulled with the caller's ctx, the
//     rest with a deadline derived from it; a ctx that ends mid-batch
//     returns the items pulled so far with a nil error.
//   - WithBuffer (DefaultBuffer, 128): capacity of every channel an adapter
//     owns.
//   - WithWorkers (runtime.GOMAXPROCS(0)): handler goroutines of a receiver.
//   - WithKeyOrder: per-key instead of per-partition order for records.
//   - WithMaxPending (DefaultMaxPending, 4096): records a record receiver
//     holds uncommitted before it stops pulling.
//   - WithAutoExtend(every, max): off by default; a queue receiver calls
//     Message.Extend every `every` on the messages its handlers hold, so a
//     slow handler keeps its lease, for at most max.
//   - WithOnError: where handler panics go, as *broker.PanicError with the
//     stack; by default slog.Default at Error level, never with a payload.
//
// # Ownership and goroutines
//
// An adapter never closes, and never settles on the caller's behalf, the
// source it wraps: the source stays the caller's, to close after the
// adapter stopped. Only one Stream, BatchStream or Receive call may run on
// an adapter at a time (a source cannot be pulled from two goroutines); a
// concurrent one fails with an error wrapping broker.ErrUnsupported.
//
// Every goroutine an adapter starts is owned by a call or by Close: a
// Stream call's goroutines are gone once its channel is closed, a Receive
// call's once it returned, an iterator adapter's once Close returned. Close
// is idempotent.
package adapters
