package adapters

// Code generated for the conversion matrix; one entry per exported conversion.

import "github.com/pullkit/broker"

type conversion struct {
	from, to string
	convert  func(src any, opts ...Option) any
}

var messageConversions = []conversion{
	{"MessageIterator", "BatchedMessageIterator", func(src any, opts ...Option) any {
		return MessageIteratorToBatchedMessageIterator(src.(broker.MessageIterator), opts...)
	}},
	{"MessageIterator", "MessageStream", func(src any, opts ...Option) any {
		return MessageIteratorToMessageStream(src.(broker.MessageIterator), opts...)
	}},
	{"MessageIterator", "BatchedMessageStream", func(src any, opts ...Option) any {
		return MessageIteratorToBatchedMessageStream(src.(broker.MessageIterator), opts...)
	}},
	{"MessageIterator", "Receiver", func(src any, opts ...Option) any {
		return MessageIteratorToReceiver(src.(broker.MessageIterator), opts...)
	}},
	{"MessageIterator", "BatchedReceiver", func(src any, opts ...Option) any {
		return MessageIteratorToBatchedReceiver(src.(broker.MessageIterator), opts...)
	}},
	{"BatchedMessageIterator", "MessageIterator", func(src any, opts ...Option) any {
		return BatchedMessageIteratorToMessageIterator(src.(broker.BatchedMessageIterator), opts...)
	}},
	{"BatchedMessageIterator", "MessageStream", func(src any, opts ...Option) any {
		return BatchedMessageIteratorToMessageStream(src.(broker.BatchedMessageIterator), opts...)
	}},
	{"BatchedMessageIterator", "BatchedMessageStream", func(src any, opts ...Option) any {
		return BatchedMessageIteratorToBatchedMessageStream(src.(broker.BatchedMessageIterator), opts...)
	}},
	{"BatchedMessageIterator", "Receiver", func(src any, opts ...Option) any {
		return BatchedMessageIteratorToReceiver(src.(broker.BatchedMessageIterator), opts...)
	}},
	{"BatchedMessageIterator", "BatchedReceiver", func(src any, opts ...Option) any {
		return BatchedMessageIteratorToBatchedReceiver(src.(broker.BatchedMessageIterator), opts...)
	}},
	{"MessageStream", "MessageIterator", func(src any, opts ...Option) any {
		return MessageStreamToMessageIterator(src.(broker.MessageStream), opts...)
	}},
	{"MessageStream", "BatchedMessageIterator", func(src any, opts ...Option) any {
		return MessageStreamToBatchedMessageIterator(src.(broker.MessageStream), opts...)
	}},
	{"MessageStream", "BatchedMessageStream", func(src any, opts ...Option) any {
		return MessageStreamToBatchedMessageStream(src.(broker.MessageStream), opts...)
	}},
	{"MessageStream", "Receiver", func(src any, opts ...Option) any { return MessageStreamToReceiver(src.(broker.MessageStream), opts...) }},
	{"MessageStream", "BatchedReceiver", func(src any, opts ...Option) any {
		return MessageStreamToBatchedReceiver(src.(broker.MessageStream), opts...)
	}},
	{"BatchedMessageStream", "MessageIterator", func(src any, opts ...Option) any {
		return BatchedMessageStreamToMessageIterator(src.(broker.BatchedMessageStream), opts...)
	}},
	{"BatchedMessageStream", "BatchedMessageIterator", func(src any, opts ...Option) any {
		return BatchedMessageStreamToBatchedMessageIterator(src.(broker.BatchedMessageStream), opts...)
	}},
	{"BatchedMessageStream", "MessageStream", func(src any, opts ...Option) any {
		return BatchedMessageStreamToMessageStream(src.(broker.BatchedMessageStream), opts...)
	}},
	{"BatchedMessageStream", "Receiver", func(src any, opts ...Option) any {
		return BatchedMessageStreamToReceiver(src.(broker.BatchedMessageStream), opts...)
	}},
	{"BatchedMessageStream", "BatchedReceiver", func(src any, opts ...Option) any {
		return BatchedMessageStreamToBatchedReceiver(src.(broker.BatchedMessageStream), opts...)
	}},
	{"Receiver", "MessageIterator", func(src any, opts ...Option) any { return ReceiverToMessageIterator(src.(broker.Receiver), opts...) }},
	{"Receiver", "BatchedMessageIterator", func(src any, opts ...Option) any {
		return ReceiverToBatchedMessageIterator(src.(broker.Receiver), opts...)
	}},
	{"Receiver", "MessageStream", func(src any, opts ...Option) any { return ReceiverToMessageStream(src.(broker.Receiver), opts...) }},
	{"Receiver", "BatchedMessageStream", func(src any, opts ...Option) any {
		return ReceiverToBatchedMessageStream(src.(broker.Receiver), opts...)
	}},
	{"Receiver", "BatchedReceiver", func(src any, opts ...Option) any { return ReceiverToBatchedReceiver(src.(broker.Receiver), opts...) }},
	{"BatchedReceiver", "MessageIterator", func(src any, opts ...Option) any {
		return BatchedReceiverToMessageIterator(src.(broker.BatchedReceiver), opts...)
	}},
	{"BatchedReceiver", "BatchedMessageIterator", func(src any, opts ...Option) any {
		return BatchedReceiverToBatchedMessageIterator(src.(broker.BatchedReceiver), opts...)
	}},
	{"BatchedReceiver", "MessageStream", func(src any, opts ...Option) any {
		return BatchedReceiverToMessageStream(src.(broker.BatchedReceiver), opts...)
	}},
	{"BatchedReceiver", "BatchedMessageStream", func(src any, opts ...Option) any {
		return BatchedReceiverToBatchedMessageStream(src.(broker.BatchedReceiver), opts...)
	}},
	{"BatchedReceiver", "Receiver", func(src any, opts ...Option) any {
		return BatchedReceiverToReceiver(src.(broker.BatchedReceiver), opts...)
	}},
}

