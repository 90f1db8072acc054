// Package pulsar is the Apache Pulsar backend of pullkit/broker, built on
// github.com/apache/pulsar-client-go (v0.19.0). It offers both semantics:
// queues on Shared and KeyShared subscriptions ([Client.Subscribe],
// [QueueConsumer]), logs on Failover and Exclusive subscriptions with
// cumulative acknowledgement per partition ([Client.JoinGroup],
// [LogConsumer]), and a [Publisher].
//
//	c, _ := pulsar.NewClient(pulsar.Config{URL: "pulsar://localhost:6650"})
//	defer c.Close()
//	pub, _ := c.Publisher(pulsar.PublisherConfig{})
//	topic, _ := pub.Topic("orders")
//	sub, _ := c.Subscribe(ctx, "orders", "billing", pulsar.QueueConfig{})
//	_ = topic.Publish(ctx, broker.OutboundMessage{Key: "42", Data: []byte("paid")})
//	msg, _ := sub.NextMessage(ctx)
//	_ = msg.AckContext(ctx)
//
// Package pulsartest is an in-process Pulsar broker that this package's
// tests (and yours) run against through the real client.
//
// # Queues: Shared and KeyShared subscriptions
//
// A [QueueConsumer] is a broker.MessageIterator and
// broker.BatchedMessageIterator over one consumer of a Shared subscription
// (round robin between its consumers) or, with QueueConfig.KeyShared, a
// KeyShared one (one key at a time to one consumer). A new subscription
// starts at the latest message (QueueConfig.InitialPosition).
//
//   - Ack acknowledges the message individually (batch-index acknowledgement
//     is on, so acking one message of a batch entry never acks or redelivers
//     the others). Acknowledgements go with response (the client's
//     AckWithResponse): a goroutine per consumer, the acker, sends every
//     acknowledgement queued meanwhile in one request and waits for the
//     broker's answer. AckContext and Settle wait for that answer, so a nil
//     error means the broker recorded the ack. Ack returns at once; if the
//     broker refused it, the next NextMessage/NextBatch returns the error
//     once, or Close does.
//   - Nack is the client's NackID: the broker redelivers the message after
//     the consumer's NackRedeliveryDelay, PoisonPolicy.NackDelay, or
//     DefaultNackDelay (100 ms) when that is 0 — the client cannot redeliver
//     without a delay. The client rounds delays down to 256 ms buckets, so
//     a nacked message can come back a little early. The client has one
//     delay per consumer, so a Settlement.Delay is kept here: the nack is
//     held back until the delay passed (a timer per such nack, stopped by
//     Close, whose closing of the consumer redelivers the message anyway).
//     Nacks pass through the acker after the acks made before them.
//   - Reject, with PoisonPolicy.Action PoisonDeadLetter (the default),
//     publishes the message (payload, key, properties, and the reason as
//     property "pullkit-reject-reason") to the dead-letter topic, then acks
//     it; if publishing fails the message is nacked instead and the error
//     reported. With PoisonTerminate, Reject acks (drops) the message.
//   - QueueConfig.AckDeadline is a client-side ack timeout (pulsar-client-go
//     v0.19.0 has none): a message not settled in time is nacked, so the
//     broker redelivers it, and settling it later fails with an error
//     wrapping broker.ErrAlreadySettled; Extend pushes the deadline back.
//     Without AckDeadline (the default) a message stays with its consumer
//     until settled, or until the consumer closes or its connection drops,
//     and Extend returns broker.ErrUnsupported.
//   - Message.ID is "ledgerID:entryID:batchIndex:partition", unique within
//     the topic; Message.Key is the message key; PublishTime is the
//     producer's publish time.
//   - DeliveryCount is the message's redelivery count plus one. The broker
//     increments the redelivery count on nacks and on redeliveries after a
//     consumer closed or disconnected.
//   - PoisonPolicy.MaxDeliveries becomes the client's DLQPolicy: a message
//     delivered MaxDeliveries times is, on its next delivery, published by
//     the client to the dead-letter topic and acked, never handed out. The
//     dead-letter topic is PoisonPolicy.DeadLetterTopic, by default
//     "<topic>-<subscription>-DLQ" (Pulsar's convention). With
//     PoisonTerminate such a message is acked and dropped instead.
//   - Close sends every settlement made before, closes the consumer (the
//     broker redelivers whatever it held: messages handed out unsettled and
//     messages prefetched but never handed out) and never unsubscribes.
//
// # Logs: Failover and Exclusive subscriptions
//
// A [LogConsumer] is a broker.RecordIterator and broker.BatchedIterator over
// a Failover subscription (LogConfig.Exclusive: Exclusive), starting at the
// earliest record when the subscription is new. On a partitioned topic the
// client runs one consumer per partition; records of each partition arrive
// in order.
//
//   - Record.Ack commits cumulatively: the acker sends one cumulative
//     acknowledgement (with response) per partition for the highest offset
//     acked meanwhile, never one below what the broker already confirmed, so
//     the committed position never moves backwards. AckContext waits for the
//     broker's answer. Acking record N commits every earlier record of its
//     partition: ack only what was processed in order, or use a record
//     receiver from package adapters, which commits a contiguous watermark.
//   - Record.Offset packs the message id: ledgerID<<32 | entryID<<12 |
//     batchIndex (see [Offset]); it grows with the id within a partition,
//     with gaps. A record whose id does not fit (entry id 2^20 or more
//     within a ledger, batch index 4096 or more, ledger id 2^31 or more)
//     stops the LogConsumer with broker.ErrUnsupported rather than let later
//     commits cover it; see [Offset] for the broker settings that keep ids
//     within the packing. Record.Partition is the partition index (0 for a
//     non-partitioned topic).
//   - Failover: each partition has one active consumer; when another
//     consumer joins or leaves, the broker moves partitions and tells the
//     consumers (ACTIVE_CONSUMER_CHANGE). A LogConsumer implements
//     broker.RevocationNotifier: when it loses a partition its OnRevoke
//     callbacks run, records of that partition it still had prefetched are
//     dropped, and acks of records handed out before fail with
//     broker.ErrPartitionRevoked; the new owner reads from the last commit.
//   - Close sends the acks made before, closes the consumer and never
//     unsubscribes; the next consumer resumes after the last commit.
//
// # Publishing
//
// A [Publisher] keeps one producer per topic, created by the first
// Publisher.Topic for it (a broker round trip) and closed, after a flush, by
// Publisher.Close. Producers batch (the client's default; non-batching
// producers race in pulsar-client-go v0.19.0 when they reconnect).
//
//   - Publish sends one message and waits for the broker's receipt.
//   - BatchPublish hands every message to the producer (SendAsync),
//     flushes, and waits for every receipt; the *broker.BatchError it
//     returns says per message which were refused (or never handed over
//     because ctx ended first) and which are unknown (handed over, but ctx
//     ended before the receipt).
//   - OutboundMessage.Key is the message key (partition key): it picks the
//     partition of a partitioned topic and the consumer of a KeyShared
//     subscription. Use PublisherConfig.KeyBasedBatching for KeyShared
//     subscriptions, so a batch never mixes keys.
//   - Messages larger than PublisherConfig.MaxMessageSize (payload, key and
//     attributes; 5 MiB by default, Pulsar's default) fail with
//     broker.ErrMessageTooLarge before anything is sent.
//
// # Attributes
//
// Pulsar properties are string to string, so attribute values are sent as
// strings and always come back as strings:
//
//	string                    as is
//	[]byte                    standard base64
//	bool                      "true", "false"
//	ints, uints               decimal
//	float32, float64          strconv.FormatFloat(v, 'g', -1, bits)
//	time.Time                 RFC 3339 with nanoseconds, UTC
//	time.Duration             Duration.String ("1.5s")
//
// nil values, other types and empty keys fail with
// broker.ErrInvalidAttribute before anything is sent.
//
// Delivered Attributes are read-only: messages (records) of one NextBatch
// with equal properties share one map, built once; copy it before changing
// it (to republish with an extra attribute, say).
//
// # Names and errors
//
// Topic names are short ("orders", in public/default),
// "tenant/namespace/topic" or "persistent://tenant/namespace/topic" (or
// non-persistent://); anything else, and empty or whitespace-bearing topic
// and subscription names, fail with broker.ErrInvalidTopic. Client errors
// are wrapped with the matching sentinel (ErrInvalidTopic, ErrNotFound,
// ErrUnauthenticated, ErrUnavailable, ErrMessageTooLarge, ErrClosed,
// ErrInvalidOption) while staying matchable as the client's *pulsar.Error.
// Tokens and OAuth2 secrets never appear in errors.
//
// # Batch-index acknowledgement
//
// Both consumers acknowledge with the client's EnableBatchIndexAcknowledgment,
// so that acking one message of a batch entry acks just that message, and
// a cumulative ack in the middle of an entry commits just the records up to
// it. The broker must support it too: set acknowledgmentAtBatchIndexLevelEnabled
// on clusters where it is off. Otherwise the broker takes an ack of one
// message of an entry for the whole entry, and its other messages would be
// lost; with such a cluster, turn the option off in the ConsumerOptions
// hook (the client then acks an entry only once all its messages were
// acked, and a restart replays a partly committed entry).
//
// # Options
//
// [Config] holds the service URL, TLS (trusted CAs, insecure mode for
// tests, host name validation, or a tls.Config), authentication (a token,
// OAuth2 client credentials, or any pulsar.Authentication), timeouts, and a
// hook that sees the final pulsar.ClientOptions. [QueueConfig], [LogConfig]
// and [PublisherConfig] have hooks for pulsar.ConsumerOptions and
// pulsar.ProducerOptions too. Creating a client or consumer never
// unsubscribes or deletes anything.
//
// Creating a producer (Publisher.Topic) and subscribing block until the
// broker answers, at most Config.OperationTimeout; Subscribe and JoinGroup
// also return when their ctx ends (a consumer the broker creates after that
// is closed at once).
//
// # Goroutines
//
// Besides the client's own goroutines, each QueueConsumer and LogConsumer
// runs one acker goroutine, and a QueueConsumer with an AckDeadline one
// more that checks the deadlines; Close stops both. Client.Close closes
// everything made from the client that is still open. pulsar-client-go
// leaves some goroutines of its own running for a while after Close (a
// producer's send-timeout timer, reconnection attempts to a broker that went
// away); see this package's tests for the list.
//
// # Testing
//
// The tests run the brokertest queue suite (Shared) and log suite
// (Failover) against pulsartest through the real client, and again against
// the cluster named by PULSAR_URL when it is set (on a real cluster the log
// suite uses non-partitioned topics, since creating partitioned ones needs
// the admin API).
package pulsar
