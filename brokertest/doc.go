// Package brokertest is the conformance suite of pullkit/broker: the
// definition of "works" for every backend of this module and for anyone's own
// implementation of the broker contract. A backend's tests hand the suite a
// small harness (make a topic, a publisher, a consumer) and a list of the
// features it has; the suite runs every test of the contract against it,
// skips the ones whose features are missing, and benchmarks it on the same
// work as every other backend.
//
// # Adopting the suite
//
// Write a conformance_test.go in the backend's package with one harness per
// semantics the backend has. For a queue backend:
//
//	func queueHarness(tb testing.TB) brokertest.QueueHarness {
//		srv := startTestServer(tb) // whatever your backend needs; registers tb.Cleanup
//		return brokertest.QueueHarness{
//			NewTopic: func(ctx context.Context, t testing.TB) (string, error) {
//				return srv.CreateTopic(ctx, "t-"+randomSuffix())
//			},
//			Publisher: func(ctx context.Context, t testing.TB) (broker.Publisher, error) {
//				return mybackend.NewPublisher(ctx, srv.Config())
//			},
//			Subscribe: func(ctx context.Context, t testing.TB, topic, sub string, o brokertest.SubscribeOptions) (brokertest.QueueConsumer, error) {
//				return mybackend.Subscribe(ctx, srv.Config(), topic, sub, mybackend.SubscribeConfig{
//					AckDeadline: o.AckDeadline,
//					Poison:      broker.PoisonPolicy{MaxDeliveries: o.MaxDeliveries},
//					MaxBatch:    o.MaxBatch,
//				})
//			},
//			Features: brokertest.QueueFeatures{DeliveryCount: true, Reject: true},
//			Options:  brokertest.Options{Timeout: 30 * time.Second},
//		}
//	}
//
//	func TestQueueConformance(t *testing.T)      { brokertest.RunQueueTests(t, queueHarness(t)) }
//	func BenchmarkQueueConformance(b *testing.B) { brokertest.RunQueueBenchmarks(b, queueHarness(b)) }
//
// A log backend does the same with LogHarness, RunLogTests and
// RunLogBenchmarks; a backend with both semantics runs both. The suite closes
// every consumer it opens and every publisher that implements io.Closer; the
// harness registers t.Cleanup for anything else it creates (servers,
// clients). inmem/conformance_test.go is a complete example.
//
// # Harness rules
//
// NewTopic returns a fresh, empty topic for each call: tests never share one.
// Queue subscriptions and log groups are named by the suite, uniquely within
// a process ("sub12", "group7"); reopening a name must reach the same
// durable subscription or group, which is how the suite checks what Close
// leaves behind. A subscription receives what is published after its first
// Subscribe; a group with no commit starts at the beginning of each partition
// (configure Kafka, Pulsar or JetStream consumers that way). Harness functions
// are called from many tests at once; every call made for one test receives
// that test's testing.TB, so per-test state (a server or broker per test, as
// inmem's harness does) can be keyed by it.
//
// # Features
//
// Every test of the contract runs on every backend. QueueFeatures and
// LogFeatures declare what goes beyond it; a test that needs an undeclared
// feature is skipped with "requires QueueFeatures.X" (or LogFeatures.X), so
// `go test -v` lists what a backend does not offer. Declaring a feature is a
// promise the suite checks: DeliveryCount, AckDeadline (short enough to
// wait for), Extend, Reject, NackDelay, MaxDeliveries, MaxMessageSize,
// BatchedIterator and TypedAttributes for queues; MaxPartitions, Rebalance,
// MaxMessageSize, BatchedIterator and TypedAttributes for logs. A backend
// that fails a test because of a known bug must not hide it by turning a
// feature off without a comment saying so.
//
// The suite tests itself: its own tests run it against a small fake that
// declares every feature, and against a dozen copies of that fake with one
// deliberate bug each (lost acks, rewound commits, leaked goroutines, a
// context ignored…), each of which the suite must fail.
//
// # What the tests prove
//
// Each test is a subtest named as the behaviour it checks.
//
// Publishing, for queues and logs alike:
//   - PublishedMessageArrivesWithKeyDataAndAttributes: key, data and
//     attributes of every supported type survive (string values always,
//     the others by type and value with TypedAttributes, else by presence);
//     messages have an ID and a PublishTime, records their Topic.
//   - EmptyAndLargePayloadsArriveIntact: an empty payload and a 256 KiB one
//     (or half of MaxMessageSize) come back byte for byte.
//   - BatchPublishDeliversEveryMessage, ConcurrentPublishesOnOneTopicAllArrive:
//     nothing lost, nothing doubled.
//   - BatchWithAnInvalidMessageSendsNone: one bad message makes BatchPublish
//     return a *broker.BatchError marking every message failed, and none
//     is delivered.
//   - InvalidAttributesAreRefusedBeforeSending (nil values, unsupported types,
//     empty keys), EmptyTopicNameIsRefused, OversizePayloadIsRefusedBeforeSending:
//     the right sentinel, and nothing delivered.
//   - PublishWithAnEndedContextFails, PublisherCloseIsIdempotentAndFinal.
//
// Queues:
//   - AckedMessageIsNotRedelivered, AckContextConfirmsTheAck: not to the same
//     consumer, nor to a new one after Close.
//   - NackedMessageIsRedelivered, with DeliveryCount 1 then 2.
//   - UnsettledMessagesAreRedeliveredAfterClose: held and prefetched messages
//     come back to the next consumer of the subscription.
//   - SettlementIsOnceOnly: the first settlement of a message or any copy
//     wins; later Ack and Nack do nothing, AckContext and Settle return
//     broker.ErrAlreadySettled.
//   - ConcurrentSettlementSettlesEachMessageOnce: racing AckContext and Nack
//     from many goroutines; exactly the messages whose nack won come back.
//   - CompetingConsumersShareMessagesWithoutDuplicates.
//   - NextMessageReturnsPromptlyWhenItsContextEnds (already canceled, deadline
//     passing, canceled while waiting: an error matching ctx.Err() within
//     Options.Prompt), CanceledNextMessageLosesNothing (calls with
//     sub-millisecond deadlines racing arrivals still see every message;
//     every other call is a NextBatch with BatchedIterator).
//   - CloseIsIdempotentAndEndsTheConsumer, CloseUnblocksAPendingNextMessage:
//     broker.ErrClosed after and during Close.
//   - With features: AckDeadlineExpiryRedelivers, ExtendKeepsTheMessageLeased,
//     NackWithDelayIsNotRedeliveredEarly, RejectedMessageIsNotRedelivered and
//     MessagePastMaxDeliveriesIsNotDeliveredAgain (both reaching
//     QueueHarness.DeadLetters if set), BatchesAreNeverEmptyNorOverMaxBatch.
//
// Logs:
//   - RecordsOfEachPartitionArriveInOffsetOrder: offsets strictly increase
//     per partition, one key stays in one partition and in publishing order.
//   - CommitIsCumulativeAndResumesAfterRestart: acking one record commits it
//     and every earlier one of its partition; a restarted group resumes
//     right after it, replaying exactly the uncommitted records.
//   - CommittedPositionNeverMovesBackwards, ConcurrentAcksLeaveTheHighestCommitted.
//   - RecordSettlementIsOnceOnly, NewGroupReadsEveryRecordFromTheStart.
//   - RebalanceLosesNothingAndReplaysNothingCommitted (Rebalance): two
//     consumers of one group, one leaving midway; every record is processed
//     and no record whose commit was confirmed is read again.
//   - RevokedPartitionsAreReportedAndRefuseAcks (Rebalance, at least two
//     partitions, and consumers implementing broker.RevocationNotifier):
//     when a second consumer joins, the first is told which partitions it
//     lost, acks of their records fail with broker.ErrPartitionRevoked, and
//     the new owner reads them again.
//   - NextRecordReturnsPromptlyWhenItsContextEnds, CanceledNextRecordSkipsNothing
//     (NextBatch too, with BatchedIterator, as for queues),
//     CloseIsIdempotentAndEndsTheConsumer, CloseUnblocksAPendingNextRecord,
//     BatchesAreNeverEmptyNorOverMaxBatch (BatchedIterator).
//
// Absence ("not redelivered", "nothing sent") can only be observed for a
// while: those checks wait Options.Absence (250 ms by default) for something
// that must not come. Raise it for backends that redeliver slowly.
//
// # Running: parallelism, watchdog, leaks
//
// Tests spend their time waiting on the broker, so they run concurrently,
// Options.Parallel at a time (16 by default; Options.Serial for test servers
// that cannot take it). Each test has a context that ends at Options.Timeout;
// a test still running shortly after is failed by a watchdog that closes what
// it opened, and one still running 10 s later panics with every goroutine's
// stack, so a hung backend fails instead of hanging go test.
//
// After all its tests, each Run function checks with go.uber.org/goleak that
// no goroutine started during them is still running. Pass
// Options.LeakOptions (goleak.IgnoreTopFunction and the like) for client
// libraries that keep background goroutines, or set Options.SkipLeakCheck.
// The check compares with the goroutines alive when the Run function
// started, so call it from a test that is not parallel with others.
//
// # Benchmarks
//
// RunQueueBenchmarks and RunLogBenchmarks measure Publish (one message per
// call), BatchPublish (batches of 100), consume-and-settle (NextMessage+Ack,
// NextRecord+Ack) and, for batched iterators, NextBatch with an Ack per
// message (queue) or of each partition's last record (log). Every op is one
// message of 100 bytes with a key and one attribute, so ns/op, B/op and
// allocs/op are per message on every backend, with msgs/s alongside.
package brokertest
