package broker

import "context"

// Receiver runs a callback for each queue message.
//
// Receive blocks for the whole pull and calls handler from as many goroutines
// as the implementation runs (so handler must be safe for concurrent use).
// It returns nil after ctx is canceled, or the error that stopped the pull.
// Before it returns, every handler call has returned and every message
// pulled but not handed to a handler has been nacked. The handler settles
// each message itself; a handler that panics has its message nacked and the
// receiver goes on (adapters report the panic as a *PanicError).
type Receiver interface {
	Receive(ctx context.Context, handler func(context.Context, Message)) error
}

// BatchedReceiver is Receiver with a callback per non-empty batch.
type BatchedReceiver interface {
	ReceiveBatch(ctx context.Context, handler func(context.Context, []Message)) error
}

// RecordReceiver runs a callback for each log record.
//
// It follows Receiver's lifecycle, and also: records of one partition reach
// the handler one at a time and in offset order (or, if the implementation
// is asked to order by key, records of one key do); the handler acks each
// record it processed; a record's offset is committed only when it and every
// earlier record of its partition were acked. Records pulled but not handed
// out are not committed, so the log replays them.
type RecordReceiver interface {
	Receive(ctx context.Context, handler func(context.Context, Record)) error
}

// BatchedRecordReceiver is RecordReceiver with a callback per non-empty
// batch; batches of one partition are handed out in order, one at a time.
type BatchedRecordReceiver interface {
	ReceiveBatch(ctx context.Context, handler func(context.Context, []Record)) error
}
