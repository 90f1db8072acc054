// Package kafka is the Kafka backend of pullkit/broker, on franz-go
// (github.com/twmb/franz-go/pkg/kgo). It offers both semantics of package
// broker: a log over consumer groups and a queue over share groups
// (KIP-932), plus a Publisher and a TransactionalPublisher.
//
//	p, err := kafka.NewPublisher(ctx, kafka.Config{Brokers: []string{"localhost:9092"}})
//	logc, err := kafka.JoinGroup(ctx, cfg, "billing", []string{"orders"}, kafka.LogOptions{})
//	queue, err := kafka.JoinShareGroup(ctx, cfg, "mailers", []string{"emails"}, kafka.QueueOptions{})
//
// # Log semantics: consumer groups
//
// JoinGroup returns a *LogConsumer, a broker.RecordIterator and
// broker.BatchedIterator over a consumer group, committing manually.
//
// Record.Ack means: commit this record's offset+1 for its partition, which
// covers every earlier record of the partition (broker.Record's contract).
// Acks only move a partition's commit position forward: acking offset 6
// then offset 2 leaves 7 committed. Acks may come from any goroutine and in
// any order, so the caller acks a record only once every earlier record of
// its partition was processed (the adapters' record receivers do that for
// you with a contiguous watermark). Ack does not wait: a committer
// goroutine sends the latest position of every partition in one
// OffsetCommit, at most every LogOptions.CommitInterval (100 ms by
// default), one commit in flight at a time. AckContext and Flush commit at
// once and return the broker's answer (confirmed). A failed commit is
// retried while the partition stays assigned, and reported: to
// LogOptions.OnCommitError if set, else as the error of the next NextRecord
// or NextBatch call; Close reports acked offsets it could not commit.
//
// Rebalances: a poll's records stay tied to their partition's assignment
// (kgo.BlockRebalanceOnPoll; the consumer lets a rebalance proceed when its
// buffer is empty and it polls again). When a partition is revoked, before
// its new owner can read it, the consumer commits what was acked for it,
// drops its buffered records, tells the OnRevoke listeners
// (broker.RevocationNotifier) and refuses later acks of its records with
// broker.ErrPartitionRevoked: the new owner replays them from the commit.
// A lost partition (session expiry) is handled the same way without the
// commit.
//
// New groups start at Config.StartOffset (default: the earliest record).
// A consumer of a topic that does not exist yet reads nothing until it
// appears (franz-go keeps looking it up).
// Close commits, leaves the group so its partitions move at once, and keeps
// the group's commits; records handed out and not acked are replayed.
//
// # Queue semantics: share groups
//
// JoinShareGroup returns a *QueueConsumer, a broker.MessageIterator and
// broker.BatchedMessageIterator over a share group:
//
//   - Ack accepts the message: the broker never delivers it again.
//   - Nack releases it: the broker delivers it again at once, to any
//     member, with DeliveryCount one higher. Settlement.Delay is not
//     supported (Kafka has no delayed release).
//   - Reject rejects it: the broker archives it and never delivers it
//     again. Kafka has no dead-letter topic; PoisonPolicy.MaxDeliveries
//     becomes the group's share.delivery.count.limit (messages delivered
//     that many times are archived).
//   - Extend renews the acquisition lock (Kafka 4.2+, KIP-1222). Kafka
//     renews by the group's fixed lock duration, so the consumer renews
//     again whenever half of it is left, until the asked duration passed
//     or the message is settled.
//
// Message.DeliveryCount is the broker's delivery count. A message's ID is
// "<partition>-<offset>". Ack, Nack and Reject do not wait (franz-go sends
// them with the next share fetch or within a second); AckContext and
// Settle flush them and return the broker's answer for the message's
// partition (confirmed). A message not settled before its acquisition lock
// ends (share.record.lock.duration.ms, 30 s by default) is delivered again.
//
// franz-go accepts every unsettled message of a poll when it polls next. So
// that nothing is accepted behind the caller's back, the consumer polls
// only when every message it handed out is settled or at the end of its
// lock (the consumer releases such a message a quarter of the lock, at most
// a second, before the broker would, and its late settlement fails):
// NextMessage waits for that. Settle messages before asking for more than one poll's
// worth (QueueOptions.MaxBatch, default 500). Close releases every message
// handed out and not settled, and every message fetched but not handed
// out, then leaves the group.
//
// Share-group settings are group configurations, which QueueOptions can
// write before joining (this needs the AlterConfigs permission on the
// group): StartOffset (share.auto.offset.reset; Kafka's default is
// latest, so a new group misses what was published before it first
// fetched), LockDuration (share.record.lock.duration.ms) and
// Poison.MaxDeliveries (share.delivery.count.limit). Share groups read
// with the group's share.isolation.level, not Config.ReadUncommitted.
//
// # Publishing
//
// Publisher.Topic(name).Publish produces one record and waits for the
// broker's acknowledgement (acks=all); BatchPublish hands every record to
// franz-go at once (batched per partition, no goroutine per message) and
// reports per message in a *broker.BatchError: sent, failed (the broker
// refused it, or it was never sent) or unknown (no answer before ctx ended
// or a retry limit). A batch with an invalid message sends nothing.
// Producing is idempotent unless Config.DisableIdempotence. Both calls end
// franz-go's linger for what is buffered (kgo.Client.Flush, which returns
// once their own records are acknowledged), so a batch goes out in as few
// requests as franz-go can make and a single Publish does not wait 10 ms. A message's Key is
// the record key, which picks the partition.
//
// NewTransactionalPublisher publishes in Kafka transactions: Begin, then
// Publish/BatchPublish, then Commit (false with an error if a record
// failed: the transaction is aborted instead) or Abort. Consumers of this
// package read committed records only unless Config.ReadUncommitted.
//
// # Attributes and headers
//
// Attributes travel as record headers. A string is the header's value, as
// is, so every Kafka tool reads it. Any other supported type (see
// broker.AttributeSupported) is written as text ([]byte raw, numbers in
// decimal, floats in the shortest form that parses back exactly, time.Time
// in RFC 3339 with nanoseconds, time.Duration in nanoseconds) plus a
// header "pullkit.type.<key>" naming its type, so it comes back with the
// type and value it was published with; type headers are not shown as
// attributes. Headers from other producers come back as strings. Keys
// starting with "pullkit.type." are refused (broker.ErrInvalidAttribute),
// as are nil values, unsupported types and empty keys. Received
// attributes are read-only, as on every backend of this module: records
// with the same headers (usually the whole output of one producer) share
// one map, and keys and string attributes share memory with the fetched
// record.
//
// # Errors
//
// Errors wrap a broker sentinel and the original franz-go or Kafka error:
// MESSAGE_TOO_LARGE (or a record over Config.MaxMessageBytes, refused
// before sending) is broker.ErrMessageTooLarge; UNKNOWN_TOPIC_OR_PARTITION
// is broker.ErrNotFound (producing never creates topics; the broker may,
// if auto-creation is on); malformed names are broker.ErrInvalidTopic;
// SASL and authorization failures are broker.ErrUnauthenticated (a broker
// that closes the connection during SASL counts as one; the password never
// appears); a cluster that cannot be reached before the constructor's ctx
// ends is broker.ErrUnavailable (the error matches ctx's error too); a
// closed client is broker.ErrClosed.
//
// # Configuration
//
// Config holds what every client needs: seed brokers, client ID, TLS,
// SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), dial timeout, message size
// limit, idempotence, start offset, isolation, fetch sizes, and Opts for
// any franz-go option (applied after this package's, except the options
// the semantics rely on). Constructors check that the cluster answers
// before their ctx ends. Client() exposes the franz-go client of each
// type for inspection.
//
// # Goroutines
//
// Each constructor starts one franz-go client (its goroutines stop at
// Close); a LogConsumer adds its committer goroutine, a QueueConsumer a
// timer for lock renewals. Close stops them all and is idempotent.
//
// # Testing
//
// The package's tests run the brokertest conformance suites (log and
// queue) against an in-process kfake cluster, and again against the
// cluster named by KAFKA_BROKERS (comma-separated) when it is set.
package kafka
