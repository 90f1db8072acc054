// Package broker is the contract of pullkit/broker: pull-model streaming
// primitives that keep queue semantics and log semantics apart, with one
// subpackage per backend (inmem, kafka, jetstream, pubsub, pulsar,
// servicebus) and adapters that turn any consumer shape into any other.
//
// # Two semantics
//
// A queue hands out Messages. Each is settled on its own: Ack (processed),
// Nack (deliver again) or Reject (poison), in any order, from any goroutine.
// A message that is nacked, or whose ack deadline passes, is redelivered.
// Pub/Sub, Service Bus, JetStream with explicit acks, Pulsar Shared and Kafka
// share groups are queues.
//
// A log hands out Records, each at an offset of a partition. Acking a record
// commits its offset, and a commit covers every earlier record of the same
// partition; nothing is redelivered on its own, the log replays from the last
// commit. So records of a partition are processed in order, parallelism comes
// from partitions (or keys), and a record must never be acked before all
// earlier records of its partition were processed. Kafka consumer groups,
// Pulsar cumulative acks and JetStream AckAll are logs.
//
// # Shapes
//
// Each semantics comes in three shapes, single or batched:
//
//	                 queue                   log
//	iterator         MessageIterator         RecordIterator
//	batched iterator BatchedMessageIterator  BatchedIterator
//	stream           MessageStream           RecordStream
//	batched stream   BatchedMessageStream    BatchedRecordStream
//	receiver         Receiver                RecordReceiver
//	batched receiver BatchedReceiver         BatchedRecordReceiver
//
// Pick an iterator for a custom loop (range over Messages or Records), a
// batched iterator for ETL jobs that write in bulk, a receiver for a worker
// pool that the library runs for you, and a stream to select on alongside
// other channels. A backend implements its native shapes; package adapters
// builds the rest.
//
// # Settlement
//
// Settlement happens once: the first Ack, Nack or Reject of a message (or of
// any copy of it) wins and later calls do nothing, so a zero Message can be
// acked safely. Ack and Nack do not wait; AckContext and Settle wait for the
// broker's confirmation and return its error. Each backend's doc says which
// of its settlements the broker confirms and which are best-effort.
// DeliveryCount tells how often a message was delivered, and PoisonPolicy is
// the one policy for messages that keep failing.
//
// # Publishing
//
// A Publisher opens Topics; Topic.Publish waits for the broker's
// confirmation and BatchPublish reports per message, through *BatchError,
// which messages were sent, which failed and which are unknown. Invalid
// input (nil attribute values, empty topic names, oversize payloads) is
// refused with an error wrapping a sentinel of this package before anything
// is sent.
//
// # Lifecycle
//
// Every blocking call honours its context and returns an error matching
// ctx.Err() soon after it ends. Consumers and publishers have an idempotent
// Close that stops fetching, nacks what was pulled but not handed out,
// flushes acks, commits and publishes, never deletes a durable subscription
// or group, and leaves no goroutine behind.
package broker
