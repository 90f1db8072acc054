package broker

import "context"

// MessageStream delivers queue messages on a channel.
//
// Stream starts the goroutines it needs and returns at once. They stop when
// ctx ends or the broker fails; then the message channel is closed, after at
// most one error was sent on the error channel (which is closed too).
// Messages the stream pulled but could not hand out before ctx ended are
// nacked, never dropped. Receive from the message channel until it is closed
// to know that every goroutine is gone. Each message received is the
// caller's to settle.
type MessageStream interface {
	Stream(ctx context.Context) (<-chan Message, <-chan error)
}

// BatchedMessageStream is MessageStream delivering non-empty batches.
type BatchedMessageStream interface {
	BatchStream(ctx context.Context) (<-chan []Message, <-chan error)
}

// RecordStream delivers log records on a channel, in offset order within each
// partition, with MessageStream's lifecycle. Records pulled but not handed
// out when ctx ends are simply not committed: the log replays them.
type RecordStream interface {
	Stream(ctx context.Context) (<-chan Record, <-chan error)
}

// BatchedRecordStream is RecordStream delivering non-empty batches.
type BatchedRecordStream interface {
	BatchStream(ctx context.Context) (<-chan []Record, <-chan error)
}