var recordConversions = []conversion{
	{"RecordIterator", "BatchedIterator", func(src any, opts ...Option) any {
		return RecordIteratorToBatchedIterator(src.(broker.RecordIterator), opts...)
	}},
	{"RecordIterator", "RecordStream", func(src any, opts ...Option) any {
		return RecordIteratorToRecordStream(src.(broker.RecordIterator), opts...)
	}},
	{"RecordIterator", "BatchedRecordStream", func(src any, opts ...Option) any {
		return RecordIteratorToBatchedRecordStream(src.(broker.RecordIterator), opts...)
	}},
	{"RecordIterator", "RecordReceiver", func(src any, opts ...Option) any {
		return RecordIteratorToRecordReceiver(src.(broker.RecordIterator), opts...)
	}},
	{"RecordIterator", "BatchedRecordReceiver", func(src any, opts ...Option) any {
		return RecordIteratorToBatchedRecordReceiver(src.(broker.RecordIterator), opts...)
	}},
	{"BatchedIterator", "RecordIterator", func(src any, opts ...Option) any {
		return BatchedIteratorToRecordIterator(src.(broker.BatchedIterator), opts...)
	}},
	{"BatchedIterator", "RecordStream", func(src any, opts ...Option) any {
		return BatchedIteratorToRecordStream(src.(broker.BatchedIterator), opts...)
	}},
	{"BatchedIterator", "BatchedRecordStream", func(src any, opts ...Option) any {
		return BatchedIteratorToBatchedRecordStream(src.(broker.BatchedIterator), opts...)
	}},
	{"BatchedIterator", "RecordReceiver", func(src any, opts ...Option) any {
		return BatchedIteratorToRecordReceiver(src.(broker.BatchedIterator), opts...)
	}},
	{"BatchedIterator", "BatchedRecordReceiver", func(src any, opts ...Option) any {
		return BatchedIteratorToBatchedRecordReceiver(src.(broker.BatchedIterator), opts...)
	}},
	{"RecordStream", "RecordIterator", func(src any, opts ...Option) any {
		return RecordStreamToRecordIterator(src.(broker.RecordStream), opts...)
	}},
	{"RecordStream", "BatchedIterator", func(src any, opts ...Option) any {
		return RecordStreamToBatchedIterator(src.(broker.RecordStream), opts...)
	}},
	{"RecordStream", "BatchedRecordStream", func(src any, opts ...Option) any {
		return RecordStreamToBatchedRecordStream(src.(broker.RecordStream), opts...)
	}},
	{"RecordStream", "RecordReceiver", func(src any, opts ...Option) any {
		return RecordStreamToRecordReceiver(src.(broker.RecordStream), opts...)
	}},
	{"RecordStream", "BatchedRecordReceiver", func(src any, opts ...Option) any {
		return RecordStreamToBatchedRecordReceiver(src.(broker.RecordStream), opts...)
	}},
	{"BatchedRecordStream", "RecordIterator", func(src any, opts ...Option) any {
		return BatchedRecordStreamToRecordIterator(src.(broker.BatchedRecordStream), opts...)
	}},
	{"BatchedRecordStream", "BatchedIterator", func(src any, opts ...Option) any {
		return BatchedRecordStreamToBatchedIterator(src.(broker.BatchedRecordStream), opts...)
	}},
	{"BatchedRecordStream", "RecordStream", func(src any, opts ...Option) any {
		return BatchedRecordStreamToRecordStream(src.(broker.BatchedRecordStream), opts...)
	}},
	{"BatchedRecordStream", "RecordReceiver", func(src any, opts ...Option) any {
		return BatchedRecordStreamToRecordReceiver(src.(broker.BatchedRecordStream), opts...)
	}},
	{"BatchedRecordStream", "BatchedRecordReceiver", func(src any, opts ...Option) any {
		return BatchedRecordStreamToBatchedRecordReceiver(src.(broker.BatchedRecordStream), opts...)
	}},
	{"RecordReceiver", "RecordIterator", func(src any, opts ...Option) any {
		return RecordReceiverToRecordIterator(src.(broker.RecordReceiver), opts...)
	}},
	{"RecordReceiver", "BatchedIterator", func(src any, opts ...Option) any {
		return RecordReceiverToBatchedIterator(src.(broker.RecordReceiver), opts...)
	}},
	{"RecordReceiver", "RecordStream", func(src any, opts ...Option) any {
		return RecordReceiverToRecordStream(src.(broker.RecordReceiver), opts...)
	}},
	{"RecordReceiver", "BatchedRecordStream", func(src any, opts ...Option) any {
		return RecordReceiverToBatchedRecordStream(src.(broker.RecordReceiver), opts...)
	}},
	{"RecordReceiver", "BatchedRecordReceiver", func(src any, opts ...Option) any {
		return RecordReceiverToBatchedRecordReceiver(src.(broker.RecordReceiver), opts...)
	}},
	{"BatchedRecordReceiver", "RecordIterator", func(src any, opts ...Option) any {
		return BatchedRecordReceiverToRecordIterator(src.(broker.BatchedRecordReceiver), opts...)
	}},
	{"BatchedRecordReceiver", "BatchedIterator", func(src any, opts ...Option) any {
		return BatchedRecordReceiverToBatchedIterator(src.(broker.BatchedRecordReceiver), opts...)
	}},
	{"BatchedRecordReceiver", "RecordStream", func(src any, opts ...Option) any {
		return BatchedRecordReceiverToRecordStream(src.(broker.BatchedRecordReceiver), opts...)
	}},
	{"BatchedRecordReceiver", "BatchedRecordStream", func(src any, opts ...Option) any {
		return BatchedRecordReceiverToBatchedRecordStream(src.(broker.BatchedRecordReceiver), opts...)
	}},
	{"BatchedRecordReceiver", "RecordReceiver", func(src any, opts ...Option) any {
		return BatchedRecordReceiverToRecordReceiver(src.(broker.BatchedRecordReceiver), opts...)
	}},
}
