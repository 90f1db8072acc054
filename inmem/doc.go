// Package inmem is an in-memory broker with both semantics of package
// broker on the same topics: queue subscriptions (Subscribe, QueueConsumer)
// and consumer groups over a partitioned log (JoinGroup, LogConsumer). It is
// meant for unit tests and examples: nothing waits on a network or a disk,
// it starts no goroutine, and its clock and failures are under the test's
// control.
//
//	b := inmem.New()
//	defer b.Close()
//	pub := b.Publisher()
//	topic, _ := pub.Topic("orders")
//	sub, _ := b.Subscribe("orders", "billing", inmem.QueueConfig{})
//	_ = topic.Publish(ctx, broker.OutboundMessage{Key: "42", Data: []byte("paid")})
//	msg, _ := sub.NextMessage(ctx)
//	_ = msg.AckContext(ctx)
//
// # Semantics
//
// A topic is a partitioned log, created on first use with
// WithDefaultPartitions partitions (4 unless set) or explicitly with
// CreateTopic. Publishing appends to partition FNV-1a(Key) mod partitions
// (32-bit FNV-1a of the key's bytes), or round-robin for an empty key.
// Offsets start at 0 in each partition, and message IDs are
// "partition-offset", unique within a topic.
// Topics keep every message for the broker's lifetime: there is no
// retention limit, which suits tests and not long-running processes.
//
// A queue subscription, named per topic, receives every message published
// after it was first created, and lives until the Broker does: closing its
// consumers never deletes it, and Subscribe with the same name resumes it.
// Its consumers compete for its messages. Each delivered message is
// settled on its own:
//   - Ack removes it.
//   - Nack makes it deliverable again after Settlement.Delay, or
//     PoisonPolicy.NackDelay when that is 0, or at once.
//   - Reject dead-letters it (see below).
//   - A message left unsettled for QueueConfig.AckDeadline (30s by default)
//     is delivered again, and so is every message a consumer holds when it
//     is closed. Message.Extend(d) keeps it leased until at least d from
//     now (it never shortens the lease).
//
// Message.DeliveryCount is 1 on the first delivery. When a message would be
// delivered more than PoisonPolicy.MaxDeliveries times it is dead-lettered
// instead. Dead-lettering forwards the message, with extra attributes
// (AttrDeadLetterReason, AttrDeadLetterSource, AttrDeadLetterDeliveries,
// AttrDeadLetterID), to PoisonPolicy.DeadLetterTopic when one is set and
// Action is PoisonDeadLetter; otherwise the message is dropped. Either way,
// Broker.DeadLetters lists it. The policy of the consumer that held the
// message applies.
//
// A consumer group, named per topic, splits the topic's partitions among its
// open consumers: partition p goes to the (p mod n)-th of the n members in
// join order, recomputed whenever one joins or closes. A consumer reads its
// partitions in offset order, taking them in turn. Record.Ack commits the
// record's offset + 1 as the partition's next position: cumulatively, and
// never backwards. A consumer that gets a partition starts at that position
// (or at the beginning, or with LogConfig.StartAtEnd the end, when the group
// never committed there), so records that were not committed are read
// again. When a rebalance takes a partition away, the old owner stops
// reading it, its OnRevoke callbacks run before the new owner can read it,
// and acks of its records from the old assignment are refused with
// broker.ErrPartitionRevoked. Broker.Committed reports the positions.
//
// Queue and log consumers of one topic are independent: the same message
// may be read by subscriptions and groups alike.
//
// NextMessage, NextRecord and NextBatch block until something is available,
// ctx ends (returning an error matching ctx.Err(), having taken nothing) or
// the consumer closes (broker.ErrClosed). NextBatch returns whatever is
// available, up to MaxBatch, as soon as there is one item; it never waits
// to fill a batch. Close of the Broker closes every publisher and consumer
// made from it.
//
// # Attribute mapping
//
// None: attributes are kept as given, after broker.ValidateAttributes
// refused nil and unsupported values, with the map and any []byte values
// copied at publish time. Data is copied too, so the publisher may reuse its
// buffers. Delivered Data and Attributes are shared between deliveries of a
// message, subscriptions and groups: consumers must treat them as
// read-only. The size limit (WithMaxMessageSize, 1 MiB by default) applies
// to Data alone.
//
// # Confirmed settlements
//
// All of them, synchronously: Ack, Nack, Reject, Record.Ack and Extend are
// applied before they return, so AckContext and Settle return nil only once
// the settlement took effect, and report why it did not otherwise
// (broker.ErrClosed after the consumer closed, ErrDeadlineExpired after the
// message was delivered again, broker.ErrPartitionRevoked after a
// rebalance, or an injected fault). The fire-and-forget Ack and Nack discard
// that error. Publish and BatchPublish are confirmed the same way.
//
// # Testing
//
// WithClock(NewFakeClock(t0)) makes ack deadlines and nack delays follow a
// FakeClock: Advance runs the timers that fall due before it returns, so a
// test can check redelivery without sleeping.
//
// Fault hooks make the next n operations fail with a given error:
// FailNextPublishes (per topic; in a batch, per message, reported in a
// *broker.BatchError), FailNextCommits (per group) and FailNextSettles (per
// subscription; the message then stays unsettled until its deadline, as if
// the settlement were lost).
//
// The broker starts no goroutine of its own. The only background work is
// the Clock's timers (one per subscription with deadlines pending), which
// Close stops, so tests can check for leaks with go.uber.org/goleak.
package inmem
