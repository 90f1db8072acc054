package adapters

import (
	"context"
	"fmt"
	"reflect"

	"github.com/pullkit/broker"
)

// The from* functions wrap each shape as a source. A nil source gives an
// adapter whose every call fails with an error wrapping
// broker.ErrInvalidOption, instead of a panic at construction.

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

func failing[T Item](sem *semantics[T], what string) *source[T] {
	err := fmt.Errorf("%w: nil %s", broker.ErrInvalidOption, what)
	return &source[T]{sem: sem, single: func(context.Context, *openOpts) pull[T] {
		return funcPull[T](func(context.Context) (T, error) { return zero[T](), err })
	}}
}

func fromMessageIterator(it broker.MessageIterator) *source[broker.Message] {
	if isNil(it) {
		return failing(messageSem, "broker.MessageIterator")
	}
	return iteratorSource(messageSem, it.NextMessage, it)
}

func fromBatchedMessageIterator(it broker.BatchedMessageIterator) *source[broker.Message] {
	if isNil(it) {
		return failing(messageSem, "broker.BatchedMessageIterator")
	}
	return batchedIteratorSource(messageSem, it.NextBatch, it)
}

func fromMessageStream(s broker.MessageStream) *source[broker.Message] {
	if isNil(s) {
		return failing(messageSem, "broker.MessageStream")
	}
	return streamSource(messageSem, s.Stream, s)
}

func fromBatchedMessageStream(s broker.BatchedMessageStream) *source[broker.Message] {
	if isNil(s) {
		return failing(messageSem, "broker.BatchedMessageStream")
	}
	return batchedStreamSource(messageSem, s.BatchStream, s)
}

func fromReceiver(r broker.Receiver) *source[broker.Message] {
	if isNil(r) {
		return failing(messageSem, "broker.Receiver")
	}
	return receiverSource(messageSem, r.Receive, r)
}

func fromBatchedReceiver(r broker.BatchedReceiver) *source[broker.Message] {
	if isNil(r) {
		return failing(messageSem, "broker.BatchedReceiver")
	}
	return batchedReceiverSource(messageSem, r.ReceiveBatch, r)
}

func fromRecordIterator(it broker.RecordIterator) *source[broker.Record] {
	if isNil(it) {
		return failing(recordSem, "broker.RecordIterator")
	}
	return iteratorSource(recordSem, it.NextRecord, it)
}

func fromBatchedIterator(it broker.BatchedIterator) *source[broker.Record] {
	if isNil(it) {
		return failing(recordSem, "broker.BatchedIterator")
	}
	return batchedIteratorSource(recordSem, it.NextBatch, it)
}

func fromRecordStream(s broker.RecordStream) *source[broker.Record] {
	if isNil(s) {
		return failing(recordSem, "broker.RecordStream")
	}
	return streamSource(recordSem, s.Stream, s)
}

func fromBatchedRecordStream(s broker.BatchedRecordStream) *source[broker.Record] {
	if isNil(s) {
		return failing(recordSem, "broker.BatchedRecordStream")
	}
	return batchedStreamSource(recordSem, s.BatchStream, s)
}

func fromRecordReceiver(r broker.RecordReceiver) *source[broker.Record] {
	if isNil(r) {
		return failing(recordSem, "broker.RecordReceiver")
	}
	return receiverSource(recordSem, r.Receive, r)
}

func fromBatchedRecordReceiver(r broker.BatchedRecordReceiver) *source[broker.Record] {
	if isNil(r) {
		return failing(recordSem, "broker.BatchedRecordReceiver")
	}
	return batchedReceiverSource(recordSem, r.ReceiveBatch, r)
}

// The to* functions build each target shape on a source.

func toStream[T Item](src *source[T], opts []Option) *Stream[T] {
	return &Stream[T]{src: src, cfg: newConfig(opts)}
}

func toBatchStream[T Item](src *source[T], opts []Option) *BatchStream[T] {
	return &BatchStream[T]{src: src, cfg: newConfig(opts)}
}

func toReceiver(src *source[broker.Message], opts []Option) *Receiver[broker.Message] {
	return &Receiver[broker.Message]{src: src, cfg: newConfig(opts), engine: receiveQueue[broker.Message]}
}

func toBatchedReceiver(src *source[broker.Message], opts []Option) *BatchReceiver[broker.Message] {
	return &BatchReceiver[broker.Message]{src: src, cfg: newConfig(opts), engine: receiveQueueBatches[broker.Message]}
}

func toRecordReceiver(src *source[broker.Record], opts []Option) *Receiver[broker.Record] {
	return &Receiver[broker.Record]{src: src, cfg: newConfig(opts), engine: receiveRecords}
}

func toBatchedRecordReceiver(src *source[broker.Record], opts []Option) *BatchReceiver[broker.Record] {
	return &BatchReceiver[broker.Record]{src: src, cfg: newConfig(opts), engine: receiveRecordBatches}
}

// Every adapter type implements the broker interface it is named after,
// and the record ones forward revocations.
var (
	_ broker.MessageIterator        = (*MessageIterator)(nil)
	_ broker.RecordIterator         = (*RecordIterator)(nil)
	_ broker.BatchedMessageIterator = (*BatchIterator[broker.Message])(nil)
	_ broker.BatchedIterator        = (*BatchIterator[broker.Record])(nil)
	_ broker.MessageStream          = (*Stream[broker.Message])(nil)
	_ broker.RecordStream           = (*Stream[broker.Record])(nil)
	_ broker.BatchedMessageStream   = (*BatchStream[broker.Message])(nil)
	_ broker.BatchedRecordStream    = (*BatchStream[broker.Record])(nil)
	_ broker.Receiver               = (*Receiver[broker.Message])(nil)
	_ broker.RecordReceiver         = (*Receiver[broker.Record])(nil)
	_ broker.BatchedReceiver        = (*BatchReceiver[broker.Message])(nil)
	_ broker.BatchedRecordReceiver  = (*BatchReceiver[broker.Record])(nil)

	_ broker.RevocationNotifier = (*RecordIterator)(nil)
	_ broker.RevocationNotifier = (*BatchIterator[broker.Record])(nil)
	_ broker.RevocationNotifier = (*Stream[broker.Record])(nil)
	_ broker.RevocationNotifier = (*BatchStream[broker.Record])(nil)
	_ broker.RevocationNotifier = (*Receiver[broker.Record])(nil)
	_ broker.RevocationNotifier = (*BatchReceiver[broker.Record])(nil)
)
